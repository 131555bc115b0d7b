import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { visible } from '../src/conform/transcript.js';
import { id13, parseZapReply, ts10 } from '../src/conform/zap-wire.js';

const id = fc.integer({ min: 1, max: 9_999_999_999_999 });
const ts = fc.integer({ min: 0, max: 9_999_999_999 });
const data = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !/[\r\n]/.test(s));
const serverFrame = fc.oneof(
  id.map((x) => `02${id13(x)}`),
  fc.tuple(id, id, ts, data).map(([a, b, t, d]) => `06${id13(a)}${id13(b)}${ts10(t)}${d}`),
  fc.tuple(fc.constantFrom('07', '09'), id, ts).map(([code, a, t]) => `${code}${id13(a)}${ts10(t)}`),
  fc
    .tuple(id, ts, fc.array(id, { minLength: 1, maxLength: 8 }))
    .map(([g, t, members]) => `11${id13(g)}${ts10(t)}${members.map(id13).join('')}`),
);

/** Feeds the bytes in the given pieces, settling only at the very end, as a quiet socket would. */
function parseAll(bytes: Buffer, cuts: number[]): string[] {
  const frames: string[] = [];
  let buffer = Buffer.alloc(0);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    buffer = Buffer.concat([buffer, bytes.subarray(from, to)]);
    from = to;
    const settled = to === bytes.length;
    for (let parsed = parseZapReply(buffer, settled); parsed; parsed = parseZapReply(buffer, settled)) {
      frames.push(parsed.value.raw);
      buffer = buffer.subarray(parsed.length);
    }
  }
  return frames;
}

const anyAsciiOrAccent = fc.oneof(
  fc.integer({ min: 0, max: 127 }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('ç', 'ã', '☕', '\u{1F642}'),
);

describe('conform wire helpers', () => {
  it('reads zap replies with an LF after each, however TCP cuts them', () => {
    fc.assert(
      fc.property(
        fc.array(serverFrame, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, cuts) => {
          const bytes = Buffer.from(frames.map((f) => `${f}\n`).join(''), 'utf8');
          expect(parseAll(bytes, cuts)).toEqual(frames);
        },
      ),
    );
  });

  it('reads fixed-width replies sent back to back with no LF', () => {
    const fixed = fc.oneof(
      id.map((x) => `02${id13(x)}`),
      fc.tuple(fc.constantFrom('07', '09'), id, ts).map(([code, a, t]) => `${code}${id13(a)}${ts10(t)}`),
    );
    fc.assert(
      fc.property(
        fc.array(fixed, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, cuts) => {
          expect(parseAll(Buffer.from(frames.join(''), 'latin1'), cuts)).toEqual(frames);
        },
      ),
    );
  });

  it('makes LF, CR, NUL and other controls visible, and keeps every other character', () => {
    expect(visible('a\n\r\0\t\\b\u0007ç☕')).toBe('a\\n\\r\\0\\t\\\\b\\x07ç☕');
    fc.assert(
      fc.property(fc.string({ unit: anyAsciiOrAccent, maxLength: 64 }), (text) => {
        const shown = visible(text);
        return (
          !/[^\x20-\x7e\u0080-\uffff]/.test(shown) &&
          shown.replace(/\\(x[0-9a-f]{2}|.)/g, '') === text.replace(/[^\x20-\x7e\u0080-\uffff]|\\/g, '')
        );
      }),
    );
  });
});

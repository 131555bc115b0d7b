import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/client/idle-lines.js';
import { ZapReader, wrapped05, type ZapReading } from '../src/client/zap-reader.js';
import { encodeZap, zapFrameText, type ZapFrame } from '../src/dialects/zap/codec.js';
import { splitAt } from './helpers/chunks.js';

const id = fc.integer({ min: 0, max: 9_999_999_999_999 });
/**
 * Ids as servers make them (13 digits, no leading zero). With no delimiter at all, an 11 member
 * id that begins like a frame code ("11…") could be read as the next frame; those are left out.
 */
const madeId = fc.integer({ min: 1_200_000_000_000, max: 9_999_999_999_999 });
const ts = fc.integer({ min: 0, max: 9_999_999_999 });
/** Text as people type it, digits and all; no CR/LF, no trailing padding. */
const anyData = fc
  .string({ unit: fc.constantFrom('a', 'ç', '🎉', ' ', '0', '7', '\\', '#'), maxLength: 218 })
  .filter((s) => !s.endsWith(' '));
/** Text with no digits: with no delimiter, only digits after text can be mistaken for a frame. */
const wordData = fc
  .string({ unit: fc.constantFrom('a', 'ç', '🎉', ' ', '\\', '#'), minLength: 1, maxLength: 218 })
  .filter((s) => !s.endsWith(' ') && !s.startsWith(' '));

const receipt = (ids: fc.Arbitrary<number>): fc.Arbitrary<ZapFrame> =>
  fc.record({ code: fc.constantFrom('07' as const, '09' as const), dst: ids, ts });
const fixedFrame: fc.Arbitrary<ZapFrame> = fc.oneof(
  fc.record({ code: fc.constant('02' as const), id }),
  receipt(id),
);
/** What a server sends; 02 only ever answers 01, so it is left out where frames run on undelimited. */
const serverFrame = (data: fc.Arbitrary<string>, ids = id, first = fixedFrame): fc.Arbitrary<ZapFrame> =>
  fc.oneof(
    first,
    fc.record({ code: fc.constantFrom('05' as const, '06' as const), src: ids, dst: ids, ts, data }),
    fc.record({
      code: fc.constant('11' as const),
      id: ids,
      ts,
      members: fc.array(ids, { minLength: 1, maxLength: 8 }),
    }),
  );

function read(chunks: Buffer[], flushAfter: (index: number) => boolean = () => false): ZapReading[] {
  const reader = new ZapReader();
  const out: ZapReading[] = [];
  chunks.forEach((chunk, index) => {
    out.push(...reader.push(chunk));
    if (flushAfter(index)) out.push(...reader.flush());
  });
  out.push(...reader.flush());
  return out;
}
const framesOf = (readings: ZapReading[]) => readings.flatMap((r) => (r.ok ? [r.frame] : []));
const skipsOf = (readings: ZapReading[]) => readings.filter((r) => !r.ok);

describe('zap client reader', () => {
  it('property: LF-ended frames come out whole and in order, however TCP cuts them', () => {
    fc.assert(
      fc.property(
        fixedFrame,
        fc.array(serverFrame(anyData), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (first, rest, cuts) => {
          const input = [first, ...rest];
          const readings = read(splitAt(Buffer.concat(input.map(encodeZap)), cuts));
          expect(skipsOf(readings)).toEqual([]);
          expect(framesOf(readings)).toEqual(input);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: frames with no delimiter at all come out the same, however TCP cuts them', () => {
    fc.assert(
      fc.property(
        fc.array(serverFrame(wordData, madeId, receipt(madeId)), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (input, cuts) => {
          const wire = Buffer.from(input.map(zapFrameText).join(''), 'utf8');
          const readings = read(splitAt(wire, cuts));
          expect(skipsOf(readings)).toEqual([]);
          expect(framesOf(readings)).toEqual(input);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: after a garbage line, every frame that follows is read', () => {
    fc.assert(
      fc.property(
        fc.array(serverFrame(anyData), { minLength: 1, maxLength: 4 }),
        fc
          .uint8Array({ minLength: 1, maxLength: 120 })
          .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a))),
        fc.array(serverFrame(anyData), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (before, garbage, after, cuts) => {
          const wire = Buffer.concat([
            ...before.map(encodeZap),
            garbage,
            Buffer.from('\n'),
            ...after.map(encodeZap),
          ]);
          const frames = framesOf(read(splitAt(wire, cuts)));
          // Whatever the garbage parsed as, the frames after its LF are all there, last and in order.
          expect(frames.slice(-after.length)).toEqual(after);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: arbitrary bytes, cut and flushed anywhere, never throw out of the reader', () => {
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc
        .string({ unit: fc.constantFrom('0', '1', '5', '6', '7', '9', 'G', '\n', '\r', 'ç'), maxLength: 200 })
        .map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(
        fc.array(noise, { maxLength: 6 }),
        fc.array(fc.boolean(), { maxLength: 6 }),
        (chunks, flushes) => {
          const readings = read(
            chunks.map((chunk) => Buffer.from(chunk)),
            (index) => flushes[index] ?? false,
          );
          for (const reading of readings) {
            if (reading.ok) expect(reading.raw.length).toBeGreaterThan(0);
            else expect(reading.skipped.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('skips a frame with a G group id whole, and an undefined code up to the next known frame', () => {
    const me = '1700000000099';
    const other = '1700000000001';
    const t = '1733000000';
    const wire = `11G123456789012${t}${other}${me}07${other}${t}12${other}${t}indefinido09${other}${t}`;
    const readings = read([Buffer.from(wire)]);
    expect(readings.map((r) => (r.ok ? r.frame.code : `skip ${r.skipped.toString()}`))).toEqual([
      `skip 11G123456789012${t}${other}${me}`,
      '07',
      `skip 12${other}${t}indefinido`,
      '09',
    ]);
  });

  it('finds the 05 inside a 06, in either of the two ways servers wrap it', () => {
    const inner = `05${'1700000000001'}${'1700000000099'}${'1733000000'}olá`;
    const known = (dst: number) => dst === 1_700_000_000_099;
    for (const wire of [`06${inner}`, `06${inner.slice(2, 38)}${inner}`]) {
      const [reading] = read([Buffer.from(wire)]);
      if (!reading?.ok || (reading.frame.code !== '06' && reading.frame.code !== '05')) throw new Error(wire);
      expect(wrapped05(reading.frame, reading.raw, known)).toEqual({
        code: '05',
        src: 1_700_000_000_001,
        dst: 1_700_000_000_099,
        ts: 1_733_000_000,
        data: 'olá',
      });
    }
    const plain = read([Buffer.from(`06${inner.slice(2)}`)])[0]!;
    if (!plain.ok || plain.frame.code !== '06') throw new Error('plain 06');
    expect(wrapped05(plain.frame, plain.raw, known)).toBeNull();
  });
});

describe('line splitter', () => {
  const text = fc.string({ unit: fc.constantFrom('a', 'ç', '🎉', ' ', '\n', '\r\n', 'f'), maxLength: 120 });

  it('property: LF and CRLF lines come out the same however the bytes are cut', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 10 }), (input, cuts) => {
        const splitter = new LineSplitter();
        const lines = splitAt(Buffer.from(input), cuts).flatMap((chunk) => splitter.push(chunk));
        lines.push(...splitter.flush(true));
        const expected = input.split(/\r?\n/);
        if (expected.at(-1) === '') expected.pop();
        expect(lines).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: an idle flush anywhere loses no byte and never cuts a character', () => {
    fc.assert(
      fc.property(
        text,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.boolean(), { maxLength: 11 }),
        (input, cuts, flushes) => {
          const splitter = new LineSplitter();
          const lines: string[] = [];
          splitAt(Buffer.from(input), cuts).forEach((chunk, index) => {
            lines.push(...splitter.push(chunk));
            if (flushes[index]) lines.push(...splitter.flush());
          });
          lines.push(...splitter.flush(true));
          expect(lines.join('')).toBe(input.replace(/\r?\n/g, ''));
          expect(lines.join('')).not.toContain('\ufffd');
        },
      ),
      { numRuns: 1000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MensageiroError } from '../src/core/errors.js';
import {
  ZapDecoder,
  encodeZap,
  zapDataChunks,
  type ZapFrame,
  type ZapResult,
} from '../src/dialects/zap/codec.js';
import { splitAt } from './helpers/chunks.js';

const frames = (results: ZapResult[]) => results.map((r) => (r.ok ? r.frame : r.error.code));
const id = fc.integer({ min: 0, max: 9_999_999_999_999 });
const ts = fc.integer({ min: 0, max: 9_999_999_999 });
// Data as clients send it: no CR/LF, and no trailing spaces (those are padding and get stripped).
const data = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom('a', 'ç', '🎉', ' ', '0', '\\'),
      fc.string({ unit: 'grapheme', maxLength: 1 }),
    ),
    maxLength: 218,
  })
  .filter((s) => !/[\r\n]/.test(s) && !s.endsWith(' ') && [...s].length <= 218);

const frameArb: fc.Arbitrary<ZapFrame> = fc.oneof(
  fc.constant({ code: '01' } as ZapFrame),
  fc.record({ code: fc.constantFrom('02' as const, '03' as const), id }),
  fc.record({ code: fc.constantFrom('05' as const, '06' as const), src: id, dst: id, ts, data }),
  fc.record({ code: fc.constantFrom('07' as const, '09' as const), dst: id, ts }),
  fc.record({ code: fc.constant('08' as const), src: id, ts }),
  fc.record({
    code: fc.constant('10' as const),
    creator: id,
    ts,
    members: fc.array(id, { minLength: 1, maxLength: 7 }),
  }),
  fc.record({
    code: fc.constant('11' as const),
    id,
    ts,
    members: fc.array(id, { minLength: 1, maxLength: 8 }),
  }),
);

describe('zap codec', () => {
  it('writes the seed fixed widths, zero-padded, with an LF', () => {
    expect(encodeZap({ code: '02', id: 42 }).toString()).toBe('020000000000042\n');
    expect(encodeZap({ code: '06', src: 1, dst: 2, ts: 1_700_000_000, data: 'oi' }).toString()).toBe(
      '06000000000000100000000000021700000000oi\n',
    );
    expect(encodeZap({ code: '07', dst: 3, ts: 5 }).toString()).toBe('0700000000000030000000005\n');
    expect(encodeZap({ code: '11', id: 9, ts: 1, members: [1, 2] }).toString()).toBe(
      '11000000000000900000000010000000000001' + '0000000000002\n',
    );
    expect(() => encodeZap({ code: '06', src: 1, dst: 2, ts: 1, data: 'a\nb' })).toThrow(MensageiroError);
    expect(() => encodeZap({ code: '06', src: 1, dst: 2, ts: 1, data: 'x'.repeat(219) })).toThrow(
      MensageiroError,
    );
  });

  it('frames by LF, by fixed width, and by the idle flush', () => {
    const decoder = new ZapDecoder();
    expect(frames(decoder.push(Buffer.from('01')))).toEqual([{ code: '01' }]);
    expect(frames(decoder.push(Buffer.from('030000000000007\r\n0300000000000')))).toEqual([
      { code: '03', id: 7 },
    ]);
    expect(frames(decoder.push(Buffer.from('08')))).toEqual([{ code: '03', id: 8 }]);
    const send = '05' + '0000000000001' + '0000000000002' + '1700000000' + 'olá';
    expect(frames(decoder.push(Buffer.from(send)))).toEqual([]);
    expect(decoder.pending).toBe(true);
    expect(frames(decoder.flush())).toEqual([{ code: '05', src: 1, dst: 2, ts: 1_700_000_000, data: 'olá' }]);
    const padded = '05' + '0000000000001' + '0000000000002' + '1700000000' + 'hi'.padEnd(218, ' ');
    expect(frames(decoder.push(Buffer.from(padded + '01')))).toEqual([
      { code: '05', src: 1, dst: 2, ts: 1_700_000_000, data: 'hi' },
      { code: '01' },
    ]);
    const group = '10' + '0000000000001' + '1700000000' + '0000000000002' + '0000000000003';
    expect(frames(decoder.push(Buffer.from(group)))).toEqual([]);
    expect(frames(decoder.flush())).toEqual([{ code: '10', creator: 1, ts: 1_700_000_000, members: [2, 3] }]);
  });

  it('counts 218 characters, not bytes', () => {
    const text = 'ç🎉'.repeat(109);
    const wire = encodeZap({ code: '05', src: 1, dst: 2, ts: 3, data: text });
    const results = new ZapDecoder().push(wire.subarray(0, wire.length - 1));
    expect(frames(results)).toEqual([{ code: '05', src: 1, dst: 2, ts: 3, data: text }]);
  });

  it('reports bad input as fatal MensageiroErrors', () => {
    const cases = ['99', '03abc', '05' + '1'.repeat(12) + 'x', '10' + '1'.repeat(23) + '123\n'];
    for (const input of cases) {
      const [result] = new ZapDecoder().push(Buffer.from(input));
      expect(result).toMatchObject({ ok: false, error: { code: 'bad_frame', fatal: true } });
    }
    const invalid = Buffer.concat([Buffer.from('05' + '1'.repeat(36)), Buffer.from([0xff, 0x0a])]);
    expect(new ZapDecoder().push(invalid)[0]).toMatchObject({ ok: false, error: { code: 'bad_utf8' } });
  });

  it('cuts long or multi-line text into valid 06 data', () => {
    expect(zapDataChunks('a\nb')).toEqual(['a\\nb']);
    const chunks = zapDataChunks('é'.repeat(500));
    expect(chunks.map((c) => [...c].length)).toEqual([218, 218, 64]);
  });

  it('property: decode(encode(frames)) is the identity, LF-framed and however chunked', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (input, cuts) => {
          const wire = Buffer.concat(input.map(encodeZap));
          const decoder = new ZapDecoder();
          const out: ZapResult[] = splitAt(wire, cuts).flatMap((chunk) => decoder.push(chunk));
          expect(frames(out)).toEqual(input);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: arbitrary bytes yield frames or MensageiroErrors, never a throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 6 }),
        fc.boolean(),
        (chunks, flush) => {
          const decoder = new ZapDecoder();
          const out: ZapResult[] = [];
          for (const chunk of chunks) out.push(...decoder.push(Buffer.from(chunk)));
          if (flush) out.push(...decoder.flush());
          for (const result of out) if (!result.ok) expect(result.error).toBeInstanceOf(MensageiroError);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: digit-heavy noise (the likely garbage) never throws either', () => {
    const digitsAndCodes = fc.string({
      unit: fc.constantFrom('0', '1', '5', '9', '\n', '\r', 'ç', ' '),
      maxLength: 300,
    });
    fc.assert(
      fc.property(digitsAndCodes, (text) => {
        const decoder = new ZapDecoder();
        for (const result of [...decoder.push(Buffer.from(text)), ...decoder.flush()]) {
          if (!result.ok) expect(result.error).toBeInstanceOf(MensageiroError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

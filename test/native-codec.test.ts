import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MensageiroError } from '../src/core/errors.js';
import { NativeDecoder, encodeNative, type NativeFrame } from '../src/dialects/native/codec.js';
import { splitAt } from './helpers/chunks.js';

const decodeAll = (input: string | Buffer, maxFrame?: number): NativeFrame[] =>
  new NativeDecoder(maxFrame).push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);

const codes = (frames: NativeFrame[]) => frames.map((f) => (f.ok ? 'ok' : f.error.code));

describe('native codec: table', () => {
  const cases: Array<[string, string | Buffer, string[]]> = [
    ['the seed-000 example, with its true byte length', '21,{"type":"out","id":7}', ['ok']],
    ['two frames back to back', '2,{}2,{}', ['ok', 'ok']],
    ['whitespace between frames is tolerated', '2,{}\r\n 2,{}', ['ok', 'ok']],
    ['a non-digit length is fatal', 'x2,{}2,{}', ['bad_frame']],
    ['a missing length is fatal', ',{}', ['bad_frame']],
    ['a length over the limit is fatal', '99999999,{}', ['too_large']],
    ['invalid JSON is reported and the stream goes on', '3,{x}2,{}', ['bad_json', 'ok']],
    ['a JSON array is not a frame', '2,[]2,{}', ['bad_json', 'ok']],
    ['an empty body is bad JSON', '0,2,{}', ['bad_json', 'ok']],
    [
      'invalid UTF-8 is reported and the stream goes on',
      Buffer.from([0x33, 0x2c, 0x22, 0xff, 0x22, 0x32, 0x2c, 0x7b, 0x7d]),
      ['bad_utf8', 'ok'],
    ],
    ['a partial frame waits', '10,{"a"', []],
    [
      'compressed garbage is bad_deflate',
      Buffer.concat([Buffer.from('z3,'), Buffer.from([1, 2, 3])]),
      ['bad_deflate'],
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(codes(decodeAll(input))).toEqual(expected);
    });
  }

  it('counts the length in bytes, not characters', () => {
    const [frame] = decodeAll(encodeNative({ text: 'ação 🎉' }));
    expect(frame).toEqual({ ok: true, compressed: false, message: { text: 'ação 🎉' } });
    expect(encodeNative({ t: 'ç' }).toString('utf8')).toBe('10,{"t":"ç"}');
  });

  it('decodes z frames of raw DEFLATE and refuses a bomb over the limit', () => {
    const json = JSON.stringify({ type: 'msg', text: 'a'.repeat(5000) });
    const packed = zlib.deflateRawSync(json);
    const [frame] = decodeAll(Buffer.concat([Buffer.from(`z${packed.length},`), packed]));
    expect(frame).toMatchObject({ ok: true, compressed: true, message: { type: 'msg' } });
    const bomb = zlib.deflateRawSync(Buffer.alloc(4096, 0x20));
    const [refused] = decodeAll(Buffer.concat([Buffer.from(`z${bomb.length},`), bomb]), 1024);
    expect(refused).toMatchObject({ ok: false, error: { code: 'too_large' } });
  });

  it('stops decoding after a fatal error', () => {
    const decoder = new NativeDecoder();
    expect(codes(decoder.push(Buffer.from('abc')))).toEqual(['bad_frame']);
    expect(decoder.failed).toBe(true);
    expect(decoder.push(Buffer.from('2,{}'))).toEqual([]);
  });
});

const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });

describe('native codec: properties', () => {
  it('decode(encode(x)) is x, compressed or not, however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(jsonObject, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (objects, compress, cuts) => {
          const wire = Buffer.concat(objects.map((o) => encodeNative(o, compress)));
          const decoder = new NativeDecoder();
          const frames: NativeFrame[] = splitAt(wire, cuts).flatMap((chunk) => decoder.push(chunk));
          // JSON drops -0 and undefined the same way on both sides.
          expect(frames).toEqual(
            objects.map((o) => ({ ok: true, compressed: compress, message: JSON.parse(JSON.stringify(o)) })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes yield frames or MensageiroErrors, never a throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const decoder = new NativeDecoder(4096);
        for (const chunk of chunks) {
          for (const frame of decoder.push(Buffer.from(chunk))) {
            if (!frame.ok) expect(frame.error).toBeInstanceOf(MensageiroError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutations of valid frames never throw', () => {
    fc.assert(
      fc.property(jsonObject, fc.nat(), fc.integer({ min: 0, max: 255 }), (object, position, byte) => {
        const wire = Buffer.from(encodeNative(object));
        wire[position % wire.length] = byte;
        for (const frame of new NativeDecoder().push(wire)) {
          if (!frame.ok) expect(frame.error).toBeInstanceOf(MensageiroError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameBuffer } from '../src/dialects/frame-buffer.js';

// The one byte accumulator of every codec, against a model: the plain concatenation of what
// was pushed, consumed from the front.

const op = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({
    kind: fc.constant('push text' as const),
    text: fc.string({ maxLength: 20, unit: 'grapheme' }),
  }),
  fc.record({ kind: fc.constantFrom('take', 'takeText', 'skip', 'peek'), count: fc.nat({ max: 60 }) }),
  fc.record({ kind: fc.constant('byteAt' as const), index: fc.nat({ max: 60 }) }),
  fc.record({ kind: fc.constant('indexOf' as const), byte: fc.nat({ max: 255 }), from: fc.nat({ max: 60 }) }),
);

describe('FrameBuffer', () => {
  it('reads, peeks and consumes exactly what was pushed, however it was chunked', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const buffer = new FrameBuffer();
        let model = Buffer.alloc(0);
        for (const o of ops) {
          if (o.kind === 'push' || o.kind === 'push text') {
            const chunk = o.kind === 'push' ? Buffer.from(o.bytes) : Buffer.from(o.text);
            buffer.push(chunk);
            model = Buffer.concat([model, chunk]);
          } else if (o.kind === 'byteAt') {
            expect(buffer.byteAt(o.index)).toBe(o.index < model.length ? model[o.index] : -1);
          } else if (o.kind === 'indexOf') {
            const at = model.indexOf(o.byte, o.from);
            expect(buffer.indexOf(o.byte, o.from)).toBe(o.from >= model.length ? -1 : at);
          } else {
            const expected = model.subarray(0, o.count);
            if (o.kind === 'peek') expect(Buffer.from(buffer.peek(o.count))).toEqual(expected);
            else if (o.kind === 'take') expect(Buffer.from(buffer.take(o.count))).toEqual(expected);
            else if (o.kind === 'takeText') expect(buffer.takeText(o.count)).toBe(expected.toString('utf8'));
            else buffer.skip(o.count);
            if (o.kind !== 'peek') model = model.subarray(expected.length);
          }
          expect(buffer.length).toBe(model.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});

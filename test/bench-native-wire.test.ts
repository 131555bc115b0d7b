import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NativeWireReader, readWireFrame } from '../src/bench/native-wire.js';
import { NativeDecoder, encodeNativeJson } from '../src/dialects/native/codec.js';
import { sentJson, sizedItemJson } from '../src/dialects/native/frames.js';
import { splitAt } from './helpers/chunks.js';
import { accountId as id, groupItem, msgItem, receiptItem, seq, text } from './helpers/inbox-items.js';

// The bench's own native reader, checked against the product's NativeDecoder on the frames the
// server writes.

const item = fc.oneof(msgItem, receiptItem, groupItem);

const frameJson = fc.oneof(
  item.map((i) => sizedItemJson(i).json),
  fc.record({ mid: id, to: id, at: id, ts: id, duplicate: fc.boolean() }).map(sentJson),
  fc
    .record({ type: fc.constantFrom('welcome', 'group.created', 'error'), text, seq: fc.option(seq) })
    .map((f) => JSON.stringify(f)),
);

describe('bench native wire', () => {
  it('reads what the server writes as NativeDecoder does, however the stream is cut', () => {
    let fast = 0;
    fc.assert(
      fc.property(
        fc.array(frameJson, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (jsons, cuts) => {
          const wire = Buffer.concat(jsons.map((json) => encodeNativeJson(json)));
          const decoder = new NativeDecoder();
          const expected = decoder.push(wire).map((result) => (result.ok ? result.message : null));
          const reader = new NativeWireReader();
          const read = splitAt(wire, cuts).flatMap((chunk) => {
            const frames: ReturnType<typeof readWireFrame>[] = [];
            reader.push(chunk, (json) => frames.push(readWireFrame(json)));
            return frames;
          });
          expect(read).toHaveLength(expected.length);
          read.forEach((frame, i) => {
            const reference = expected[i]!;
            expect(frame.type).toBe(reference.type);
            if (frame.frame === undefined) fast++;
            else expect(frame.frame).toEqual(reference);
            if (reference.type === 'msg') expect(frame.text).toBe(reference.text);
            if (reference.type !== 'sent') expect(frame.seq).toBe(reference.seq ?? undefined);
          });
        },
      ),
      { numRuns: 300 },
    );
    // Most msg, receipt and sent frames took the fast path, not JSON.parse.
    expect(fast).toBeGreaterThan(300);
  });

  it('refuses a stream that is not native framing', () => {
    const reader = new NativeWireReader();
    expect(() => reader.push(Buffer.from('z12,abc'), () => {})).toThrow(
      /starts with its decimal byte length and a comma/,
    );
  });
});

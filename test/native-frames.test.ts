import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NativeDecoder, nativeFrameText } from '../src/dialects/native/codec.js';
import { itemFrame, sentJson, sizedItemJson, type SentAck } from '../src/dialects/native/frames.js';
import {
  accountId as id,
  groupItem,
  msgItem,
  receiptItem,
  sentItem,
  seq,
  text,
} from './helpers/inbox-items.js';

describe('native item frames', () => {
  it('writes exactly the JSON of the frame object, for every kind of item', () => {
    fc.assert(
      fc.property(fc.oneof(msgItem, receiptItem, groupItem, sentItem), (item) => {
        const { json, bytes } = sizedItemJson(item);
        expect(json).toBe(JSON.stringify(itemFrame(item)));
        // The size the frame's header gives, counted without encoding the whole JSON.
        expect(bytes).toBe(Buffer.byteLength(json, 'utf8'));
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the send ack exactly as JSON.stringify would, with or without the client id', () => {
    const ack = fc.record(
      {
        cid: fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        mid: seq,
        to: id,
        at: seq,
        ts: seq,
        duplicate: fc.boolean(),
      },
      { requiredKeys: ['mid', 'to', 'at', 'ts', 'duplicate'] },
    );
    fc.assert(
      fc.property(ack, (sent: SentAck) => {
        const { cid, mid, to, at, ts, duplicate } = sent;
        const frame = { type: 'sent', ...(cid === undefined ? {} : { cid }), mid, to, at, ts, duplicate };
        expect(sentJson(sent)).toBe(JSON.stringify(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it('frames text with its UTF-8 byte length, and the decoder reads the same object back', () => {
    fc.assert(
      fc.property(msgItem, (item) => {
        const { json, bytes: size } = sizedItemJson(item);
        const frame = nativeFrameText(json, size);
        const bytes = Buffer.from(frame.text, 'utf8');
        expect(frame.bytes).toBe(bytes.length);
        const [decoded] = new NativeDecoder().push(bytes);
        expect(decoded).toEqual({
          ok: true,
          message: JSON.parse(JSON.stringify(itemFrame(item))),
          compressed: false,
        });
      }),
      { numRuns: 1000 },
    );
  });
});

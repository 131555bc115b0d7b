import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAYLOAD_BYTES, makePayload, parsePayload } from '../src/bench/payload.js';

// The load generator counts loss, duplicates and latency from these payloads alone.
describe('bench payloads', () => {
  it('are 64 ASCII bytes that give back their sender, sequence and send time', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.nat({ max: 100_000_000 }), (sender, seq) => {
        const before = Math.round(performance.now() * 1000);
        const payload = makePayload(sender, seq);
        const after = Math.round(performance.now() * 1000);
        expect(Buffer.byteLength(payload)).toBe(PAYLOAD_BYTES);
        const parsed = parsePayload(payload);
        expect(parsed.sender).toBe(sender);
        expect(parsed.seq).toBe(seq);
        expect(parsed.sentAt).toBeGreaterThanOrEqual(before);
        expect(parsed.sentAt).toBeLessThanOrEqual(after);
      }),
    );
  });
});

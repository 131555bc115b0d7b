import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMensageiroError } from '../src/core/errors.js';
import type { Receipt } from '../src/core/types.js';
import { packReceipt, unpackReceipt } from '../src/store/sqlite/receipt-body.js';

const receipt = fc.record<Receipt>({
  status: fc.constantFrom('delivered', 'read'),
  by: fc.integer({ min: 1, max: 10 ** 13 - 1 }),
  conv: fc.integer({ min: 1, max: 10 ** 13 - 1 }),
  mid: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  ts: fc.maxSafeNat(),
  at: fc.maxSafeNat(),
});

describe('stored receipt bodies', () => {
  it('round-trip every receipt exactly, with conv equal to by or not', () => {
    fc.assert(
      fc.property(receipt, fc.boolean(), (r, sameConv) => {
        const original = sameConv ? { ...r, conv: r.by } : r;
        const body = packReceipt(original);
        expect(body.length).toBe(original.conv === original.by ? 25 : 33);
        expect(unpackReceipt(original.mid, body)).toEqual(original);
      }),
    );
  });

  it('still read the JSON bodies of files written before the packed format', () => {
    const old: Receipt = { status: 'read', by: 7, conv: 9, mid: 3, ts: 1_763_770_000, at: 1_763_770_000_123 };
    expect(unpackReceipt(3, JSON.stringify(old))).toEqual(old);
  });

  it('report a corrupt body as an error, never as a made-up receipt', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const body = Buffer.from(bytes);
        const flagged = (body[0] ?? 0) & 0x80;
        const valid = [1, 2].includes((body[0] ?? 0) & 0x7f) && body.length === (flagged ? 33 : 25);
        try {
          const r = unpackReceipt(1, body);
          expect(valid).toBe(true);
          expect(['delivered', 'read']).toContain(r.status);
        } catch (error) {
          expect(valid).toBe(false);
          expect(isMensageiroError(error)).toBe(true);
        }
      }),
    );
  });
});

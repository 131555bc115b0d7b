import { MensageiroError } from '../../core/errors.js';
import type { Receipt } from '../../core/types.js';

/**
 * How a receipt is kept in its inbox row (the `mid` has a column of its own). Receipts are as
 * many rows as messages, and their JSON bodies (about 110 bytes) made the inbox tree twice as
 * large: the bench ran 25% faster with no body at all. This packs one into 25 bytes (33 for a
 * group's), with every number as a float64, which holds any safe integer exactly:
 *
 *   byte 0      status (1 delivered, 2 read), plus 0x80 when `conv` differs from `by`
 *   bytes 1-24  by, ts, at
 *   bytes 25-32 conv, only with the 0x80 flag
 *
 * Files written before this format hold JSON text, which `unpackReceipt` still reads.
 */

/** A status as stored: byte 0 of a body here, and `receipt_marks.status` in the store. */
export const RECEIPT_STATUS_CODES = { delivered: 1, read: 2 } as const;
const OWN_CONV = 0x80;

export function packReceipt(receipt: Receipt): Buffer {
  const ownConv = receipt.conv !== receipt.by;
  const body = Buffer.allocUnsafe(ownConv ? 33 : 25);
  body[0] = RECEIPT_STATUS_CODES[receipt.status] | (ownConv ? OWN_CONV : 0);
  body.writeDoubleBE(receipt.by, 1);
  body.writeDoubleBE(receipt.ts, 9);
  body.writeDoubleBE(receipt.at, 17);
  if (ownConv) body.writeDoubleBE(receipt.conv, 25);
  return body;
}

export function unpackReceipt(mid: number, body: Buffer | string): Receipt {
  if (typeof body === 'string') return JSON.parse(body) as Receipt;
  const status = body[0]! & ~OWN_CONV;
  const ownConv = (body[0]! & OWN_CONV) !== 0;
  const known = status === RECEIPT_STATUS_CODES.delivered || status === RECEIPT_STATUS_CODES.read;
  if (!known || body.length !== (ownConv ? 33 : 25)) {
    throw new MensageiroError('internal', `corrupt receipt body (${body.length} bytes)`);
  }
  const by = body.readDoubleBE(1);
  return {
    status: status === RECEIPT_STATUS_CODES.delivered ? 'delivered' : 'read',
    by,
    conv: ownConv ? body.readDoubleBE(25) : by,
    mid,
    ts: body.readDoubleBE(9),
    at: body.readDoubleBE(17),
  };
}

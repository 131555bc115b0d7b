/**
 * A 64-byte ASCII payload: send time (integer µs of `performance.now()`), sender, sequence,
 * padding. Built and read without intermediate strings or number formatting beyond the three
 * integers: at the relay's pace the generator spent an eighth of its core here.
 */
export const PAYLOAD_BYTES = 64;

const PADDING = Array.from({ length: PAYLOAD_BYTES + 1 }, (_, n) => 'x'.repeat(n));

export function makePayload(sender: number, seq: number): string {
  const head = `${Math.round(performance.now() * 1000)}:${sender}:${seq}:`;
  return head + PADDING[Math.max(0, PAYLOAD_BYTES - head.length)]!;
}

let cursor = 0;

/** The digits at `cursor`, as a number; leaves `cursor` past the separator after them. */
function readInteger(text: string): number {
  let value = 0;
  for (let code = text.charCodeAt(cursor++); code >= 48 && code <= 57; code = text.charCodeAt(cursor++)) {
    value = value * 10 + (code - 48);
  }
  return value;
}

/** `sentAt` in µs, on the clock of `performance.now()`. */
export function parsePayload(text: string): { sentAt: number; sender: number; seq: number } {
  cursor = 0;
  const sentAt = readInteger(text);
  const sender = readInteger(text);
  return { sentAt, sender, seq: readInteger(text) };
}

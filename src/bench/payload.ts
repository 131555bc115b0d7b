/** A 64-byte ASCII payload: send time (ms, high resolution), sender, sequence, padding. */
export const PAYLOAD_BYTES = 64;

export function makePayload(sender: number, seq: number): string {
  const head = `${performance.now().toFixed(3)}:${sender}:${seq}:`;
  return head.padEnd(PAYLOAD_BYTES, 'x');
}

export function parsePayload(text: string): { sentAt: number; sender: number; seq: number } {
  const first = text.indexOf(':');
  const second = text.indexOf(':', first + 1);
  const third = text.indexOf(':', second + 1);
  return {
    sentAt: Number(text.slice(0, first)),
    sender: Number(text.slice(first + 1, second)),
    seq: Number(text.slice(second + 1, third)),
  };
}

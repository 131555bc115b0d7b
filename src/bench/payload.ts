/** A 64-byte ASCII payload: send time (ms, high resolution), sender, sequence, padding. */
export const PAYLOAD_BYTES = 64;

export function makePayload(sender: number, seq: number): string {
  const head = `${performance.now().toFixed(3)}:${sender}:${seq}:`;
  return head.padEnd(PAYLOAD_BYTES, 'x');
}

export function parsePayload(text: string): { sentAt: number; sender: number; seq: number } {
  const [sentAt, sender, seq] = text.split(':', 3);
  return { sentAt: Number(sentAt), sender: Number(sender), seq: Number(seq) };
}

/**
 * Native frames on the wire while the generator measures, both ways, so a run can report frames
 * per delivery: what a receipt or an ack costs shows there before it shows in CPU.
 */
export const frameCount = { counting: false, toServer: 0, fromServer: 0 };

/** Frames per measured delivery, one decimal each way; null for a protocol that counts none. */
export function framesPerDelivery(delivered: number): { toServer: number; fromServer: number } | null {
  if (delivered === 0 || frameCount.toServer + frameCount.fromServer === 0) return null;
  const per = (n: number) => Math.round((n / delivered) * 100) / 100;
  return { toServer: per(frameCount.toServer), fromServer: per(frameCount.fromServer) };
}

/** The console's note for a run's frames, empty when none were counted. */
export function framesNote(frames: unknown): string {
  if (!frames) return '';
  const { toServer, fromServer } = frames as { toServer: number; fromServer: number };
  return `  frames a delivery: ${toServer} in, ${fromServer} out`;
}

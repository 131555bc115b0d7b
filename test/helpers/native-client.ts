import zlib from 'node:zlib';
import { RawSocket } from './raw-socket.js';

export type Frame = Record<string, unknown>;

/** Frames a JSON object by hand, as a seed-000 client written in Python would. */
export function frame(value: unknown): string {
  const json = JSON.stringify(value);
  return `${Buffer.byteLength(json)},${json}`;
}

/**
 * Splits received bytes into frames with its own small parser (independent of the server's
 * codec), so the tests check the wire, not the code that produced it.
 */
export function parseFrames(bytes: Buffer): Frame[] {
  return parseFramesFrom(bytes, 0).frames;
}

/** Parses complete frames from `start`; returns them and where the next one begins. */
export function parseFramesFrom(bytes: Buffer, start: number): { frames: Frame[]; next: number } {
  const frames: Frame[] = [];
  let at = start;
  while (at < bytes.length) {
    const compressed = bytes[at] === 0x7a;
    const comma = bytes.indexOf(0x2c, at);
    if (comma < 0) break;
    const length = Number(bytes.subarray(compressed ? at + 1 : at, comma).toString('latin1'));
    if (comma + 1 + length > bytes.length) break;
    let body = bytes.subarray(comma + 1, comma + 1 + length);
    if (compressed) body = zlib.inflateRawSync(body);
    frames.push(JSON.parse(body.toString('utf8')) as Frame);
    at = comma + 1 + length;
  }
  return { frames, next: at };
}

export class NativeTestClient {
  private parsed: Frame[] = [];
  private pending = Buffer.alloc(0);
  private chunksSeen = 0;

  private constructor(readonly raw: RawSocket) {}

  static async connect(port: number): Promise<NativeTestClient> {
    return new NativeTestClient(await RawSocket.connect(port));
  }

  /** Every frame received so far; only new bytes are parsed on each call. */
  get frames(): Frame[] {
    const fresh = this.raw.chunks.slice(this.chunksSeen);
    if (fresh.length === 0) return this.parsed;
    this.chunksSeen = this.raw.chunks.length;
    const bytes = Buffer.concat([this.pending, ...fresh]);
    const { frames, next } = parseFramesFrom(bytes, 0);
    for (const frame of frames) this.parsed.push(frame);
    this.pending = bytes.subarray(next);
    return this.parsed;
  }

  send(value: unknown): Promise<void> {
    return this.raw.write(frame(value));
  }

  /** The first frame (from the beginning of the connection) that matches. */
  async waitFor(match: (f: Frame) => boolean, what: string): Promise<Frame> {
    return this.raw.until(() => this.frames.find(match), what);
  }

  /** Waits until `count` frames match, and returns them in order. */
  async waitForCount(match: (f: Frame) => boolean, count: number, what: string): Promise<Frame[]> {
    return this.raw.until(() => {
      const found = this.frames.filter(match);
      return found.length >= count ? found : undefined;
    }, `${count} × ${what}`);
  }

  /** Registers a new account and waits for the welcome. */
  async register(extra: Frame = {}): Promise<Frame> {
    await this.send({ type: 'register', ...extra });
    return this.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'welcome');
  }

  close(): void {
    this.raw.close();
  }
}

export const ofType = (type: string) => (f: Frame) => f.type === type;

import { MensageiroError } from '../core/errors.js';
import { FrameBuffer } from './frame-buffer.js';
import { decodeUtf8 } from './text.js';

export type LineResult = { ok: true; line: string } | { ok: false; error: MensageiroError };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits bytes into UTF-8 lines ended by LF (a CR before it is dropped). A line over the limit
 * or with invalid UTF-8 is reported and skipped; the stream goes on with the next line.
 */
export class LineDecoder {
  private readonly buffer = new FrameBuffer();
  /** Past an over-long line, bytes are dropped until its LF. */
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): LineResult[] {
    this.buffer.push(chunk);
    const results: LineResult[] = [];
    for (;;) {
      const end = this.buffer.indexOf(LF);
      if (end < 0) {
        if (!this.discarding && this.buffer.length > this.maxLineBytes) {
          results.push({
            ok: false,
            error: new MensageiroError('too_large', `lines are limited to ${this.maxLineBytes} bytes`),
          });
          this.discarding = true;
        }
        if (this.discarding) this.buffer.clear();
        return results;
      }
      const raw = this.buffer.take(end + 1);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      const body = raw.subarray(0, raw.length - (raw.length >= 2 && raw[raw.length - 2] === CR ? 2 : 1));
      if (body.length > this.maxLineBytes) {
        results.push({
          ok: false,
          error: new MensageiroError('too_large', `lines are limited to ${this.maxLineBytes} bytes`),
        });
        continue;
      }
      try {
        results.push({ ok: true, line: decodeUtf8(body) });
      } catch (error) {
        if (!(error instanceof MensageiroError)) throw error;
        results.push({ ok: false, error });
      }
    }
  }
}

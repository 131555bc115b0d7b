import type net from 'node:net';
import { MensageiroError } from '../core/errors.js';

interface Outgoing {
  bytes: Buffer;
  done: (error: MensageiroError | null) => void;
}

/**
 * Writes one frame per write and leaves a gap before the next, once the previous one has drained:
 * many classmates' servers take one recv() as one frame and cannot split two that arrive together.
 */
export class PacedWriter {
  private socket: net.Socket | null = null;
  private readonly queue: Outgoing[] = [];
  private writing = false;
  private ending = false;

  constructor(private readonly gapMs: number) {}

  /** Frames queued from now on go to `socket`. */
  attach(socket: net.Socket): void {
    this.socket = socket;
    this.writing = false;
    this.ending = false;
    this.pump();
  }

  /** The connection ended: what was not written fails with 'timeout', to be sent again later. */
  detach(): void {
    this.socket = null;
    for (const pending of this.queue.splice(0)) pending.done(new MensageiroError('timeout', 'not connected'));
  }

  /** Resolves once the frame is written, or fails with 'timeout' if the connection ends first. */
  write(bytes: Buffer | string): Promise<void> {
    if (!this.socket) return Promise.reject(new MensageiroError('timeout', 'not connected'));
    return new Promise((resolve, reject) => {
      const frame = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
      this.queue.push({ bytes: frame, done: (error) => (error ? reject(error) : resolve()) });
      this.pump();
    });
  }

  /** Ends the connection once every frame queued so far is written (no pause after the last). */
  end(): void {
    this.ending = true;
    this.pump();
  }

  private pump(): void {
    const socket = this.socket;
    if (this.writing || !socket) return;
    const next = this.queue.shift();
    if (!next) {
      if (this.ending) socket.end();
      return;
    }
    this.writing = true;
    socket.write(next.bytes, (error) => {
      next.done(error ? new MensageiroError('timeout', 'not connected') : null);
      if (this.ending && this.queue.length === 0) return socket.end();
      setTimeout(() => {
        if (this.socket !== socket) return;
        this.writing = false;
        this.pump();
      }, this.gapMs).unref();
    });
  }
}

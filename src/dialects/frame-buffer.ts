const EMPTY = Buffer.alloc(0);

/**
 * The one byte accumulator every codec parses from. Chunks are queued without copying and joined
 * only when a parser needs to look past the first one, so a large frame that arrives in many
 * chunks is copied once, not once per chunk.
 */
export class FrameBuffer {
  private head: Buffer = EMPTY;
  private offset = 0;
  private queued: Buffer[] = [];
  private queuedBytes = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.offset >= this.head.length && this.queued.length === 0) {
      this.head = chunk;
      this.offset = 0;
      return;
    }
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
  }

  get length(): number {
    return this.head.length - this.offset + this.queuedBytes;
  }

  /** The byte at `index`, or -1 past the end. */
  byteAt(index: number): number {
    if (index >= this.length) return -1;
    if (this.offset + index >= this.head.length) this.join();
    return this.head[this.offset + index]!;
  }

  /** Index of `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0): number {
    this.join();
    const at = this.head.indexOf(byte, this.offset + from);
    return at < 0 ? -1 : at - this.offset;
  }

  /** A view of the next `count` bytes, without consuming them. */
  peek(count: number): Buffer {
    if (this.offset + count > this.head.length) this.join();
    return this.head.subarray(this.offset, this.offset + Math.min(count, this.length));
  }

  /** Consumes and returns the next `count` bytes (a view: chunks are never mutated). */
  take(count: number): Buffer {
    const out = this.peek(count);
    this.offset += out.length;
    this.release();
    return out;
  }

  /** Consumes the next `count` bytes as UTF-8 text, with no view made in between. */
  takeText(count: number): string {
    if (this.offset + count > this.head.length) this.join();
    const end = this.offset + Math.min(count, this.length);
    const text = this.head.toString('utf8', this.offset, end);
    this.offset = end;
    this.release();
    return text;
  }

  skip(count: number): void {
    if (this.offset + count > this.head.length) this.join();
    this.offset += Math.min(count, this.length);
    this.release();
  }

  clear(): void {
    this.head = EMPTY;
    this.offset = 0;
    this.queued = [];
    this.queuedBytes = 0;
  }

  /** A consumed head is let go at once, so a chunk is not held for its last few bytes' sake. */
  private release(): void {
    if (this.offset >= this.head.length && this.queued.length === 0) {
      this.head = EMPTY;
      this.offset = 0;
    }
  }

  private join(): void {
    if (this.queued.length === 0) return;
    this.head = Buffer.concat([this.head.subarray(this.offset), ...this.queued]);
    this.offset = 0;
    this.queued = [];
    this.queuedBytes = 0;
  }
}

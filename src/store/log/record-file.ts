import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/**
 * An append-only file of checksummed records: each is a 4-byte little-endian payload length,
 * the payload's CRC-32, then the payload. Appends made during one event-loop turn go out in one
 * write and one fdatasync (group commit); each append's promise settles only after that sync.
 * While a sync runs, the next turns' appends gather into the batch after it.
 */

const HEADER = 8;
/** No record is near this; a larger length read back is a torn header, not a record. */
const MAX_RECORD = 256 * 1024 * 1024;

/** zlib's CRC-32 (IEEE 802.3), in Node from 20.15 on. */
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(bytes: Uint8Array): number {
  if (!zlibCrc32) throw new Error('the log store needs Node 20.15 or later (zlib.crc32)');
  return zlibCrc32(bytes);
}

interface Batch {
  chunks: Buffer[];
  bytes: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface Recovered {
  /** Every whole record, in order. */
  records: Buffer[];
  /** Bytes cut off the end: a record whose write the last crash or power cut tore. */
  truncated: number;
}

export class RecordFile {
  private readonly fd: number;
  private size: number;
  /** Appends of the turns since the last write started. */
  private open: Batch | null = null;
  /** The batch being written and synced. */
  private writing: Batch | null = null;
  private failed: Error | null = null;
  /** Batches opened so far. */
  private batches = 0;
  private closed = false;

  private constructor(fd: number, size: number) {
    this.fd = fd;
    this.size = size;
  }

  /**
   * Opens (or creates) the file and reads it back. A bad record ends the read and is cut off
   * with everything after it: only the part past the last completed fdatasync can be damaged by
   * a crash, and nothing there was acknowledged.
   */
  static open(file: string): { file: RecordFile; recovered: Recovered } {
    const existed = fs.existsSync(file);
    const fd = fs.openSync(file, existed ? 'r+' : 'w+');
    if (!existed) {
      fs.fsyncSync(fd);
      // A new file's name lives in its directory: without this sync, a power cut could lose the
      // file and every record acknowledged in it.
      syncDirectory(path.dirname(file));
    }
    const data = existed ? fs.readFileSync(file) : Buffer.alloc(0);
    const records: Buffer[] = [];
    let offset = 0;
    while (offset + HEADER <= data.length) {
      const length = data.readUInt32LE(offset);
      const end = offset + HEADER + length;
      if (length > MAX_RECORD || end > data.length) break;
      if (crc32(data.subarray(offset + HEADER, end)) !== data.readUInt32LE(offset + 4)) break;
      records.push(data.subarray(offset + HEADER, end));
      offset = end;
    }
    const truncated = data.length - offset;
    if (truncated > 0) {
      fs.ftruncateSync(fd, offset);
      fs.fdatasyncSync(fd);
    }
    return { file: new RecordFile(fd, offset), recovered: { records, truncated } };
  }

  /** The file's length: every record appended so far, synced or not. */
  get bytes(): number {
    return this.size;
  }

  /** The number of the batch the next append lands in; they count from 1 at each open. */
  get nextBatch(): number {
    return this.open === null ? this.batches + 1 : this.batches;
  }

  /** Queues a record; the promise settles once it is on disk (shared by its whole batch). */
  append(payload: Buffer): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('the log is closed'));
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(crc32(payload), 4);
    let batch = this.open;
    if (batch === null) {
      batch = newBatch();
      this.open = batch;
      this.batches++;
      // After this turn's I/O callbacks, so that all of them land in one write.
      if (this.writing === null) setImmediate(() => this.writeNext());
    }
    batch.chunks.push(header, payload);
    batch.bytes += HEADER + payload.length;
    return batch.done;
  }

  /** Settles once everything appended so far is on disk (or failed). */
  settled(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return (this.open ?? this.writing)?.done ?? Promise.resolve();
  }

  private writeNext(): void {
    const batch = this.open;
    if (batch === null || this.writing !== null) return;
    this.open = null;
    this.writing = batch;
    const buffer = Buffer.concat(batch.chunks, batch.bytes);
    const position = this.size;
    this.size += buffer.length;
    writeAll(this.fd, buffer, position, (error) => {
      if (error) return this.fail(batch, error);
      fs.fdatasync(this.fd, (syncError) => {
        if (syncError) return this.fail(batch, syncError);
        this.writing = null;
        batch.resolve();
        this.writeNext();
      });
    });
  }

  /**
   * After a failed write or sync nothing more is accepted: what the disk holds past the last
   * good sync is unknown (a failed fsync may even have dropped the dirty pages), so the only
   * safe state is the one a restart reads back.
   */
  private fail(batch: Batch, error: Error): void {
    this.failed = error;
    this.writing = null;
    batch.reject(error);
    const waiting = this.open;
    this.open = null;
    waiting?.reject(error);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settled().catch(() => undefined);
    fs.closeSync(this.fd);
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch only reads wait on (through settled()) must not raise an unhandled rejection.
  done.catch(() => undefined);
  return { chunks: [], bytes: 0, done, resolve, reject };
}

function writeAll(fd: number, buffer: Buffer, position: number, done: (error: Error | null) => void): void {
  fs.write(fd, buffer, 0, buffer.length, position, (error, written) => {
    if (error) return done(error);
    if (written < buffer.length) return writeAll(fd, buffer.subarray(written), position + written, done);
    done(null);
  });
}

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

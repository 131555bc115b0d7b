import type net from 'node:net';

/** How long a seed client waits for more bytes before it shows a line that has no LF. */
export const DEFAULT_IDLE_MS = 50;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a server's text into lines at LF (a CR before it dropped). Many classmates' servers send
 * each message with one send() and no line ending, so `flush()`, called once no byte has followed
 * for the idle interval, ends the partial line too. Text that is not UTF-8 shows as U+FFFD rather
 * than being hidden; a character cut by TCP is kept back until its last byte arrives.
 */
export class LineSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  /** A line was just ended by idleness: an LF that comes after all belongs to it. */
  private endedByIdle = false;

  constructor(private readonly maxLineBytes = 1024 * 1024) {}

  get pending(): boolean {
    return this.buffer.length > 0;
  }

  push(chunk: Buffer): string[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.endedByIdle && this.buffer.length > 0) {
      if (this.buffer[0] === CR && this.buffer.length === 1) return [];
      this.endedByIdle = false;
      if (this.buffer[0] === LF) this.buffer = this.buffer.subarray(1);
      else if (this.buffer[0] === CR && this.buffer[1] === LF) this.buffer = this.buffer.subarray(2);
    }
    const lines: string[] = [];
    let start = 0;
    for (let end = this.buffer.indexOf(LF); end >= 0; end = this.buffer.indexOf(LF, start)) {
      const bodyEnd = end > start && this.buffer[end - 1] === CR ? end - 1 : end;
      lines.push(this.buffer.toString('utf8', start, bodyEnd));
      start = end + 1;
    }
    this.buffer = this.buffer.subarray(start);
    // A line with no end in sight is shown in pieces rather than held without bound.
    if (this.buffer.length > this.maxLineBytes) lines.push(...this.flush());
    return lines;
  }

  /** The idle interval passed (or the connection ended): the partial line is a line. */
  flush(final = false): string[] {
    const end = final ? this.buffer.length : completeUtf8Length(this.buffer);
    if (end === 0) return [];
    const line = this.buffer.toString('utf8', 0, end).replace(/\r$/, '');
    this.buffer = this.buffer.subarray(end);
    this.endedByIdle = true;
    return [line];
  }
}

/** How many leading bytes hold only whole UTF-8 characters (an invalid tail counts as whole). */
function completeUtf8Length(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const width = byte >= 0xf0 && byte <= 0xf7 ? 4 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xc0 ? 2 : 1;
    return width > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

/**
 * Feeds a socket's bytes through a LineSplitter: each line goes to `onLine` at its LF, or once
 * no byte has followed for `idleMs`; what is left when the socket closes is a line as well.
 */
export function readLines(
  socket: net.Socket,
  onLine: (line: string) => void,
  idleMs = DEFAULT_IDLE_MS,
): void {
  const splitter = new LineSplitter();
  let timer: NodeJS.Timeout | null = null;
  const emit = (lines: string[]) => {
    for (const line of lines) onLine(line);
  };
  socket.on('data', (chunk: Buffer) => {
    if (timer) clearTimeout(timer);
    timer = null;
    emit(splitter.push(chunk));
    if (splitter.pending) {
      timer = setTimeout(() => {
        timer = null;
        emit(splitter.flush());
      }, idleMs);
    }
  });
  // 'end' comes before 'close' listeners run, so the last line is shown before the close.
  socket.on('end', () => {
    if (timer) clearTimeout(timer);
    timer = null;
    emit(splitter.flush(true));
  });
  socket.on('close', () => {
    if (timer) clearTimeout(timer);
    timer = null;
  });
}

import type net from 'node:net';
import type { Logger } from 'pino';

export interface ConnectionOptions {
  /** Past this many queued bytes the client is a slow consumer and is disconnected. */
  maxWriteBuffer: number;
  /** Below this, producers may keep writing; above it they should wait for drain. */
  highWaterMark: number;
  /** Bytes of a client's requests in hand (decoded, not yet stored) before its socket stops being read. */
  maxHeld: number;
}

/** What a connection reports from its socket. The listener is one owner for all its connections. */
export interface ConnectionOwner {
  onData(connection: Connection, chunk: Buffer): void;
  onError(connection: Connection, error: Error): void;
  onClose(connection: Connection): void;
}

let nextConnectionId = 1;

// Socket listeners are shared functions that find their connection here, rather than closures:
// four closures and their contexts were about 400 bytes of every idle connection.
const bySocket = new WeakMap<net.Socket, Connection>();

function onSocketDrain(this: net.Socket): void {
  bySocket.get(this)?.drained();
}

function onSocketData(this: net.Socket, chunk: Buffer): void {
  const connection = bySocket.get(this);
  connection?.owner?.onData(connection, chunk);
}

function onSocketError(this: net.Socket, error: Error): void {
  const connection = bySocket.get(this);
  connection?.owner?.onError(connection, error);
}

function onSocketClose(this: net.Socket): void {
  const connection = bySocket.get(this);
  connection?.owner?.onClose(connection);
}

/** IPv4 clients on a dual-stack socket show up as ::ffff:a.b.c.d; the seeds print a.b.c.d. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * One client socket, as sessions see it: batched writes (one write per event-loop turn),
 * a bounded write buffer, and the activity marks that the listener's sweep reads.
 */
export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly connectedAt = Date.now();
  /** When the client last sent a whole frame or instruction; bytes alone do not count (slowloris). */
  lastActivity = Date.now();
  /** Set by the session once the client has identified itself; ends the handshake timeout. */
  established = false;
  /** Since when the buffer has been over the high-water mark with no drain; null when it is not. */
  blockedSince: number | null = null;
  /** Null until the first write, like drainWaiters: most connections are idle most of the time. */
  private outgoing: Buffer[] | null = null;
  /** Text frames queued since the last buffer; they join into one buffer when it is needed. */
  private outgoingText = '';
  private outgoingBytes = 0;
  private flushScheduled = false;
  private closed = false;
  private drainWaiters: Array<() => void> | null = null;
  /** Socket writes begun and finished (the kernel took every byte of them), for whenWritten. */
  private writesStarted = 0;
  private writesDone = 0;
  private writtenWaiters: Array<{ write: number; callback: () => void }> | null = null;
  private onWriteDone: ((error?: Error | null) => void) | null = null;
  private held = 0;
  private readingPaused = false;

  constructor(
    readonly socket: net.Socket,
    private readonly options: ConnectionOptions,
    readonly log: Logger,
    readonly owner?: ConnectionOwner,
  ) {
    this.remoteAddress = plainAddress(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    bySocket.set(socket, this);
    socket.on('drain', onSocketDrain);
    if (owner) {
      socket.on('data', onSocketData);
      socket.on('error', onSocketError);
      socket.on('close', onSocketClose);
    }
  }

  /** The socket took everything queued in it. */
  drained(): void {
    this.blockedSince = null;
    this.notifyDrain();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get bufferedBytes(): number {
    return this.outgoingBytes + this.socket.writableLength;
  }

  send(bytes: Buffer): void {
    // An empty buffer would cost a write of nothing at the next flush.
    if (this.closed || bytes.length === 0) return;
    this.takeText();
    (this.outgoing ??= []).push(bytes);
    this.queued(bytes.length);
  }

  /** Queues UTF-8 text whose encoded size the caller already knows (it framed it). */
  sendText(text: string, bytes: number): void {
    if (this.closed) return;
    this.outgoingText += text;
    this.queued(bytes);
  }

  private queued(bytes: number): void {
    this.outgoingBytes += bytes;
    if (this.bufferedBytes > this.options.maxWriteBuffer) {
      this.log.warn({ conn: this.id, buffered: this.bufferedBytes }, 'slow consumer disconnected');
      this.destroy();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  writable(): boolean {
    const writable = !this.closed && this.bufferedBytes < this.options.highWaterMark;
    // A write the kernel takes whole emits no 'drain', so the mark is also cleared here.
    if (writable) this.blockedSince = null;
    else if (this.blockedSince === null) this.blockedSince = Date.now();
    return writable;
  }

  /** Calls back once the buffer is below the high-water mark; never, if the connection closes first. */
  onDrain(callback: () => void): void {
    if (this.closed) return;
    if (this.writable()) {
      callback();
      return;
    }
    (this.drainWaiters ??= []).push(callback);
  }

  /**
   * The session has taken in a request of about `bytes` and not finished with it. Past the
   * limit the socket is no longer read, so one sender cannot make the server hold more; TCP
   * tells the client to wait.
   */
  hold(bytes: number): void {
    this.held += bytes;
    if (this.held > this.options.maxHeld && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    }
  }

  /** A request from hold() is done (stored, answered or refused). */
  release(bytes: number): void {
    this.held -= bytes;
    if (this.readingPaused && this.held <= this.options.maxHeld / 2) {
      this.readingPaused = false;
      if (!this.closed) this.socket.resume();
    }
  }

  /**
   * Calls back once the kernel has taken every byte queued so far; never, if the connection is
   * dropped first. Bytes still in the server's own buffers are not the client's yet.
   */
  whenWritten(callback: () => void): void {
    if (this.closed) return;
    const queuedHere = this.outgoing !== null || this.outgoingText !== '';
    const write = queuedHere ? this.writesStarted + 1 : this.writesStarted;
    if (write <= this.writesDone) callback();
    else (this.writtenWaiters ??= []).push({ write, callback });
  }

  private written(error?: Error | null): void {
    if (error) return;
    this.writesDone++;
    const waiters = this.writtenWaiters;
    while (waiters !== null && waiters.length > 0 && waiters[0]!.write <= this.writesDone) {
      waiters.shift()!.callback();
    }
  }

  /** Flushes what is queued, then closes the socket gracefully. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.socket.end();
    // A peer that never reads would hold the socket half-closed forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.notifyDrain();
  }

  destroy(): void {
    this.closed = true;
    this.outgoing = null;
    this.outgoingText = '';
    this.outgoingBytes = 0;
    this.writtenWaiters = null;
    this.socket.destroy();
    this.notifyDrain();
  }

  private flush(): void {
    this.flushScheduled = false;
    // Text alone (the native dialect's frames) is written as a string: the socket encodes it
    // straight into its write request, with no Buffer made for it first. Only ASCII text (as many
    // bytes as characters): the socket counts a string's length, not its bytes, in what it
    // buffers, and the slow-consumer bound must stay in bytes.
    if (
      this.outgoing === null &&
      this.outgoingText !== '' &&
      this.outgoingBytes === this.outgoingText.length
    ) {
      const text = this.outgoingText;
      this.outgoingText = '';
      if (this.closed) return;
      this.outgoingBytes = 0;
      this.writesStarted++;
      this.socket.write(text, 'utf8', (this.onWriteDone ??= (error) => this.written(error)));
      this.notifyDrain();
      return;
    }
    this.takeText();
    const batch = this.outgoing;
    if (this.closed || batch === null) return;
    this.outgoing = null;
    this.outgoingBytes = 0;
    // One write of one buffer: each socket.write costs a stream round of its own, which at
    // thousands of frames a turn cost more than copying them together.
    this.writesStarted++;
    this.socket.write(
      batch.length === 1 ? batch[0]! : Buffer.concat(batch),
      (this.onWriteDone ??= (error) => this.written(error)),
    );
    this.notifyDrain();
  }

  private takeText(): void {
    if (this.outgoingText === '') return;
    (this.outgoing ??= []).push(Buffer.from(this.outgoingText, 'utf8'));
    this.outgoingText = '';
  }

  private notifyDrain(): void {
    if (this.closed) {
      this.drainWaiters = null;
      return;
    }
    // writable() also clears the stall mark, so it runs even with no one waiting.
    if (!this.writable()) return;
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (const resolve of waiters) resolve();
  }
}

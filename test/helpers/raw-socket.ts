import net from 'node:net';

/**
 * A plain TCP client that records every byte it receives, the way a third-party client in
 * another language would see the server. Waiting is by condition, never by a fixed sleep.
 */
export class RawSocket {
  readonly socket: net.Socket;
  closed = false;
  /** Every chunk received, in order; readers that parse incrementally keep their own index. */
  readonly chunks: Buffer[] = [];
  private joined = Buffer.alloc(0);
  private joinedChunks = 0;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Records a socket that a test's own server accepted. */
  static wrap(socket: net.Socket): RawSocket {
    return new RawSocket(socket);
  }

  /** `localAddress` picks the client's own loopback address (127.0.0.2 is another client). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress }, () => resolve(new RawSocket(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Every byte received so far (joined lazily, so large transfers stay linear). */
  get received(): Buffer {
    if (this.joinedChunks < this.chunks.length) {
      this.joined = Buffer.concat([this.joined, ...this.chunks.slice(this.joinedChunks)]);
      this.joinedChunks = this.chunks.length;
    }
    return this.joined;
  }

  get text(): string {
    return this.received.toString('utf8');
  }

  /** Resolves once `check` holds, re-checked on every chunk and on close. */
  async until<T>(check: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined && value !== false) return value as T;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; received so far: ${JSON.stringify(this.text.slice(-2000))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitClosed(timeoutMs = 10_000): Promise<true> {
    return this.until(() => this.closed, 'the server to close the connection', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

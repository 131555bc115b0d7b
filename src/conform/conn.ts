import net from 'node:net';
import { CaseFailure } from './types.js';
import { visible, type Transcript } from './transcript.js';

/** What a parser made of the unread bytes: a value and how many bytes it used. */
export type Parsed<T> = { value: T; length: number } | undefined;
/** `settled` is true once no byte has followed for a short while: an undelimited tail may end there. */
export type Parser<T> = (unread: Buffer, settled: boolean) => Parsed<T>;

export interface Line {
  text: string;
  /** The line ended in CRLF rather than a bare LF. */
  crlf: boolean;
}

/** How long a read waits for more bytes before an undelimited frame counts as complete. */
const SETTLE_MS = 120;

/**
 * One connection to the target, as a case sees it: every byte in both directions goes to the
 * transcript, and every wait draws on the case's deadline, so a silent target fails fast.
 */
export class Conn {
  closed = false;
  private buffer = Buffer.alloc(0);
  private consumed = 0;
  private wakers: Array<() => void> = [];

  private constructor(
    readonly socket: net.Socket,
    readonly label: string,
    private readonly transcript: Transcript,
    private readonly deadline: () => number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      transcript.received(label, chunk);
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      if (!this.closed) transcript.note(label, 'connection closed');
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(
    host: string,
    port: number,
    label: string,
    transcript: Transcript,
    deadline: () => number,
  ): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(
        () => {
          socket.destroy();
          reject(new CaseFailure(`could not connect to ${host}:${port} in time`));
        },
        Math.max(0, deadline() - Date.now()),
      );
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new CaseFailure(`could not connect to ${host}:${port}: ${error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        transcript.note(label, `connected from port ${socket.localPort}`);
        resolve(new Conn(socket, label, transcript, deadline));
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** Bytes received and not yet read by a case. */
  get unread(): Buffer {
    return this.buffer.subarray(this.consumed);
  }

  async send(data: string | Buffer): Promise<void> {
    this.transcript.sent(this.label, data);
    if (this.closed) return;
    await new Promise<void>((resolve) => this.socket.write(data, () => resolve()));
  }

  /**
   * Sends, then pauses: many seed servers take one recv() as one frame, and ours ends an
   * undelimited zap frame after 50 ms of quiet.
   */
  async sendFrame(data: string | Buffer, pauseMs = 80): Promise<void> {
    await this.send(data);
    await sleep(pauseMs);
  }

  /** Waits until `parse` finds a value in the unread bytes, and consumes it. */
  async read<T>(parse: Parser<T>, what: string, expected?: string): Promise<T> {
    for (;;) {
      const unread = this.unread;
      const parsed = parse(unread, false);
      if (parsed) return this.consume(parsed);
      if (unread.length > 0 && !(await this.waitForBytes(SETTLE_MS))) {
        const settled = parse(this.unread, true);
        if (settled) return this.consume(settled);
      }
      if (this.closed && this.unread.length === unread.length) {
        throw new CaseFailure(
          `the target closed the connection (${this.label}) while ${what} was expected`,
          expected ?? what,
          this.describeUnread(),
        );
      }
      const left = this.deadline() - Date.now();
      if (left <= 0) {
        throw new CaseFailure(
          `timed out waiting for ${what} on ${this.label}`,
          expected ?? what,
          this.describeUnread(),
        );
      }
      await this.waitForBytes(left);
    }
  }

  /** The next line ending in LF (a CR before it is reported, not required). */
  line(what: string, expected?: string): Promise<Line> {
    return this.read(parseLine, what, expected);
  }

  /** Fails if anything is left unread or arrives within `ms`. */
  async expectSilence(ms: number, what: string): Promise<void> {
    const until = Math.min(Date.now() + ms, this.deadline());
    while (Date.now() < until && this.unread.length === 0 && !this.closed)
      await this.waitForBytes(until - Date.now());
    if (this.unread.length > 0) {
      throw new CaseFailure(`the target sent something where ${what}`, 'no reply', this.describeUnread());
    }
  }

  /** Collects every byte that arrives within `ms` (or until the connection closes). */
  async drain(ms: number): Promise<string> {
    const until = Math.min(Date.now() + ms, this.deadline());
    while (Date.now() < until && !this.closed) await this.waitForBytes(until - Date.now());
    const text = this.unread.toString('utf8');
    this.consumed = this.buffer.length;
    return text;
  }

  async waitClosed(what: string): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const left = this.deadline() - Date.now();
      if (left <= 0)
        throw new CaseFailure(
          `the target kept ${this.label} open where ${what}`,
          'the connection closed by the target',
          'still open',
        );
      await this.waitForBytes(left);
    }
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  describeUnread(): string {
    const unread = this.unread;
    const state = this.closed ? ' (connection closed)' : '';
    return unread.length === 0 ? `nothing${state}` : `"${visible(unread.toString('utf8'))}"${state}`;
  }

  private consume<T>(parsed: { value: T; length: number }): T {
    this.consumed += parsed.length;
    return parsed.value;
  }

  /** Resolves true when bytes (or a close) arrive within `ms`, false when the time runs out. */
  private waitForBytes(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.wakers = this.wakers.filter((waker) => waker !== wake);
          resolve(false);
        },
        Math.max(0, ms),
      );
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.wakers.push(wake);
    });
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }
}

export function parseLine(unread: Buffer): Parsed<Line> {
  const end = unread.indexOf(0x0a);
  if (end < 0) return undefined;
  const crlf = end > 0 && unread[end - 1] === 0x0d;
  return {
    value: { text: unread.subarray(0, crlf ? end - 1 : end).toString('utf8'), crlf },
    length: end + 1,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

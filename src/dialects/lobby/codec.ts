import { MensageiroError } from '../../core/errors.js';
import { FrameBuffer } from '../frame-buffer.js';
import { decodeUtf8 } from '../text.js';

/**
 * lobby (seed 004). Client → server: a 64-byte header holding the payload's UTF-8 byte length
 * in ASCII decimal (padded with spaces or NULs on either side), then the payload.
 * Server → client: `[<ctime>][<author>]: <msg>` and LF, with no header.
 */

export const HEADER_BYTES = 64;
export const DISCONNECT = ':D';

export type LobbyResult = { ok: true; text: string } | { ok: false; error: MensageiroError };

export class LobbyDecoder {
  private readonly buffer = new FrameBuffer();
  private expected: number | null = null;
  private dead = false;

  constructor(private readonly maxPayload: number) {}

  push(chunk: Buffer): LobbyResult[] {
    if (this.dead) return [];
    this.buffer.push(chunk);
    const results: LobbyResult[] = [];
    for (;;) {
      if (this.expected === null) {
        if (this.buffer.length < HEADER_BYTES) break;
        const length = headerLength(this.buffer.take(HEADER_BYTES));
        if (length === null)
          return this.fail(results, 'bad_frame', 'the 64-byte header is not a decimal length');
        if (length > this.maxPayload)
          return this.fail(results, 'too_large', `messages are limited to ${this.maxPayload} bytes`);
        this.expected = length;
      }
      if (this.buffer.length < this.expected) break;
      const payload = this.buffer.take(this.expected);
      this.expected = null;
      // A zero length carries nothing; the course's server skips it too.
      if (payload.length === 0) continue;
      try {
        results.push({ ok: true, text: decodeUtf8(payload) });
      } catch (error) {
        if (!(error instanceof MensageiroError)) throw error;
        return this.fail(results, error.code, error.message);
      }
    }
    return results;
  }

  private fail(
    results: LobbyResult[],
    code: 'bad_frame' | 'too_large' | 'bad_utf8' | string,
    text: string,
  ): LobbyResult[] {
    this.dead = true;
    this.buffer.clear();
    results.push({ ok: false, error: new MensageiroError(code as 'bad_frame', text, true) });
    return results;
  }
}

/**
 * The payload length a header holds, read as the course's server reads it (Python's `int()`):
 * spaces (or NULs) around, a `+` sign, leading zeros and `_` between digits. Null when it is no
 * length: not a number, or negative.
 */
export function headerLength(header: Buffer): number | null {
  const text = header.toString('latin1').replace(/^[\s\0]+|[\s\0]+$/g, '');
  const match = /^([+-]?)(\d+(?:_\d+)*)$/.exec(text);
  if (!match) return null;
  const digits = match[2]!.replace(/_/g, '').replace(/^0+(?=\d)/, '');
  // Past 16 digits the number is over any frame limit anyway; Infinity says so without rounding.
  const value = digits.length > 16 ? Infinity : Number(digits);
  if (match[1] === '-' && value !== 0) return null;
  return value;
}

/** What a client sends: the length header, space-padded to 64 bytes, then the payload. */
export function encodeLobbyInput(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(String(payload.length).padEnd(HEADER_BYTES, ' '), 'latin1'), payload]);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** Python's time.ctime(), local time: `Wed Nov  1 16:56:54 2023`. */
export function ctime(date: Date): string {
  return (
    `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getFullYear()}`
  );
}

/** How the course's server names a client: Python's repr of the address tuple. */
export function addressLabel(ip: string, port: number): string {
  return `('${ip}', ${port})`;
}

export function lobbyLine(at: Date, author: string, text: string): string {
  return `[${ctime(at)}][${author}]: ${text}\n`;
}

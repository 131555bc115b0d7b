import { MensageiroError } from '../../core/errors.js';
import { FrameBuffer } from '../frame-buffer.js';
import { codePointLength, decodeUtf8 } from '../text.js';

/**
 * zap (seed 002): fixed-width digit fields, LF after every frame. Pure: bytes in, frames out.
 * Real clients send no delimiter, so a frame ends at LF, or when its fixed widths are full,
 * or (for 05/06/10/11 with a variable tail) when `flush()` is called after the idle interval.
 */

export const ID_DIGITS = 13;
export const TS_DIGITS = 10;
export const MAX_DATA_CHARS = 218;
export const MAX_GROUP_MEMBERS_IN = 7;
export const MAX_GROUP_MEMBERS_OUT = 8;

export type ZapFrame =
  | { code: '01' }
  | { code: '02' | '03'; id: number }
  | { code: '05' | '06'; src: number; dst: number; ts: number; data: string }
  | { code: '07' | '09'; dst: number; ts: number }
  | { code: '08'; src: number; ts: number }
  | { code: '10'; creator: number; ts: number; members: number[] }
  | { code: '11'; id: number; ts: number; members: number[] };

export type ZapResult = { ok: true; frame: ZapFrame } | { ok: false; error: MensageiroError };

const LF = 0x0a;
const CR = 0x0d;
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;

/** The digits after the code, and how a variable tail follows them. */
const LAYOUT: Record<string, { fixed: number; tail: 'none' | 'data' | 'members'; maxMembers?: number }> = {
  '01': { fixed: 0, tail: 'none' },
  '02': { fixed: ID_DIGITS, tail: 'none' },
  '03': { fixed: ID_DIGITS, tail: 'none' },
  '05': { fixed: 2 * ID_DIGITS + TS_DIGITS, tail: 'data' },
  '06': { fixed: 2 * ID_DIGITS + TS_DIGITS, tail: 'data' },
  '07': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none' },
  '08': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none' },
  '09': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none' },
  '10': { fixed: ID_DIGITS + TS_DIGITS, tail: 'members', maxMembers: MAX_GROUP_MEMBERS_IN },
  '11': { fixed: ID_DIGITS + TS_DIGITS, tail: 'members', maxMembers: MAX_GROUP_MEMBERS_OUT },
};

type Scan =
  | { state: 'need-more' }
  | { state: 'done'; frameBytes: number; consumed: number }
  /** A variable tail that is syntactically complete but not delimited: ends on idle. */
  | { state: 'idle-complete'; frameBytes: number }
  | { state: 'error'; error: MensageiroError };

const fail = (text: string): Scan => ({
  state: 'error',
  error: new MensageiroError('bad_frame', text, true),
});

export class ZapDecoder {
  private readonly buffer = new FrameBuffer();
  private dead = false;

  get failed(): boolean {
    return this.dead;
  }

  /** Whether a syntactically complete but undelimited frame waits for the idle interval. */
  get pending(): boolean {
    return !this.dead && this.scan().state === 'idle-complete';
  }

  push(chunk: Buffer): ZapResult[] {
    if (this.dead) return [];
    this.buffer.push(chunk);
    return this.drain(false);
  }

  /** No byte arrived for the idle interval: a complete-looking 05/06/10/11 ends here. */
  flush(): ZapResult[] {
    if (this.dead) return [];
    return this.drain(true);
  }

  private drain(idle: boolean): ZapResult[] {
    const results: ZapResult[] = [];
    for (;;) {
      while (this.buffer.length > 0 && (this.buffer.byteAt(0) === LF || this.buffer.byteAt(0) === CR)) {
        this.buffer.skip(1);
      }
      if (this.buffer.length === 0) break;
      const scan = this.scan();
      if (scan.state === 'need-more') break;
      if (scan.state === 'idle-complete' && !idle) break;
      if (scan.state === 'error') {
        results.push({ ok: false, error: scan.error });
        this.dead = true;
        this.buffer.clear();
        break;
      }
      const frameBytes = scan.frameBytes;
      const consumed = scan.state === 'done' ? scan.consumed : frameBytes;
      const bytes = this.buffer.peek(frameBytes);
      try {
        results.push({ ok: true, frame: parseFrame(bytes) });
      } catch (error) {
        if (!(error instanceof MensageiroError)) throw error;
        results.push({ ok: false, error: new MensageiroError(error.code, error.message, true) });
        this.dead = true;
        this.buffer.clear();
        break;
      }
      this.buffer.skip(consumed);
    }
    return results;
  }

  /** Finds where the frame at the head of the buffer ends, without consuming it. */
  private scan(): Scan {
    const buffer = this.buffer;
    if (buffer.length < 2) return { state: 'need-more' };
    const code = buffer.peek(2).toString('latin1');
    const layout = LAYOUT[code];
    if (!layout) return fail(`unknown code ${JSON.stringify(code)}`);
    const fixedEnd = 2 + layout.fixed;
    for (let i = 2; i < fixedEnd; i++) {
      const byte = buffer.byteAt(i);
      if (byte === -1) return { state: 'need-more' };
      if (!isDigit(byte)) return fail(`code ${code}: ids and timestamps are digits`);
    }
    if (layout.tail === 'none') return { state: 'done', frameBytes: fixedEnd, consumed: fixedEnd };
    if (layout.tail === 'members') return this.scanMembers(fixedEnd, layout.maxMembers!);
    return this.scanData(fixedEnd);
  }

  private scanMembers(start: number, maxMembers: number): Scan {
    let at = start;
    let members = 0;
    for (;;) {
      const byte = this.buffer.byteAt(at);
      if (byte === -1) {
        const partial = (at - start) % ID_DIGITS !== 0;
        return members > 0 && !partial ? { state: 'idle-complete', frameBytes: at } : { state: 'need-more' };
      }
      if (byte === LF || byte === CR) {
        if ((at - start) % ID_DIGITS !== 0) return fail('a member id has 13 digits');
        return { state: 'done', frameBytes: at, consumed: at + (byte === CR ? this.crlfLength(at) : 1) };
      }
      if (!isDigit(byte)) return fail('member ids are digits');
      at++;
      if ((at - start) % ID_DIGITS === 0) {
        members++;
        if (members === maxMembers) return { state: 'done', frameBytes: at, consumed: at };
      }
    }
  }

  private scanData(start: number): Scan {
    let at = start;
    let chars = 0;
    for (;;) {
      const byte = this.buffer.byteAt(at);
      if (byte === -1) return chars > 0 ? { state: 'idle-complete', frameBytes: at } : { state: 'need-more' };
      if (byte === LF) return { state: 'done', frameBytes: at, consumed: at + 1 };
      if (byte === CR && this.buffer.byteAt(at + 1) === LF)
        return { state: 'done', frameBytes: at, consumed: at + 2 };
      if (byte === CR && this.buffer.byteAt(at + 1) === -1) return { state: 'need-more' };
      // A character starts at every byte that is not a UTF-8 continuation byte.
      if ((byte & 0xc0) !== 0x80) {
        chars++;
        if (chars === MAX_DATA_CHARS) {
          // The 218th character completes the frame once all of its bytes are here.
          const end = at + utf8Width(byte);
          return this.buffer.length < end
            ? { state: 'need-more' }
            : { state: 'done', frameBytes: end, consumed: end };
        }
      }
      at++;
    }
  }

  private crlfLength(at: number): number {
    return this.buffer.byteAt(at + 1) === LF ? 2 : 1;
  }
}

/** Bytes in the UTF-8 sequence a lead byte starts; invalid leads count as one (decoding rejects them). */
function utf8Width(lead: number): number {
  if (lead >= 0xf0 && lead <= 0xf7) return 4;
  if (lead >= 0xe0) return lead <= 0xef ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

function digits(bytes: Buffer, from: number, count: number): number {
  return Number(bytes.subarray(from, from + count).toString('latin1'));
}

function membersOf(bytes: Buffer, from: number): number[] {
  const members: number[] = [];
  for (let at = from; at < bytes.length; at += ID_DIGITS) members.push(digits(bytes, at, ID_DIGITS));
  return members;
}

function parseFrame(bytes: Buffer): ZapFrame {
  const code = bytes.subarray(0, 2).toString('latin1');
  switch (code) {
    case '01':
      return { code };
    case '02':
    case '03':
      return { code, id: digits(bytes, 2, ID_DIGITS) };
    case '05':
    case '06': {
      // Clients pad data with spaces up to 218; the padding is not part of the message.
      const data = decodeUtf8(bytes.subarray(2 + 2 * ID_DIGITS + TS_DIGITS)).replace(/ +$/, '');
      return {
        code,
        src: digits(bytes, 2, ID_DIGITS),
        dst: digits(bytes, 2 + ID_DIGITS, ID_DIGITS),
        ts: digits(bytes, 2 + 2 * ID_DIGITS, TS_DIGITS),
        data,
      };
    }
    case '07':
    case '09':
      return { code, dst: digits(bytes, 2, ID_DIGITS), ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS) };
    case '08':
      return { code, src: digits(bytes, 2, ID_DIGITS), ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS) };
    case '10':
      return {
        code,
        creator: digits(bytes, 2, ID_DIGITS),
        ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS),
        members: membersOf(bytes, 2 + ID_DIGITS + TS_DIGITS),
      };
    case '11':
      return {
        code,
        id: digits(bytes, 2, ID_DIGITS),
        ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS),
        members: membersOf(bytes, 2 + ID_DIGITS + TS_DIGITS),
      };
    default:
      throw new MensageiroError('bad_frame', `unknown code ${JSON.stringify(code)}`, true);
  }
}

function field(value: number, width: number, name: string): string {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 10 ** width) {
    throw new MensageiroError('bad_request', `${name} must fit ${width} digits`);
  }
  return String(value).padStart(width, '0');
}

const id = (value: number, name = 'id') => field(value, ID_DIGITS, name);
const ts = (value: number) => field(value, TS_DIGITS, 'ts');

/** Encodes a frame as the server sends it: the seed's bytes with an LF after them. */
export function encodeZap(frame: ZapFrame): Buffer {
  return Buffer.from(`${zapFrameText(frame)}\n`, 'utf8');
}

/**
 * A frame exactly as the seed lays it out, with no delimiter: what a client sends, since many
 * servers take one recv() as one frame and would keep an LF as part of it.
 */
export function zapFrameText(frame: ZapFrame): string {
  let text: string;
  switch (frame.code) {
    case '01':
      text = '01';
      break;
    case '02':
    case '03':
      text = frame.code + id(frame.id);
      break;
    case '05':
    case '06':
      if (/[\r\n]/.test(frame.data))
        throw new MensageiroError('bad_request', 'zap data cannot hold CR or LF');
      if (codePointLength(frame.data) > MAX_DATA_CHARS) {
        throw new MensageiroError('bad_request', `zap data is at most ${MAX_DATA_CHARS} characters`);
      }
      text = frame.code + id(frame.src, 'src') + id(frame.dst, 'dst') + ts(frame.ts) + frame.data;
      break;
    case '07':
    case '09':
      text = frame.code + id(frame.dst, 'dst') + ts(frame.ts);
      break;
    case '08':
      text = frame.code + id(frame.src, 'src') + ts(frame.ts);
      break;
    case '10':
    case '11': {
      const max = frame.code === '10' ? MAX_GROUP_MEMBERS_IN : MAX_GROUP_MEMBERS_OUT;
      if (frame.members.length > max) {
        throw new MensageiroError('group_too_large', `code ${frame.code} carries at most ${max} members`);
      }
      const head = frame.code === '10' ? id(frame.creator, 'creator') : id(frame.id);
      text = frame.code + head + ts(frame.ts) + frame.members.map((m) => id(m, 'member')).join('');
      break;
    }
  }
  return text;
}

/**
 * Cuts text for 06 frames: CR/LF cannot travel inside zap data, so a line break is written as
 * the two characters `\n` (as mm does), and text over 218 characters is sent as several frames.
 */
export function zapDataChunks(text: string): string[] {
  const flat = [...text.replace(/\r\n|\r|\n/g, '\\n')];
  if (flat.length === 0) return [''];
  const chunks: string[] = [];
  for (let at = 0; at < flat.length; at += MAX_DATA_CHARS)
    chunks.push(flat.slice(at, at + MAX_DATA_CHARS).join(''));
  return chunks;
}

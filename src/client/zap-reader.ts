import {
  ID_DIGITS,
  MAX_DATA_CHARS,
  MAX_GROUP_MEMBERS_OUT,
  TS_DIGITS,
  type ZapFrame,
} from '../dialects/zap/codec.js';

/**
 * The zap client's reader: lenient where the server's ZapDecoder is strict, because it must follow
 * any classmate's server. Frames may or may not end in LF (or CRLF). A 05/06 data field ends at
 * LF, at the position where another known frame visibly starts (its code and every fixed digit,
 * after a byte that is not a digit), or once no byte has followed for the idle interval. Bytes
 * that are no frame are skipped, to the earliest of the next LF, the next chunk the socket handed
 * over, or the next position where a known code parses, and reading goes on.
 */

export type ZapReading =
  { ok: true; frame: ZapFrame; raw: Buffer } | { ok: false; skipped: Buffer; reason: string };

const LF = 0x0a;
const CR = 0x0d;
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
const isAlphanumeric = (byte: number) =>
  isDigit(byte) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);

const FIXED_DIGITS = 2 * ID_DIGITS + TS_DIGITS;
/** What a server sends: 02, 06, 07, 09, 11, and 05 from servers that relay it unchanged. */
const SERVER_LAYOUT: Record<string, { fixed: number; tail: 'none' | 'data' | 'members' }> = {
  '02': { fixed: ID_DIGITS, tail: 'none' },
  '05': { fixed: FIXED_DIGITS, tail: 'data' },
  '06': { fixed: FIXED_DIGITS, tail: 'data' },
  '07': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none' },
  '09': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none' },
  '11': { fixed: ID_DIGITS + TS_DIGITS, tail: 'members' },
};
/** 02 answers only 01, so inside data it is not taken as the start of a frame. */
const DATA_ENDERS = ['05', '06', '07', '09', '11'];
const ALL_CODES = Object.keys(SERVER_LAYOUT);
/**
 * Data past the seed's 218 characters is still read, up to a whole 05 wrapped in a 06, so that a
 * server which puts one inside the other can still be shown.
 */
const MAX_LENIENT_CHARS = MAX_DATA_CHARS + 2 + FIXED_DIGITS;
/** Unparseable bytes beyond this, with no place to resume in sight, are dropped at once. */
const MAX_PENDING_BYTES = 64 * 1024;

type Scan =
  | { state: 'need-more' }
  | { state: 'frame'; end: number; consumed: number; numeric: boolean }
  | { state: 'bad'; reason: string };

export class ZapReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** Offsets in the buffer where a chunk from the socket began (never 0). */
  private chunkStarts: number[] = [];

  /** Bytes are waiting that the idle interval may settle. */
  get pending(): boolean {
    return this.buffer.length > 0;
  }

  push(chunk: Buffer): ZapReading[] {
    if (chunk.length === 0) return [];
    if (this.buffer.length > 0) this.chunkStarts.push(this.buffer.length);
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    return this.drain(false);
  }

  /** No byte arrived for the idle interval: an undelimited 05/06/11 ends, garbage is dropped. */
  flush(): ZapReading[] {
    return this.drain(true);
  }

  private drain(idle: boolean): ZapReading[] {
    const readings: ZapReading[] = [];
    for (;;) {
      let start = 0;
      while (start < this.buffer.length && (this.buffer[start] === LF || this.buffer[start] === CR)) start++;
      this.consume(start);
      if (this.buffer.length === 0) break;
      const scan = this.scan(idle);
      if (scan.state === 'need-more') break;
      if (scan.state === 'frame') {
        const raw = this.buffer.subarray(0, scan.end);
        readings.push(
          scan.numeric
            ? { ok: true, frame: parseServerFrame(raw), raw }
            : { ok: false, skipped: raw, reason: 'an id that is not 13 digits' },
        );
        this.consume(scan.consumed);
        continue;
      }
      const resume = this.resumeAt();
      if (resume === null && !idle && this.buffer.length <= MAX_PENDING_BYTES) break;
      const end = resume ?? this.buffer.length;
      readings.push({ ok: false, skipped: this.buffer.subarray(0, end), reason: scan.reason });
      this.consume(end);
    }
    return readings;
  }

  private consume(count: number): void {
    if (count === 0) return;
    this.buffer = this.buffer.subarray(count);
    this.chunkStarts = this.chunkStarts.map((at) => at - count).filter((at) => at > 0);
  }

  /** Where the frame at the head of the buffer ends, without consuming it. */
  private scan(idle: boolean): Scan {
    const buffer = this.buffer;
    if (buffer.length < 2) return { state: 'need-more' };
    const code = buffer.toString('latin1', 0, 2);
    const layout = SERVER_LAYOUT[code];
    if (!layout) return { state: 'bad', reason: `undefined code ${JSON.stringify(code)}` };
    const fixedEnd = 2 + layout.fixed;
    let numeric = true;
    for (let at = 2; at < fixedEnd; at++) {
      if (at >= buffer.length) return { state: 'need-more' };
      // A letter in an id (a group id such as G123456789012) keeps the frame's length: the
      // frame is skipped whole, and what follows it is read as usual.
      if (!isAlphanumeric(buffer[at]!)) return { state: 'bad', reason: `code ${code}: fields are digits` };
      if (!isDigit(buffer[at]!)) numeric = false;
    }
    if (layout.tail === 'none') return { state: 'frame', end: fixedEnd, consumed: fixedEnd, numeric };
    const end = layout.tail === 'data' ? this.dataEnd(fixedEnd, idle) : this.membersEnd(fixedEnd, idle);
    if (end === null) return { state: 'need-more' };
    return { state: 'frame', ...end, numeric };
  }

  private dataEnd(from: number, idle: boolean): { end: number; consumed: number } | null {
    const buffer = this.buffer;
    let chars = 0;
    for (let at = from; ; at++) {
      if (at >= buffer.length) return idle ? { end: at, consumed: at } : null;
      const byte = buffer[at]!;
      if (byte === LF) return { end: at, consumed: at + 1 };
      if (byte === CR) {
        if (at + 1 >= buffer.length && !idle) return null;
        if (buffer[at + 1] === LF) return { end: at, consumed: at + 2 };
      }
      // After a digit, a code could be part of a number in the text; at 218 characters the seed's
      // data is full, so a frame may start there whatever came before.
      if (!isDigit(buffer[at - 1]!) || chars === MAX_DATA_CHARS) {
        const next = startsFrame(buffer, at, DATA_ENDERS);
        if (next === 'yes') return { end: at, consumed: at };
        if (next === 'maybe' && !idle) return null;
      }
      if ((byte & 0xc0) !== 0x80 && ++chars > MAX_LENIENT_CHARS) return { end: at, consumed: at };
    }
  }

  private membersEnd(from: number, idle: boolean): { end: number; consumed: number } | null {
    const buffer = this.buffer;
    let at = from;
    for (let members = 0; members < MAX_GROUP_MEMBERS_OUT; members++) {
      if (at >= buffer.length) return idle ? { end: at, consumed: at } : null;
      if (buffer[at] === LF) return { end: at, consumed: at + 1 };
      if (buffer[at] === CR && buffer[at + 1] === LF) return { end: at, consumed: at + 2 };
      for (let digit = 0; digit < ID_DIGITS; digit++) {
        const byte = buffer[at + digit];
        if (byte === undefined) return idle ? { end: at, consumed: at } : null;
        // Whatever is not a whole member id belongs to what comes next.
        if (!isDigit(byte)) return { end: at, consumed: at };
      }
      at += ID_DIGITS;
    }
    return { end: at, consumed: at };
  }

  /** The earliest place after the head where reading can resume, or null if none is in sight. */
  private resumeAt(): number | null {
    const buffer = this.buffer;
    let best = buffer.indexOf(LF) + 1 || null;
    const chunk = this.chunkStarts[0];
    if (chunk !== undefined && (best === null || chunk < best)) best = chunk;
    const limit = best ?? buffer.length;
    for (let at = 1; at < limit; at++) if (startsFrame(buffer, at, ALL_CODES) !== 'no') return at;
    return best;
  }
}

/** Whether a frame with one of `codes` starts at `at`: its code and every fixed digit are there. */
function startsFrame(buffer: Buffer, at: number, codes: readonly string[]): 'yes' | 'no' | 'maybe' {
  if (at + 2 > buffer.length) {
    const first = buffer[at];
    return first === undefined || codes.some((code) => code.charCodeAt(0) === first) ? 'maybe' : 'no';
  }
  const code = buffer.toString('latin1', at, at + 2);
  if (!codes.includes(code)) return 'no';
  const fixedEnd = at + 2 + SERVER_LAYOUT[code]!.fixed;
  for (let i = at + 2; i < fixedEnd; i++) {
    if (i >= buffer.length) return 'maybe';
    if (!isDigit(buffer[i]!)) return 'no';
  }
  return 'yes';
}

function digits(bytes: Buffer, from: number, count: number): number {
  return Number(bytes.toString('latin1', from, from + count));
}

/** Parses one whole server frame whose fields are known to be digits. */
export function parseServerFrame(bytes: Buffer): ZapFrame {
  const code = bytes.toString('latin1', 0, 2) as '02' | '05' | '06' | '07' | '09' | '11';
  switch (code) {
    case '02':
      return { code, id: digits(bytes, 2, ID_DIGITS) };
    case '05':
    case '06':
      return {
        code,
        src: digits(bytes, 2, ID_DIGITS),
        dst: digits(bytes, 2 + ID_DIGITS, ID_DIGITS),
        ts: digits(bytes, 2 + 2 * ID_DIGITS, TS_DIGITS),
        // Padding is not part of the message; bytes that are not UTF-8 show as U+FFFD.
        data: bytes.toString('utf8', 2 + FIXED_DIGITS).replace(/[ \r]+$/, ''),
      };
    case '07':
    case '09':
      return { code, dst: digits(bytes, 2, ID_DIGITS), ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS) };
    case '11': {
      const members: number[] = [];
      for (let at = 2 + ID_DIGITS + TS_DIGITS; at + ID_DIGITS <= bytes.length; at += ID_DIGITS)
        members.push(digits(bytes, at, ID_DIGITS));
      return { code, id: digits(bytes, 2, ID_DIGITS), ts: digits(bytes, 2 + ID_DIGITS, TS_DIGITS), members };
    }
  }
}

/**
 * A 06 that carries a whole 05, as some servers send it: either `06` put in front of the 05
 * (`0605…`, so the 06's own fields are shifted and its dst is nobody we know), or a 06 whose data
 * is the 05 with the same src and dst. Returns the 05 inside, or null when it is not that case.
 */
export function wrapped05(
  frame: Extract<ZapFrame, { code: '05' | '06' }>,
  raw: Buffer,
  isKnownDst: (dst: number) => boolean,
): Extract<ZapFrame, { code: '05' | '06' }> | null {
  const inner = (bytes: Buffer) => {
    if (bytes.length < 2 + FIXED_DIGITS || bytes.toString('latin1', 0, 2) !== '05') return null;
    for (let at = 2; at < 2 + FIXED_DIGITS; at++) if (!isDigit(bytes[at]!)) return null;
    return parseServerFrame(bytes) as Extract<ZapFrame, { code: '05' | '06' }>;
  };
  if (!isKnownDst(frame.dst)) {
    const prefixed = inner(raw.subarray(2));
    if (prefixed) return prefixed;
  }
  const carried = inner(Buffer.from(frame.data, 'utf8'));
  return carried && carried.src === frame.src && carried.dst === frame.dst ? carried : null;
}

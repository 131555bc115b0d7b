import {
  ID_DIGITS,
  MAX_DATA_CHARS,
  MAX_GROUP_MEMBERS_OUT,
  TS_DIGITS,
  type ZapFrame,
} from '../dialects/zap/codec.js';

/**
 * The zap client's reader: lenient where the server's ZapDecoder is strict, because it must follow
 * any classmate's server. Frames may or may not end in LF (or CRLF). Until the server has ended a
 * frame with LF, a frame's end is read from its bytes: fixed frames by their widths; a 05/06 data field where, after a byte that
 * is not a digit, another frame visibly starts (a known code with all its fixed fields, or any
 * run of 15 digits); an 11's members where the digits stop fitting whole member ids; otherwise
 * once no byte has followed for the idle interval. Bytes that are no frame are skipped, to the
 * earliest of the next LF, the next chunk the socket handed over, or the next position where a
 * known code parses, and reading goes on.
 */

export type ZapReading =
  { ok: true; frame: ZapFrame; raw: Buffer } | { ok: false; skipped: Buffer; reason: string };

const LF = 0x0a;
const CR = 0x0d;
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
const isLetter = (byte: number) => (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);

const FIXED_DIGITS = 2 * ID_DIGITS + TS_DIGITS;
interface Layout {
  fixed: number;
  tail: 'none' | 'data' | 'members';
  /** Offsets (after the code) where an id starts: some servers put a letter there (G123456789012). */
  ids: number[];
}
/** What a server sends: 02, 06, 07, 09, 11, and 05 from servers that relay it unchanged. */
const SERVER_LAYOUT: Record<string, Layout> = {
  '02': { fixed: ID_DIGITS, tail: 'none', ids: [0] },
  '05': { fixed: FIXED_DIGITS, tail: 'data', ids: [0, ID_DIGITS] },
  '06': { fixed: FIXED_DIGITS, tail: 'data', ids: [0, ID_DIGITS] },
  '07': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none', ids: [0] },
  '09': { fixed: ID_DIGITS + TS_DIGITS, tail: 'none', ids: [0] },
  '11': { fixed: ID_DIGITS + TS_DIGITS, tail: 'members', ids: [0] },
};
const fieldByteOk = (layout: Layout, offset: number, byte: number) =>
  isDigit(byte) || (isLetter(byte) && layout.ids.includes(offset));
/** A code and 13 digits: whatever its code, that looks like a frame rather than text. */
const FRAME_LIKE_DIGITS = 2 + ID_DIGITS;
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
  /** The server ends its frames with LF: then only LF (or idleness) ends a 05/06/11's tail. */
  private delimited = false;

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
      while (start < this.buffer.length && (this.buffer[start] === LF || this.buffer[start] === CR)) {
        if (this.buffer[start] === LF) this.delimited = true;
        start++;
      }
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
        if (scan.consumed > scan.end) this.delimited = true;
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
      if (!fieldByteOk(layout, at - 2, buffer[at]!))
        return { state: 'bad', reason: `code ${code}: fields are digits` };
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
      if (!this.delimited && (!isDigit(buffer[at - 1]!) || chars === MAX_DATA_CHARS)) {
        const next = startsFrame(buffer, at, true);
        if (next === 'yes') return { end: at, consumed: at };
        if (next === 'maybe' && !idle) return null;
      }
      if ((byte & 0xc0) !== 0x80 && ++chars > MAX_LENIENT_CHARS) return { end: at, consumed: at };
    }
  }

  private membersEnd(from: number, idle: boolean): { end: number; consumed: number } | null {
    const buffer = this.buffer;
    let digitsEnd = from;
    while (digitsEnd < buffer.length && isDigit(buffer[digitsEnd]!)) digitsEnd++;
    if (digitsEnd === buffer.length && !idle) return null;
    const whole = Math.min(MAX_GROUP_MEMBERS_OUT, Math.floor((digitsEnd - from) / ID_DIGITS));
    let end = from + whole * ID_DIGITS;
    // Digits that cannot all be member ids hold the next frames.
    if (!this.delimited && end !== digitsEnd)
      end = membersBeforeFrames(buffer, from, whole, digitsEnd) ?? end;
    if (buffer[end] === LF) return { end, consumed: end + 1 };
    if (buffer[end] === CR && buffer[end + 1] === LF) return { end, consumed: end + 2 };
    return { end, consumed: end };
  }

  /** The earliest place after the head where reading can resume, or null if none is in sight. */
  private resumeAt(): number | null {
    const buffer = this.buffer;
    let best = buffer.indexOf(LF) + 1 || null;
    const chunk = this.chunkStarts[0];
    if (chunk !== undefined && (best === null || chunk < best)) best = chunk;
    const limit = best ?? buffer.length;
    for (let at = 1; at < limit; at++) if (startsFrame(buffer, at, false) !== 'no') return at;
    return best;
  }
}

/**
 * Whether a frame starts at `at`: a known code with every fixed field, or, when `anyCode`, also
 * 15 digits whatever the code.
 */
function startsFrame(buffer: Buffer, at: number, anyCode: boolean): 'yes' | 'no' | 'maybe' {
  if (at + 2 > buffer.length) return at === buffer.length || isDigit(buffer[at]!) ? 'maybe' : 'no';
  const layout = SERVER_LAYOUT[buffer.toString('latin1', at, at + 2)];
  if (layout) {
    let known: 'yes' | 'no' | 'maybe' = 'yes';
    for (let offset = 0; offset < layout.fixed && known === 'yes'; offset++) {
      const byte = buffer[at + 2 + offset];
      if (byte === undefined) known = 'maybe';
      else if (!fieldByteOk(layout, offset, byte)) known = 'no';
    }
    if (known !== 'no' || !anyCode) return known;
  } else if (!anyCode) return 'no';
  for (let i = at; i < at + FRAME_LIKE_DIGITS; i++) {
    if (i >= buffer.length) return 'maybe';
    if (!isDigit(buffer[i]!)) return 'no';
  }
  return 'yes';
}

/**
 * Where an 11's members end when its digits run on into other frames with no LF between: at the
 * first member boundary from which the rest of the digits are whole frames, else at the first
 * one where a whole known frame starts; null if neither (all are taken as members).
 */
function membersBeforeFrames(buffer: Buffer, from: number, whole: number, digitsEnd: number): number | null {
  for (let members = 1; members <= whole; members++) {
    const at = from + members * ID_DIGITS;
    if (digitsAreFrames(buffer, at, digitsEnd)) return at;
  }
  for (let members = 1; members <= whole; members++) {
    const at = from + members * ID_DIGITS;
    const layout = SERVER_LAYOUT[buffer.toString('latin1', at, at + 2)];
    if (layout && at + 2 + layout.fixed <= digitsEnd) return at;
  }
  return null;
}

/**
 * Whether the digits from `at` to `end` are whole frames back to back: receipts, an 11 with its
 * members, or the fixed fields of a 05/06 whose data (not a digit, and not nothing) starts at `end`.
 */
function digitsAreFrames(buffer: Buffer, at: number, end: number, depth = 0): boolean {
  if (at === end) return true;
  const layout = SERVER_LAYOUT[buffer.toString('latin1', at, at + 2)];
  const next = at + 2 + (layout?.fixed ?? end);
  if (!layout || next > end || depth > MAX_GROUP_MEMBERS_OUT) return false;
  if (layout.tail === 'data') return next === end && end < buffer.length && buffer[end] !== LF;
  if (layout.tail === 'none') return digitsAreFrames(buffer, next, end, depth + 1);
  for (let members = 1; members <= MAX_GROUP_MEMBERS_OUT; members++) {
    const after = next + members * ID_DIGITS;
    if (after > end) return false;
    if (digitsAreFrames(buffer, after, end, depth + 1)) return true;
  }
  return false;
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

import type { Conn, Parsed } from './conn.js';
import type { CaseContext } from './types.js';
import { CaseFailure } from './types.js';
import { visible } from './transcript.js';

/** zap (seed 002) as the grader writes and reads it: the seed's exact widths out, lenient in. */

export const id13 = (id: number | string) => String(id).padStart(13, '0');
export const ts10 = (ts: number) => String(ts).padStart(10, '0');
/** A timestamp a few seconds in the past, so a reply carrying the server's own clock shows. */
export const clientTs = (back = 7) => Math.floor(Date.now() / 1000) - back;

export const frames = {
  register: () => '01',
  connect: (id: number) => `03${id13(id)}`,
  send: (src: number, dst: number, ts: number, data: string) =>
    `05${id13(src)}${id13(dst)}${ts10(ts)}${data}`,
  read: (src: number, ts: number) => `08${id13(src)}${ts10(ts)}`,
  group: (creator: number, ts: number, members: number[]) =>
    `10${id13(creator)}${ts10(ts)}${members.map(id13).join('')}`,
};

export interface ZapReply {
  code: string;
  /** The frame as received, without the LF that ended it. */
  raw: string;
  /** An LF (or CRLF) ended the frame. */
  lf: boolean;
}

const FIXED_TAIL: Record<string, number> = { '02': 13, '07': 23, '09': 23 };
const VARIABLE_HEAD: Record<string, number> = { '06': 36, '11': 23 };

/**
 * Reads one frame from the server: a fixed-width frame ends at its width, a 06 or 11 at LF or
 * once no byte follows. Line ends between frames are skipped, so replies with or without LF, one
 * frame over several reads or several in one read, all parse.
 */
export function parseZapReply(unread: Buffer, settled: boolean): Parsed<ZapReply> {
  let start = 0;
  while (start < unread.length && (unread[start] === 0x0a || unread[start] === 0x0d)) start++;
  const body = unread.subarray(start);
  if (body.length < 2) return undefined;
  const code = body.subarray(0, 2).toString('latin1');
  const lf = body.indexOf(0x0a);
  let end: number;
  if (code === '02') {
    let digits = 0;
    while (digits < 13 && 2 + digits < body.length && isDigit(body[2 + digits]!)) digits++;
    if (digits < 13 && 2 + digits === body.length && !settled) return undefined;
    end = 2 + digits;
  } else if (FIXED_TAIL[code] !== undefined) {
    end = 2 + FIXED_TAIL[code]!;
    if (body.length < end) {
      if (!settled) return undefined;
      end = lf >= 0 ? lf : body.length;
    }
  } else if (lf >= 0) {
    end = lf;
  } else if (settled && body.length >= 2 + (VARIABLE_HEAD[code] ?? 0)) {
    end = body.length;
  } else {
    return undefined;
  }
  let length = start + end;
  let ended = false;
  if (unread[length] === 0x0d && unread[length + 1] === 0x0a) {
    length += 2;
    ended = true;
  } else if (unread[length] === 0x0a) {
    length += 1;
    ended = true;
  }
  const raw = body.subarray(0, end).toString('utf8').replace(/\r$/, '');
  return { value: { code, raw, lf: ended }, length };
}

const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;

/** Reads frames until one satisfies `wanted`; others are left behind (the transcript keeps them). */
export async function awaitFrame(
  conn: Conn,
  wanted: (frame: ZapReply) => boolean,
  what: string,
  expected?: string,
): Promise<ZapReply> {
  const seen: string[] = [];
  for (;;) {
    try {
      const frame = await conn.read(parseZapReply, what, expected);
      if (wanted(frame)) return frame;
      seen.push(frame.raw);
    } catch (error) {
      if (error instanceof CaseFailure && seen.length > 0) {
        throw new CaseFailure(
          error.message,
          error.expected,
          `${seen.map((raw) => `"${visible(raw)}"`).join(', ')} then ${error.actual ?? 'nothing'}`,
        );
      }
      throw error;
    }
  }
}

export interface ZapUser {
  id: number;
  conn: Conn;
}

/** 01 → 02 on a connection of its own; lenient about the id's width (zap.01 checks that). */
export async function registerZap(ctx: CaseContext, label: string): Promise<number> {
  const conn = await ctx.connect(`${label}(01)`);
  await conn.sendFrame(frames.register());
  const reply = await awaitFrame(conn, (f) => f.code === '02', 'the 02 reply to 01', '02 and 13 digits');
  const id = Number(reply.raw.slice(2));
  if (!Number.isInteger(id) || id <= 0)
    throw new CaseFailure('the 02 reply holds no id', '02 and 13 digits', `"${visible(reply.raw)}"`);
  conn.close();
  return id;
}

/** A connection signed in with 03, the seed's "conectar cliente". */
export async function connectZap(ctx: CaseContext, label: string, id: number): Promise<Conn> {
  const conn = await ctx.connect(label);
  await conn.sendFrame(frames.connect(id));
  return conn;
}

/** A fresh account, registered and connected: the usual start of a case. */
export async function onlineZap(ctx: CaseContext, label: string): Promise<ZapUser> {
  const id = await registerZap(ctx, label);
  return { id, conn: await connectZap(ctx, label, id) };
}

/** Expects exactly `code + fields` (the seed's widths); a missing LF is accepted. */
export function expectFrame(frame: ZapReply, expected: string, what: string): void {
  if (frame.raw !== expected)
    throw new CaseFailure(what, `"${visible(expected)}"`, `"${visible(frame.raw)}"`);
}

/** Awaits the next frame with `expected`'s code and checks it is exactly `expected`. */
export async function awaitExactly(
  conn: Conn,
  expected: string,
  what: string,
  failure: string,
): Promise<void> {
  const code = expected.slice(0, 2);
  expectFrame(await awaitFrame(conn, (f) => f.code === code, what, expected), expected, failure);
}

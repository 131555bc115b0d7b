import { MensageiroError } from '../core/errors.js';
import { FrameBuffer } from '../dialects/frame-buffer.js';
import { DEFAULT_MAX_FRAME, frameLimit, readFrameHeader } from '../dialects/native/codec.js';

/**
 * The load generator's native hot path. The product's NativeDecoder decodes and JSON-parses
 * every frame into an object; in a drain that took more than the server's own CPU a message,
 * and the generator saturated its core first. Here a frame is split off as text, and the
 * three kinds that come under load (msg, receipt, sent) are read by their keys, with
 * JSON.parse for everything else. A property test checks it against NativeDecoder.
 */

/** What the generator needs of a frame; `frame` is set only for the kinds read by JSON.parse. */
export interface WireFrame {
  type: string;
  seq?: number;
  text?: string;
  frame?: Record<string, unknown>;
}

const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;
const QUOTE = 0x22;
const CLOSE = 0x7d;

const LIMIT = frameLimit(DEFAULT_MAX_FRAME);

/** Splits `<decimal length>,<JSON>` frames; the server sends the generator no compressed ones. */
export class NativeWireReader {
  private readonly buffer = new FrameBuffer();

  push(chunk: Buffer, onFrame: (json: string) => void): void {
    const buffer = this.buffer;
    buffer.push(chunk);
    for (;;) {
      const header = readFrameHeader(buffer, 0, LIMIT);
      if (header === null) return;
      if (header instanceof MensageiroError) throw header;
      if (buffer.length < header.bodyAt + header.length) return;
      buffer.skip(header.bodyAt);
      onFrame(buffer.takeText(header.length));
    }
  }
}

const TYPE_PREFIX = '{"type":"';
const FAST_TYPES = ['msg', 'receipt', 'sent'];
const SEQ_KEY = '"seq":';
const TEXT_KEY = '"text":"';

/**
 * A frame's type and, for msg and receipt, its seq (and a msg's text). A key cannot occur
 * inside a JSON string, where every quote is escaped, so a search finds only the key. The
 * frame is searched as a string: V8's string search costs less than Buffer's native calls.
 */
export function readWireFrame(text: string): WireFrame {
  const fast = fastType(text);
  if (fast === 'sent') return { type: fast };
  if (fast !== null) {
    const seq = integerAfter(text, SEQ_KEY);
    if (fast === 'receipt' && seq !== null) return { type: fast, seq };
    const body = fast === 'msg' ? plainStringAfter(text, TEXT_KEY) : null;
    if (seq !== null && body !== null) return { type: fast, seq, text: body };
  }
  const frame = JSON.parse(text) as Record<string, unknown>;
  const parsed: WireFrame = { type: String(frame.type), frame };
  if (typeof frame.seq === 'number') parsed.seq = frame.seq;
  if (typeof frame.text === 'string') parsed.text = frame.text;
  return parsed;
}

function fastType(json: string): string | null {
  if (!json.startsWith(TYPE_PREFIX)) return null;
  for (const type of FAST_TYPES) {
    if (
      json.startsWith(type, TYPE_PREFIX.length) &&
      json.charCodeAt(TYPE_PREFIX.length + type.length) === QUOTE
    )
      return type;
  }
  return null;
}

/** A non-negative integer value; null when the key is missing or the value is anything else. */
function integerAfter(json: string, key: string): number | null {
  const at = json.indexOf(key);
  if (at < 0) return null;
  const from = at + key.length;
  let value = 0;
  let end = from;
  for (let code = json.charCodeAt(end); code >= ZERO && code <= NINE; code = json.charCodeAt(++end))
    value = value * 10 + code - ZERO;
  const next = json.charCodeAt(end);
  return end === from || end - from > 15 || (next !== COMMA && next !== CLOSE) ? null : value;
}

/** A string value with no escape in it; null otherwise, for JSON.parse to read. */
function plainStringAfter(json: string, key: string): string | null {
  const at = json.indexOf(key);
  if (at < 0) return null;
  const from = at + key.length;
  const end = json.indexOf('"', from);
  if (end < 0) return null;
  const escape = json.indexOf('\\', from);
  return escape >= 0 && escape < end ? null : json.slice(from, end);
}

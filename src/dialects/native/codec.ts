import zlib from 'node:zlib';
import { MensageiroError } from '../../core/errors.js';
import { FrameBuffer } from '../frame-buffer.js';
import { decodeUtf8 } from '../text.js';

/**
 * Native framing (seed 000): `<decimal byte length>,<JSON>`, or `z<length>,<raw DEFLATE>`.
 * Pure: bytes in, JSON objects out. It never throws; every failure is a MensageiroError result.
 */

export const DEFAULT_MAX_FRAME = 1024 * 1024;

export type NativeObject = Record<string, unknown>;

export type NativeFrame =
  { ok: true; message: NativeObject; compressed: boolean } | { ok: false; error: MensageiroError };

const COMMA = 0x2c;
const Z = 0x7a;
const ZERO = 0x30;
const NINE = 0x39;
const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/** The largest frame, and how many digits its header may have (leading zeros included). */
export interface FrameLimit {
  maxFrame: number;
  maxDigits: number;
}

export const frameLimit = (maxFrame: number): FrameLimit => ({
  maxFrame,
  maxDigits: String(maxFrame).length,
});

/**
 * A frame's header, `<decimal byte length>,`, read from `start`: the length and where the
 * body begins, null until the comma has arrived, or the fatal error of a header that is not
 * digits and a comma, or that names more than the limit.
 */
export function readFrameHeader(
  buffer: FrameBuffer,
  start: number,
  limit: FrameLimit,
): { length: number; bodyAt: number } | null | MensageiroError {
  let length = 0;
  let index = start;
  for (; ; index++) {
    const byte = buffer.byteAt(index);
    if (byte === -1) return null;
    if (byte === COMMA) break;
    if (byte < ZERO || byte > NINE) return badHeader();
    if (index - start >= limit.maxDigits) return tooLarge(limit);
    length = length * 10 + (byte - ZERO);
  }
  if (index === start) return badHeader();
  if (length > limit.maxFrame) return tooLarge(limit);
  return { length, bodyAt: index + 1 };
}

const badHeader = () =>
  new MensageiroError('bad_frame', 'a frame starts with its decimal byte length and a comma', true);
const tooLarge = (limit: FrameLimit) =>
  new MensageiroError('too_large', `frames are limited to ${limit.maxFrame} bytes`, true);

export class NativeDecoder {
  private readonly buffer = new FrameBuffer();
  private readonly limit: FrameLimit;
  private dead = false;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {
    this.limit = frameLimit(maxFrame);
  }

  /** Whether a fatal error ended the stream: nothing more will be decoded. */
  get failed(): boolean {
    return this.dead;
  }

  push(chunk: Buffer): NativeFrame[] {
    if (this.dead) return [];
    this.buffer.push(chunk);
    const frames: NativeFrame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) break;
      frames.push(frame);
      if (!frame.ok && frame.error.fatal) {
        this.dead = true;
        this.buffer.clear();
        break;
      }
    }
    return frames;
  }

  private next(): NativeFrame | null {
    const buffer = this.buffer;
    // Tolerated: whitespace between frames, which line-minded clients add.
    while (buffer.length > 0 && isSpace(buffer.byteAt(0))) buffer.skip(1);
    if (buffer.length === 0) return null;
    const compressed = buffer.byteAt(0) === Z;
    const header = readFrameHeader(buffer, compressed ? 1 : 0, this.limit);
    if (header === null) return null;
    if (header instanceof MensageiroError) return { ok: false, error: header };
    if (buffer.length < header.bodyAt + header.length) return null;
    buffer.skip(header.bodyAt);
    const body = buffer.take(header.length);
    try {
      return { ok: true, message: this.parse(body, compressed), compressed };
    } catch (error) {
      if (error instanceof MensageiroError) return { ok: false, error };
      throw error;
    }
  }

  private parse(body: Buffer, compressed: boolean): NativeObject {
    let bytes = body;
    if (compressed) {
      try {
        bytes = zlib.inflateRawSync(body, { maxOutputLength: this.maxFrame });
      } catch (error) {
        const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        throw new MensageiroError(
          tooLarge ? 'too_large' : 'bad_deflate',
          tooLarge
            ? `inflated frames are limited to ${this.maxFrame} bytes`
            : 'the frame is not raw DEFLATE data',
        );
      }
    }
    return parseNativeObject(decodeUtf8(bytes));
  }
}

/** One frame's JSON text as the object it must hold; the web door's messages use it too. */
export function parseNativeObject(text: string): NativeObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MensageiroError('bad_json', 'the frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MensageiroError('bad_json', 'a frame holds one JSON object');
  }
  return value as NativeObject;
}

/** Encodes one object as a native frame, compressed when asked. */
export function encodeNative(message: NativeObject, compress = false): Buffer {
  return encodeNativeJson(JSON.stringify(message), compress);
}

/** Frames JSON text that is already serialized (the hot path builds it without an object). */
export function encodeNativeJson(json: string, compress = false): Buffer {
  if (!compress) {
    // One exact allocation: the header, then the JSON written in place (no intermediate copy).
    const length = Buffer.byteLength(json, 'utf8');
    const header = `${length},`;
    const frame = Buffer.allocUnsafe(header.length + length);
    frame.write(header, 0, 'latin1');
    frame.write(json, header.length, 'utf8');
    return frame;
  }
  const packed = zlib.deflateRawSync(Buffer.from(json, 'utf8'));
  return Buffer.concat([Buffer.from(`z${packed.length},`, 'latin1'), packed]);
}

/**
 * An uncompressed frame as text, with its size in bytes: a connection joins a turn's text
 * frames into one buffer, which costs less than a buffer per frame.
 */
export function nativeFrameText(
  json: string,
  length = Buffer.byteLength(json, 'utf8'),
): { text: string; bytes: number } {
  const header = `${length},`;
  return { text: header + json, bytes: header.length + length };
}

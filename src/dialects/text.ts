import { MensageiroError } from '../core/errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, refusing invalid sequences instead of replacing them with U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new MensageiroError('bad_utf8', 'the text is not valid UTF-8');
  }
}

/** Length in Unicode code points, what Python's len() counts. */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** A high surrogate with no low one after it, or a low one with no high one before it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** C0 controls but tab and line breaks, DEL, and C1: no message needs them; NUL cuts C strings. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_IN_TEXT = /[\0-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/;
/** In a name, line breaks and tabs too: names sit inside other frames and lines. */
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_IN_NAME = /[\0-\x1F\x7F-\x9F]/;

/**
 * Message text as it comes in through any door: control characters are refused, and a lone
 * surrogate (JSON can carry one; UTF-8 cannot) becomes U+FFFD once, so every dialect stores and
 * sends the same text.
 */
export function cleanText(text: string): string {
  if (CONTROL_IN_TEXT.test(text)) {
    throw new MensageiroError(
      'bad_request',
      'text cannot hold NUL or other control characters (tabs and line breaks are fine)',
    );
  }
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE.source);

/** True for a name (a p2p user, a group) free of control characters and lone surrogates. */
export function isCleanName(name: string): boolean {
  return !CONTROL_IN_NAME.test(name) && !HAS_LONE_SURROGATE.test(name);
}

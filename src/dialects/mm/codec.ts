/** mm (seed 001): `@user text` lines. Pure text in, text out; framing is the LineDecoder's. */

export const SERVER_NAME = 'mensageiro';
export const END_OF_MESSAGES = 'f\n';

export type ClientLine =
  { kind: 'fetch' } | { kind: 'send'; dest: string; text: string } | { kind: 'invalid' };

export function parseClientLine(line: string): ClientLine {
  if (line.trim() === '') return { kind: 'fetch' };
  const match = /^@(\S+) (.*)$/s.exec(line);
  if (!match || match[2]!.trim() === '') return { kind: 'invalid' };
  return { kind: 'send', dest: match[1]!, text: match[2]! };
}

/** An LF inside text travels as the two characters `\n`, and a backslash as `\\`. */
export function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\r\n|\r|\n/g, '\\n');
}

export function unescapeText(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

export function messageLine(from: string, text: string): string {
  return `@${from} ${escapeText(text)}\n`;
}

export function noticeLine(text: string): string {
  return messageLine(SERVER_NAME, text);
}

export const notices = {
  unknownUser: (name: string) => `unknown user ${name}`,
  usage: 'usage: @user message',
};

/** Parses a server line `@from text` for clients; null for anything else. */
export function parseServerLine(line: string): { from: string; text: string } | null {
  const match = /^@(\S+) (.*)$/s.exec(line);
  return match ? { from: match[1]!, text: unescapeText(match[2]!) } : null;
}

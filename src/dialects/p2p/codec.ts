import { isCleanName } from '../text.js';

/**
 * p2p directory (seed 003): text instructions ending in CRLF (a bare LF accepted on input).
 * Pure: one line in, one instruction out; framing is the LineDecoder's.
 */

export type DirectoryInstruction =
  | { kind: 'USER'; name: string; port: number }
  | { kind: 'LIST' }
  | { kind: 'ADDR'; name: string }
  | { kind: 'KEEP' }
  | { kind: 'DISC' }
  | { kind: 'invalid'; reason: string };

const NAME = /^[^\s:]+$/;

export function parseInstruction(line: string): DirectoryInstruction {
  const text = line.trim();
  const space = text.indexOf(' ');
  const verb = (space < 0 ? text : text.slice(0, space)).toUpperCase();
  const rest = space < 0 ? '' : text.slice(space + 1).trim();
  switch (verb) {
    case 'USER': {
      // `USER name:port`, and a space after the colon is accepted.
      const match = /^([^\s:]+):\s*(\d{1,5})$/.exec(rest);
      if (!match) return { kind: 'invalid', reason: 'USER takes name:port' };
      const port = Number(match[2]);
      if (port < 1 || port > 65535) return { kind: 'invalid', reason: 'USER port must be 1-65535' };
      if (!isCleanName(match[1]!))
        return { kind: 'invalid', reason: 'a name cannot hold control characters' };
      return { kind: 'USER', name: match[1]!, port };
    }
    case 'LIST':
      return { kind: 'LIST' };
    case 'ADDR':
      return NAME.test(rest) && isCleanName(rest)
        ? { kind: 'ADDR', name: rest }
        : { kind: 'invalid', reason: 'ADDR takes a name' };
    case 'KEEP':
      return { kind: 'KEEP' };
    case 'DISC':
      return { kind: 'DISC' };
    default:
      return { kind: 'invalid', reason: `unknown instruction ${JSON.stringify(verb.slice(0, 32))}` };
  }
}

/** `LIST a:b`, or `LIST ` with its trailing space when nobody else is active. */
export function listReply(names: string[]): string {
  return `LIST ${names.join(':')}\r\n`;
}

export function addrReply(name: string, ip: string, port: number): string {
  return `ADDR ${name}:${ip}:${port}\r\n`;
}

/** Client side: parses a directory reply line. */
export function parseReply(
  line: string,
): { kind: 'LIST'; names: string[] } | { kind: 'ADDR'; name: string; ip: string; port: number } | null {
  if (line.startsWith('LIST')) {
    const rest = line.slice(4).trim();
    return { kind: 'LIST', names: rest === '' ? [] : rest.split(':') };
  }
  // The ip may be IPv6 (with colons): the name is before the first colon, the port after the last.
  const match = /^ADDR ([^\s:]+):(.+):(\d{1,5})$/.exec(line.trim());
  return match ? { kind: 'ADDR', name: match[1]!, ip: match[2]!, port: Number(match[3]) } : null;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MensageiroError } from '../src/core/errors.js';
import { LineDecoder, type LineResult } from '../src/dialects/line-decoder.js';
import { LobbyDecoder, ctime, encodeLobbyInput, type LobbyResult } from '../src/dialects/lobby/codec.js';
import {
  escapeText,
  messageLine,
  parseClientLine,
  parseServerLine,
  unescapeText,
} from '../src/dialects/mm/codec.js';
import { addrReply, listReply, parseInstruction, parseReply } from '../src/dialects/p2p/codec.js';
import { splitAt } from './helpers/chunks.js';

const noLineBreaks = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !/[\r\n]/.test(s));

describe('line decoder', () => {
  it('property: lines joined with LF or CRLF come back, however chunked', () => {
    fc.assert(
      fc.property(
        fc.array(noLineBreaks, { maxLength: 6 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 5 }),
        (lines, crlf, cuts) => {
          const wire = Buffer.from(lines.map((l) => l + (crlf ? '\r\n' : '\n')).join(''), 'utf8');
          const decoder = new LineDecoder(1024);
          const out: LineResult[] = splitAt(wire, cuts).flatMap((chunk) => decoder.push(chunk));
          expect(out).toEqual(lines.map((line) => ({ ok: true, line })));
        },
      ),
    );
  });

  it('property: arbitrary bytes yield lines or MensageiroErrors, and memory stays bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }), (chunks) => {
        const decoder = new LineDecoder(32);
        for (const chunk of chunks) {
          for (const result of decoder.push(Buffer.from(chunk))) {
            if (!result.ok) expect(result.error).toBeInstanceOf(MensageiroError);
            else expect(Buffer.byteLength(result.line)).toBeLessThanOrEqual(32 * 3);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('mm codec', () => {
  it('property: escape and unescape are inverse, and escaped text has no line break', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '\\', '\n', 'n', 'ç', ' '), maxLength: 30 }),
        (text) => {
          const normalized = text.replace(/\r\n|\r/g, '\n');
          expect(escapeText(normalized)).not.toMatch(/[\r\n]/);
          expect(unescapeText(escapeText(normalized))).toBe(normalized);
          expect(parseServerLine(messageLine('ana', normalized).slice(0, -1))).toEqual({
            from: 'ana',
            text: normalized,
          });
        },
      ),
    );
  });

  it('parses client lines', () => {
    expect(parseClientLine('')).toEqual({ kind: 'fetch' });
    expect(parseClientLine('   ')).toEqual({ kind: 'fetch' });
    expect(parseClientLine('@bob oi tudo')).toEqual({ kind: 'send', dest: 'bob', text: 'oi tudo' });
    expect(parseClientLine('@bob')).toEqual({ kind: 'invalid' });
    expect(parseClientLine('@bob    ')).toEqual({ kind: 'invalid' });
    expect(parseClientLine('hello')).toEqual({ kind: 'invalid' });
  });
});

describe('p2p codec', () => {
  it('parses the instruction table, with the variants real clients send', () => {
    expect(parseInstruction('USER ana:5000')).toEqual({ kind: 'USER', name: 'ana', port: 5000 });
    expect(parseInstruction('USER ana: 5000')).toEqual({ kind: 'USER', name: 'ana', port: 5000 });
    expect(parseInstruction('LIST')).toEqual({ kind: 'LIST' });
    expect(parseInstruction('ADDR bia')).toEqual({ kind: 'ADDR', name: 'bia' });
    expect(parseInstruction('KEEP')).toEqual({ kind: 'KEEP' });
    expect(parseInstruction('DISC')).toEqual({ kind: 'DISC' });
    expect(parseInstruction('USER ana')).toMatchObject({ kind: 'invalid' });
    expect(parseInstruction('USER ana:99999')).toMatchObject({ kind: 'invalid' });
    expect(parseInstruction('HELLO')).toMatchObject({ kind: 'invalid' });
  });

  it('property: replies round-trip through the client parser', () => {
    const name = fc.stringMatching(/^[a-z0-9_.-]{1,12}$/);
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 5 }),
        name,
        fc.integer({ min: 1, max: 65535 }),
        (names, who, port) => {
          expect(parseReply(listReply(names).slice(0, -2))).toEqual({ kind: 'LIST', names });
          expect(parseReply(addrReply(who, '::1', port).slice(0, -2))).toEqual({
            kind: 'ADDR',
            name: who,
            ip: '::1',
            port,
          });
        },
      ),
    );
  });

  it('property: any line parses to an instruction, never a throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (line) => {
        expect(['USER', 'LIST', 'ADDR', 'KEEP', 'DISC', 'invalid']).toContain(parseInstruction(line).kind);
      }),
    );
  });
});

describe('lobby codec', () => {
  it('property: what a client encodes, the server decodes, however chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), { maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (texts, cuts) => {
          const wire = Buffer.concat(texts.map(encodeLobbyInput));
          const decoder = new LobbyDecoder(1024);
          const out: LobbyResult[] = splitAt(wire, cuts).flatMap((chunk) => decoder.push(chunk));
          expect(out).toEqual(texts.map((text) => ({ ok: true, text })));
        },
      ),
    );
  });

  it('property: arbitrary bytes yield messages or MensageiroErrors, never a throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 140 }), { maxLength: 6 }), (chunks) => {
        const decoder = new LobbyDecoder(256);
        for (const chunk of chunks) {
          for (const result of decoder.push(Buffer.from(chunk)))
            if (!result.ok) expect(result.error).toBeInstanceOf(MensageiroError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("formats time like Python's time.ctime()", () => {
    expect(ctime(new Date(2023, 10, 1, 16, 56, 54))).toBe('Wed Nov  1 16:56:54 2023');
    expect(ctime(new Date(2024, 0, 15, 9, 5, 3))).toBe('Mon Jan 15 09:05:03 2024');
  });
});

import net from 'node:net';
import { CaseFailure } from '../types.js';
import { visible } from '../transcript.js';
import { MM_SEED } from '../cases/mm.js';
import { P2P_SEED } from '../cases/p2p.js';
import { LOBBY_SEED } from '../cases/lobby.js';
import { skip, type ClientCase } from './client-case.js';
import { clientUnits, type ClientConn, type Script, type Session, type Unit } from './session.js';

const linesOf = (session: Session) =>
  session.conns.map((conn) => ({ conn, units: clientUnits(conn, false) }));
const show = (conn: ClientConn, unit: Unit) =>
  `${conn.label}: "${visible(unit.text)}${unit.crlf ? '\\r\\n' : unit.lf ? '\\n' : ''}"`;

export const MM_CLIENT_CASES: ClientCase[] = [
  {
    id: 'mm-client.01.username-first',
    title: 'the first line is the username alone',
    seed: MM_SEED.download,
    level: 'required',
    points: 2,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const first = units[0];
        if (!first) continue;
        if (!/^[A-Za-z0-9_.-]{1,32}$/.test(first.text))
          throw new CaseFailure(
            'the first line is not a username',
            'a line holding only the username, e.g. "alice\\n"',
            show(conn, first),
          );
      }
    },
  },
  {
    id: 'mm-client.02.send-format',
    title: 'every later line is "@user text" (or blank, to fetch)',
    seed: MM_SEED.format,
    level: 'required',
    points: 3,
    check(session) {
      const later = linesOf(session).flatMap(({ conn, units }) =>
        units.slice(1).map((unit) => ({ conn, unit })),
      );
      if (later.length === 0) skip('the client sent no message');
      for (const { conn, unit } of later) {
        if (unit.text !== '' && !/^@[^\s@]+ \S/.test(unit.text))
          throw new CaseFailure('a line is not "@user text"', '"@bob oi\\n"', show(conn, unit));
      }
    },
  },
  {
    id: 'mm-client.03.lines-end-in-lf',
    title: 'every line ends with <enter> (LF)',
    seed: MM_SEED.format,
    level: 'required',
    points: 1,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const open = units.find((unit) => !unit.lf);
        if (open)
          throw new CaseFailure(
            'a line was not ended with LF',
            `"${visible(open.text)}\\n"`,
            show(conn, open),
          );
      }
    },
  },
];

const INSTRUCTION = /^(USER [^\s:]+: ?\d{1,5}|LIST|ADDR \S+|KEEP|DISC)$/;

export const P2P_CLIENT_CASES: ClientCase[] = [
  {
    id: 'p2p-client.01.user-first',
    title: 'the first instruction is USER <name>:<port>',
    seed: P2P_SEED.port,
    level: 'required',
    points: 2,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const first = units[0];
        if (first && !/^USER [^\s:]+: ?\d{1,5}$/.test(first.text))
          throw new CaseFailure(
            'the first instruction is not USER <name>:<port>',
            '"USER ana:5000\\r\\n"',
            show(conn, first),
          );
      }
    },
  },
  {
    id: 'p2p-client.02.port-listens',
    title: 'the port given in USER accepts a TCP connection',
    seed: P2P_SEED.port,
    level: 'required',
    points: 2,
    check(session) {
      if (session.facts.size === 0) skip('the client sent no USER');
      for (const [port, listening] of session.facts) {
        if (!listening)
          throw new CaseFailure(
            'nothing listens on the port the client announced',
            `a listener on ${port}`,
            'connection refused',
          );
      }
    },
  },
  {
    id: 'p2p-client.03.known-instructions',
    title: 'every line is one of USER, LIST, ADDR <name>, KEEP, DISC',
    seed: P2P_SEED.active,
    level: 'required',
    points: 2,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const odd = units.find((unit) => !INSTRUCTION.test(unit.text));
        if (odd)
          throw new CaseFailure(
            'a line is not an instruction of the table',
            'USER n:p | LIST | ADDR n | KEEP | DISC',
            show(conn, odd),
          );
      }
    },
  },
  {
    id: 'p2p-client.04.crlf',
    title: 'every instruction ends in CRLF',
    seed: P2P_SEED.listening,
    level: 'recommended',
    points: 1,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const bare = units.find((unit) => !unit.crlf);
        if (bare)
          throw new CaseFailure(
            'an instruction does not end in CRLF',
            `"${visible(bare.text)}\\r\\n"`,
            show(conn, bare),
          );
      }
    },
  },
  {
    id: 'p2p-client.05.keep-alive',
    title: 'a client connected for over 15 s sends KEEP at least every 15 s',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 1,
    check(session) {
      const long = session.conns.filter(
        (conn) => (conn.closedAt ?? session.endedAt) - conn.openedAt > 15_000,
      );
      if (long.length === 0) skip('no connection lasted 15 s');
      for (const conn of long) {
        const times = [
          conn.openedAt,
          ...clientUnits(conn, false).map((u) => u.at),
          conn.closedAt ?? session.endedAt,
        ];
        const gap = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
        if (gap > 15_000)
          throw new CaseFailure(
            'the client was silent for longer than 15 s',
            'KEEP every 5 s',
            `${Math.round(gap / 1000)} s without an instruction on ${conn.label}`,
          );
      }
    },
  },
  {
    id: 'p2p-client.06.disc-on-leave',
    title: 'the client says DISC before it leaves',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 1,
    check(session) {
      for (const { conn, units } of linesOf(session)) {
        const last = units[units.length - 1];
        if (last && last.text !== 'DISC')
          throw new CaseFailure('the last instruction is not DISC', '"DISC\\r\\n"', show(conn, last));
      }
    },
  },
];

/** Tries the port a p2p client announced, while it is still connected. */
export function p2pPortProbe(): Script {
  return {
    onChunk(conn, chunk, session) {
      if (chunk.dir !== 'in') return;
      const match = /USER [^\s:]+: ?(\d{1,5})/.exec(chunk.bytes.toString('utf8'));
      if (!match) return;
      const key = `${conn.ip}:${match[1]}`;
      session.facts.set(key, false);
      const socket = net.connect({ host: conn.ip, port: Number(match[1]) });
      socket.once('connect', () => {
        session.facts.set(key, true);
        socket.destroy();
      });
      socket.once('error', () => undefined);
    },
  };
}

/** Cuts a lobby client's stream into (header, payload) messages; null marks bytes that do not frame. */
function lobbyMessages(conn: ClientConn): Array<{ header: string; payload: Buffer } | { broken: string }> {
  const bytes = Buffer.concat(conn.chunks.filter((c) => c.dir === 'in').map((c) => c.bytes));
  const messages: Array<{ header: string; payload: Buffer } | { broken: string }> = [];
  let at = 0;
  while (at < bytes.length) {
    const header = bytes.subarray(at, at + 64).toString('latin1');
    const length = /^[\s\0]*(\d+)[\s\0]*$/.exec(header);
    if (header.length < 64 || !length || at + 64 + Number(length[1]) > bytes.length) {
      messages.push({ broken: bytes.subarray(at).toString('utf8') });
      break;
    }
    messages.push({ header, payload: bytes.subarray(at + 64, at + 64 + Number(length[1])) });
    at += 64 + Number(length[1]);
  }
  return messages;
}

export const LOBBY_CLIENT_CASES: ClientCase[] = [
  {
    id: 'lobby-client.01.header-64',
    title: 'every message is a 64-byte header with the payload’s byte length, then the payload',
    seed: LOBBY_SEED.header,
    level: 'required',
    points: 3,
    check(session) {
      const all = session.conns.flatMap((conn) => lobbyMessages(conn).map((m) => ({ conn, m })));
      if (all.length === 0) skip('the client sent nothing');
      for (const { conn, m } of all) {
        if ('broken' in m)
          throw new CaseFailure(
            'bytes that are not a 64-byte length header plus that many bytes',
            '"5" padded to 64 bytes, then "hello"',
            `${conn.label}: "${visible(m.broken.slice(0, 200))}"`,
          );
      }
    },
  },
  {
    id: 'lobby-client.02.utf8',
    title: 'payloads are UTF-8',
    seed: LOBBY_SEED.header,
    level: 'required',
    points: 1,
    check(session) {
      for (const conn of session.conns) {
        for (const m of lobbyMessages(conn)) {
          if (
            'payload' in m &&
            Buffer.compare(Buffer.from(m.payload.toString('utf8'), 'utf8'), m.payload) !== 0
          )
            throw new CaseFailure('a payload is not valid UTF-8', 'UTF-8 text', m.payload.toString('hex'));
        }
      }
    },
  },
  {
    id: 'lobby-client.03.disconnect-message',
    title: 'the client leaves by sending :D',
    seed: LOBBY_SEED.disconnect,
    level: 'recommended',
    points: 1,
    check(session) {
      for (const conn of session.conns) {
        const messages = lobbyMessages(conn);
        const last = messages[messages.length - 1];
        if (!last || !('payload' in last) || last.payload.toString('utf8') !== ':D')
          throw new CaseFailure(
            'the client left without :D',
            'a last message ":D"',
            last && 'payload' in last ? `"${visible(last.payload.toString('utf8'))}"` : 'nothing',
          );
      }
    },
  },
];

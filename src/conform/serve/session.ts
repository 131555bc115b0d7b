import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { Transcript } from '../transcript.js';
import type { DialectName } from '../types.js';

/** Which bytes went where: `in` from the graded client, `out` from the reference server. */
export interface Chunk {
  at: number;
  dir: 'in' | 'out';
  bytes: Buffer;
}

export interface ClientConn {
  label: string;
  /** The address the client connected from (IPv4 dotted). */
  ip: string;
  chunks: Chunk[];
  openedAt: number;
  closedAt: number | null;
}

export interface Session {
  dialect: DialectName;
  conns: ClientConn[];
  startedAt: number;
  endedAt: number;
  transcript: Transcript;
  /** Facts found while the client was connected, e.g. whether a p2p client's announced port answered. */
  facts: Map<string, boolean>;
}

/** Per-dialect behaviour while the client is connected (the "professor" that gives it something to read). */
export interface Script {
  /** Called on every chunk; may act on the reference server through `upstreamPort`. */
  onChunk?(conn: ClientConn, chunk: Chunk, session: Session): void;
  stop?(): void;
}

const CONFIG_PORT: Record<DialectName, 'zapPort' | 'mmPort' | 'p2pPort' | 'lobbyPort' | 'nativePort'> = {
  zap: 'zapPort',
  mm: 'mmPort',
  p2p: 'p2pPort',
  lobby: 'lobbyPort',
  native: 'nativePort',
};

/** Starts a fresh reference server (ours, loopback, temporary data) with only `dialect` on. */
export async function startReference(
  dialect: DialectName,
  users: string[],
): Promise<{ server: RunningServer; port: number; dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mensageiro-conform-'));
  const usersFile = path.join(dataDir, 'users.csv');
  fs.writeFileSync(usersFile, `login\n${users.join('\n')}\n`);
  const off = {
    nativePort: 'off',
    mmPort: 'off',
    zapPort: 'off',
    p2pPort: 'off',
    lobbyPort: 'off',
    metricsPort: 'off',
    tlsPort: 'off',
  };
  const config = loadConfig({
    flags: {
      ...off,
      host: '127.0.0.1',
      data: dataDir,
      logLevel: 'silent',
      users: usersFile,
      [CONFIG_PORT[dialect]]: 0,
    },
  });
  const server = await startServer(config);
  return { server, port: server.ports[dialect]!, dataDir };
}

export interface ServeOptions {
  dialect: DialectName;
  host: string;
  port: number;
  timeoutMs: number;
  /** How long after the last client connection closes the session waits for another one. */
  lingerMs: number;
  upstreamPort: number;
  script: Script;
  /** Told once the proxy listens (the port may have been 0). */
  onListening?(port: number): void;
}

/**
 * A recording proxy in front of the reference server: the graded client talks to a real server,
 * and every byte it sends is kept for the checks. Ends when the client has left (every
 * connection closed and none opened for `lingerMs`) or at the timeout.
 */
export function recordSession(options: ServeOptions): Promise<Session> {
  const transcript = new Transcript();
  const session: Session = {
    dialect: options.dialect,
    conns: [],
    startedAt: Date.now(),
    endedAt: 0,
    transcript,
    facts: new Map(),
  };
  const sockets = new Set<net.Socket>();
  return new Promise((resolve, reject) => {
    let linger: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(linger);
      clearTimeout(timeout);
      session.endedAt = Date.now();
      options.script.stop?.();
      for (const socket of sockets) socket.destroy();
      proxy.close(() => resolve(session));
    };
    const timeout = setTimeout(finish, options.timeoutMs);
    const proxy = net.createServer((client) => {
      clearTimeout(linger);
      const conn: ClientConn = {
        label: `C${session.conns.length + 1}`,
        ip: (client.remoteAddress ?? '').replace(/^::ffff:/, ''),
        chunks: [],
        openedAt: Date.now(),
        closedAt: null,
      };
      session.conns.push(conn);
      transcript.note(conn.label, `client connected from port ${client.remotePort}`);
      const upstream = net.connect({ host: '127.0.0.1', port: options.upstreamPort, noDelay: true });
      sockets.add(client).add(upstream);
      client.setNoDelay(true);
      const record = (dir: Chunk['dir'], bytes: Buffer) => {
        const chunk = { at: Date.now(), dir, bytes };
        conn.chunks.push(chunk);
        if (dir === 'in') transcript.sent(conn.label, bytes);
        else transcript.received(conn.label, bytes);
        options.script.onChunk?.(conn, chunk, session);
      };
      client.on('data', (bytes: Buffer) => {
        record('in', bytes);
        upstream.write(bytes);
      });
      upstream.on('data', (bytes: Buffer) => {
        record('out', bytes);
        client.write(bytes);
      });
      const end = () => {
        if (conn.closedAt !== null) return;
        conn.closedAt = Date.now();
        transcript.note(conn.label, 'connection closed');
        client.destroy();
        upstream.destroy();
        if (session.conns.every((c) => c.closedAt !== null)) linger = setTimeout(finish, options.lingerMs);
      };
      for (const socket of [client, upstream]) {
        socket.on('close', end);
        socket.on('error', () => undefined);
      }
    });
    proxy.once('error', reject);
    proxy.listen(options.port, options.host, () =>
      options.onListening?.((proxy.address() as net.AddressInfo).port),
    );
  });
}

export interface Unit {
  at: number;
  text: string;
  /** An LF ended the unit (else a write did, or the connection). */
  lf: boolean;
  crlf: boolean;
}

/**
 * The client's bytes on one connection, cut at each LF. With `byWrite`, a write that holds no LF
 * ends a unit too: zap clients send one frame per write with no delimiter.
 */
export function clientUnits(conn: ClientConn, byWrite: boolean): Unit[] {
  const units: Unit[] = [];
  let pending = '';
  let pendingAt = 0;
  for (const chunk of conn.chunks) {
    if (chunk.dir !== 'in') continue;
    const text = chunk.bytes.toString('utf8');
    if (pending === '') pendingAt = chunk.at;
    const parts = (pending + text).split('\n');
    pending = parts.pop()!;
    for (const part of parts)
      units.push({ at: pendingAt, text: part.replace(/\r$/, ''), lf: true, crlf: part.endsWith('\r') });
    if (parts.length > 0) pendingAt = chunk.at;
    if (byWrite && pending !== '') {
      units.push({ at: pendingAt, text: pending, lf: false, crlf: false });
      pending = '';
    }
  }
  if (pending !== '') units.push({ at: pendingAt, text: pending, lf: false, crlf: false });
  return units;
}

/** Everything the client sent on one connection, joined. */
export const clientBytes = (conn: ClientConn) =>
  Buffer.concat(conn.chunks.filter((c) => c.dir === 'in').map((c) => c.bytes));

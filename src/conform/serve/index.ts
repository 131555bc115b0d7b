import fs from 'node:fs';
import net from 'node:net';
import type { Selection } from '../runner.js';
import type { ConformEvent, DialectName } from '../types.js';
import { gradeSession, type ClientCase } from './client-case.js';
import { LOBBY_CLIENT_CASES, MM_CLIENT_CASES, P2P_CLIENT_CASES, p2pPortProbe } from './line-clients.js';
import { NATIVE_CLIENT_CASES } from './native-client.js';
import { recordSession, startReference, type Script } from './session.js';
import { ZAP_CLIENT_CASES, zapProfessor } from './zap-client.js';

export const CLIENT_CASES: Record<DialectName, ClientCase[]> = {
  zap: ZAP_CLIENT_CASES,
  mm: MM_CLIENT_CASES,
  p2p: P2P_CLIENT_CASES,
  lobby: LOBBY_CLIENT_CASES,
  native: NATIVE_CLIENT_CASES,
};

export const DEFAULT_PORTS: Record<DialectName, number> = {
  native: 7333,
  mm: 3333,
  zap: 12345,
  p2p: 10000,
  lobby: 18000,
};
const PROFESSOR = 'professor';

export interface ServeGrading {
  dialect: DialectName;
  host: string;
  port: number;
  timeoutMs: number;
  lingerMs: number;
  /** mm: the accounts a client may sign in as. */
  users: string[];
  selection: Selection;
  /** Told the bound port and what to connect to, once listening. */
  onReady(port: number, message: string): void;
}

/** mm: the professor leaves one message for every user, so the client has something to download. */
async function greetMmUsers(port: number, users: string[]): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const lines = [PROFESSOR, ...users.map((user) => `@${user} Olá, ${user}! Mensagem de teste do conform.`)];
  socket.write(`${lines.join('\n')}\n`);
  // One f for the login, one per message: then every message is stored.
  await new Promise<void>((resolve) => {
    const check = () =>
      (text.match(/^f$/gm) ?? []).length > users.length ? resolve() : setTimeout(check, 20);
    check();
  });
  socket.destroy();
}

/**
 * Runs our server for `dialect` behind a recording proxy, waits for the client to come and go
 * (or for the timeout), then grades what it sent.
 */
export async function* serveAndGrade(options: ServeGrading): AsyncGenerator<ConformEvent> {
  const users = options.users.length ? options.users : ['alice', 'bob', 'carol'];
  const reference = await startReference(options.dialect, [...users, PROFESSOR]);
  let script: Script = {};
  let hint = '';
  try {
    if (options.dialect === 'zap') {
      const professor = await zapProfessor(reference.port);
      script = professor.script;
      hint = `; once the client signs in, ${professor.id} (the professor) sends it a 05`;
    } else if (options.dialect === 'mm') {
      await greetMmUsers(reference.port, users);
      hint = `; users: ${users.join(', ')} (each has one message from ${PROFESSOR})`;
    } else if (options.dialect === 'p2p') script = p2pPortProbe();
    const session = await recordSession({
      dialect: options.dialect,
      host: options.host,
      port: options.port,
      timeoutMs: options.timeoutMs,
      lingerMs: options.lingerMs,
      upstreamPort: reference.port,
      script,
      onListening: (port) =>
        options.onReady(
          port,
          `grading a ${options.dialect} client: connect it to ${options.host}:${port}${hint}; the report follows when it leaves or after ${options.timeoutMs} ms`,
        ),
    });
    yield* gradeSession(
      session,
      CLIENT_CASES[options.dialect],
      options.selection,
      `${options.dialect} client on ${options.host}:${options.port}`,
    );
  } finally {
    script.stop?.();
    await reference.server.close();
    fs.rmSync(reference.dataDir, { recursive: true, force: true });
  }
}

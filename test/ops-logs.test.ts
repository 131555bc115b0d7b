import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { CLI, spawnServer, type ServerProcess } from './helpers/server-process.js';
import { tempDir } from './helpers/server.js';
import type { Store } from '../src/core/ports.js';
import { loadConfig } from '../src/server/config.js';
import { createLogger, startUpSummary } from '../src/server/logger.js';

const SECRET = 'Sekr1t-alice-7f3a9';
const SECOND_SECRET = 'Sekr1t-bob-c41e2';
const WRONG_SECRET = 'Wr0ng-guess-88d1';
// eslint-disable-next-line no-control-regex -- the escape that starts a terminal colour
const ANSI = /\x1b\[[0-9;]*m/g;

const running: Array<{ kill(): void }> = [];
afterEach(() => {
  for (const process of running.splice(0)) process.kill();
});

/**
 * Registrations with secrets, sign-ins with a secret, a token and a wrong secret, and a message:
 * returns every secret and token that went over the wire.
 */
async function exchange(port: number): Promise<string[]> {
  const open: NativeTestClient[] = [];
  const connect = async () => {
    const client = await NativeTestClient.connect(port);
    open.push(client);
    return client;
  };
  try {
    const alice = await connect();
    const welcome = await alice.register({ username: 'alice', secret: SECRET, acks: true });
    const bob = await connect();
    const bobWelcome = await bob.register({ username: 'bob', secret: SECOND_SECRET, acks: true });
    await alice.send({ type: 'msg', to: 'bob', text: 'oi', cid: 'c1' });
    await bob.waitFor(ofType('msg'), 'the message');
    const byToken = await connect();
    await byToken.send({ type: 'login', id: welcome.id, token: welcome.token });
    const again = await byToken.waitFor(ofType('welcome'), 'sign-in by token');
    const bySecret = await connect();
    await bySecret.send({ type: 'login', username: 'alice', secret: SECRET });
    const third = await bySecret.waitFor(ofType('welcome'), 'sign-in by secret');
    const wrong = await connect();
    await wrong.send({ type: 'login', username: 'alice', secret: WRONG_SECRET });
    await wrong.waitFor(ofType('error'), 'refused sign-in');
    const tokens = [welcome.token, bobWelcome.token, again.token, third.token].filter(
      (token): token is string => typeof token === 'string',
    );
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    return [SECRET, SECOND_SECRET, WRONG_SECRET, ...tokens];
  } finally {
    for (const client of open) client.close();
  }
}

function lockPid(dataDir: string): number {
  return (JSON.parse(fs.readFileSync(path.join(dataDir, 'mensageiro.lock'), 'utf8')) as { pid: number }).pid;
}

async function waitFor<T>(find: () => T | undefined, what: string, child: ChildProcess): Promise<T> {
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (child.exitCode !== null) throw new Error(`exited before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('server logs', () => {
  it('are readable lines on a terminal, with no secret or token at debug level', async () => {
    const dataDir = tempDir();
    const args = [CLI, 'server', '--host', '127.0.0.1', '--data', dataDir, '--log-level', 'debug'];
    for (const port of [
      '--native-port',
      '--mm-port',
      '--zap-port',
      '--p2p-port',
      '--lobby-port',
      '--metrics-port',
      '--web-port',
    ])
      args.push(port, '0');
    // `script` runs the server on a pseudo-terminal and copies what it prints to our pipe.
    const command = [process.execPath, ...args].map((arg) => `'${arg}'`).join(' ');
    const terminal = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    running.push(terminal);
    let output = '';
    terminal.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const lines = () => output.replace(ANSI, '').split(/\r?\n/);
    const started = await waitFor(
      () => lines().find((line) => line.includes('started')),
      'the summary',
      terminal,
    );
    expect(started).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: mensageiro \S+ started/);
    expect(output).toMatch(ANSI);
    const native = Number(/"native":"127\.0\.0\.1:(\d+)"/.exec(started)?.[1]);
    const secrets = await exchange(native);
    await waitFor(() => lines().find((line) => line.includes('refused')), 'the refused sign-in', terminal);
    // The clients are closed; the server logs each disconnect when it reads the FIN, which may come after.
    await waitFor(
      () => lines().find((line) => line.includes('closed by the client')),
      'a disconnect by the client',
      terminal,
    );
    process.kill(lockPid(dataDir), 'SIGTERM');
    await new Promise((resolve) => terminal.once('exit', resolve));

    const log = lines().filter((line) => line.trim() !== '');
    expect(log).toContainEqual(
      expect.stringMatching(/INFO: signed in \{"dialect":"native","ip":"127.0.0.1"/),
    );
    expect(log).toContainEqual(expect.stringMatching(/INFO: registered \{.*"username":"alice"/));
    expect(log).toContainEqual(
      expect.stringMatching(/INFO: disconnected \{.*"reason":"closed by the client"/),
    );
    for (const line of log) {
      expect(() => JSON.parse(line)).toThrow();
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });

  it('are JSON when piped, with sign-ins, registrations and disconnects, and no secret or token', async () => {
    const server: ServerProcess = await spawnServer(tempDir(), ['--log-level', 'debug']);
    running.push({ kill: () => void server.kill() });
    let raw = '';
    server.child.stdout!.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    const secrets = await exchange(server.ports.native!);
    const until = async (message: string) => {
      while (!server.logs.some((entry) => entry.msg === message)) await new Promise((r) => setTimeout(r, 20));
    };
    await until('sign-in refused');
    await until('disconnected');
    await server.kill();

    expect(server.logs.find((entry) => String(entry.msg).endsWith(' started'))).toMatchObject({
      data: expect.any(String),
      listening: { native: `127.0.0.1:${server.ports.native}` },
      tls: 'off',
    });
    expect(server.logs.filter((entry) => entry.msg === 'registered')).toEqual([
      expect.objectContaining({ dialect: 'native', ip: '127.0.0.1', username: 'alice' }),
      expect.objectContaining({ dialect: 'native', ip: '127.0.0.1', username: 'bob' }),
    ]);
    expect(server.logs.filter((entry) => entry.msg === 'signed in')).toHaveLength(2);
    expect(server.logs.find((entry) => entry.msg === 'sign-in refused')).toMatchObject({
      code: 'auth_failed',
    });
    expect(server.logs.find((entry) => entry.msg === 'disconnected')).toMatchObject({
      reason: 'closed by the client',
    });
    const everything = `${raw}${server.logs.map((entry) => JSON.stringify(entry)).join('\n')}`;
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('warns in the start-up summary when the server listens on every interface', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const summarize = (host: string) => {
      lines.length = 0;
      const config = loadConfig({ flags: { host, data: ':memory:' } });
      startUpSummary(createLogger('info', 'json', sink), config, { native: 7333 }, {} as Store);
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    };
    const everywhere = summarize('0.0.0.0');
    expect(everywhere[0]).toMatchObject({ listening: { native: '0.0.0.0:7333' }, tls: 'off' });
    expect(everywhere[1]).toMatchObject({
      level: 40,
      msg: expect.stringContaining('every network interface'),
    });
    expect(summarize('127.0.0.1')).toHaveLength(1);
  });
});

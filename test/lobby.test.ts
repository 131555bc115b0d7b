import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server/config.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { tempDir } from './helpers/server.js';

let server: RunningServer;
const logs: string[] = [];
const open: Array<{ close(): void }> = [];

async function start(): Promise<RunningServer> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig({
    flags: {
      host: '127.0.0.1',
      data: tempDir(),
      nativePort: 0,
      mmPort: 'off',
      zapPort: 'off',
      p2pPort: 'off',
      lobbyPort: 0,
      metricsPort: 0,
      webPort: 'off',
    },
  });
  server = await startServer(config, { log: pino({ level: 'info' }, sink) });
  return server;
}

/** What a course client sends: the byte length, space-padded to 64 bytes, then the payload. */
function headed(text: string, pad: 'space-right' | 'nul-left' = 'space-right'): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const length = String(payload.length);
  const header = pad === 'space-right' ? length.padEnd(64, ' ') : length.padStart(64, '\0');
  return Buffer.concat([Buffer.from(header, 'latin1'), payload]);
}

async function lobbyClient(): Promise<RawSocket> {
  const client = await RawSocket.connect(server.ports.lobby!);
  open.push(client);
  return client;
}

const CTIME =
  /^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\]/;

afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server.close();
  logs.length = 0;
});

describe('lobby (seed 004)', () => {
  it('broadcasts to every client, the sender included, in the course server format, with the length in bytes', async () => {
    await start();
    const clients = [await lobbyClient(), await lobbyClient(), await lobbyClient()];
    const sender = clients[0]!;
    const text = 'olá, turma! ção 🎉';
    await sender.write(headed(text));
    const expectedTail = `[('127.0.0.1', ${sender.socket.localPort})]: ${text}\n`;
    for (const client of clients) {
      const line = await client.until(
        () => (client.text.endsWith('\n') ? client.text : undefined),
        'broadcast',
      );
      expect(line).toMatch(CTIME);
      expect(line.endsWith(expectedTail)).toBe(true);
      expect(line.split('\n')).toHaveLength(2);
    }
    // NUL padding on the left is accepted too.
    await clients[1]!.write(headed('nul', 'nul-left'));
    await sender.until(() => sender.text.includes(': nul\n'), 'NUL-padded message');
  });

  it('disconnects on :D, closes only a connection with a garbage header, and logs every accept', async () => {
    await start();
    const stays = await lobbyClient();
    const leaves = await lobbyClient();
    const garbage = await lobbyClient();
    await leaves.write(headed(':D'));
    await leaves.waitClosed();
    await garbage.write(Buffer.from('hello, this is not a header'.padEnd(64, 'x')));
    await garbage.waitClosed();
    const oversized = await lobbyClient();
    await oversized.write(Buffer.from('99999999999'.padEnd(64, ' ')));
    await oversized.waitClosed();
    await stays.write(headed('still here'));
    await stays.until(() => stays.text.includes(': still here\n'), 'message after the others left');
    expect(stays.text).not.toContain(':D');
    const accepts = logs
      .map((l) => JSON.parse(l).msg as string)
      .filter((m) => m.startsWith('[NOVA CONEXÃO]'));
    expect(accepts[0]).toBe(
      `[NOVA CONEXÃO]: ('127.0.0.1', ${stays.socket.localPort}) se conectou! [CONEXÕES ATIVAS]: 1`,
    );
    expect(accepts).toHaveLength(4);
    const metrics = await fetch(`http://127.0.0.1:${server.ports.metrics}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^mensageiro_lobby_connections 1$/m);
  });

  it('is one room with the native lobby: both sides see the same messages', async () => {
    await start();
    const raw = await lobbyClient();
    const native = await NativeTestClient.connect(server.ports.native!);
    open.push(native);
    await native.register({ username: 'nina' });
    await native.send({ type: 'lobby.join' });
    await native.waitFor(ofType('lobby.joined'), 'joined');
    await raw.write(headed('oi nina'));
    expect(await native.waitFor(ofType('lobby'), 'post from raw')).toMatchObject({
      author: `('127.0.0.1', ${raw.socket.localPort})`,
      text: 'oi nina',
    });
    await native.send({ type: 'lobby', text: 'oi sala' });
    await raw.until(() => raw.text.includes('[nina]: oi sala\n'), 'post from native');
  });
});

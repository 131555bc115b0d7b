import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, frame, ofType, parseFrames } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { spawnServer } from './helpers/server-process.js';
import { ZapTestClient, z03 } from './helpers/zap-client.js';

let server: TestServer;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await server.close();
});

async function native(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server.ports.native!);
  open.push(client);
  return client;
}

describe('sign-in: accounts with a secret only enter where the secret travels', () => {
  it('refuses zap 03, the mm username and native new for such an account', async () => {
    server = await startTestServer();
    const owner = await native();
    const welcome = await owner.register({ username: 'guarded', secret: 'pw' });
    const id = String(welcome.id).padStart(13, '0');

    const zap = await RawSocket.connect(server.ports.zap!);
    open.push(zap);
    await zap.write(z03(id));
    await zap.waitClosed();

    const mm = await LineTestClient.connect(server.ports.mm!);
    open.push(mm);
    await mm.write('guarded\n');
    await mm.raw.waitClosed();
    expect(mm.lines).toEqual(['@mensageiro guarded signs in with a secret; use the native client']);

    const viaNew = await native();
    await viaNew.send({ type: 'new', id: welcome.id });
    expect(await viaNew.waitFor(ofType('error'), 'refusal')).toMatchObject({ code: 'auth_required' });
  });
});

describe('rate limits: a clear error frame, never a disconnect', () => {
  it('limits messages per account, registrations and sign-in attempts per address', async () => {
    server = await startTestServer({
      messageBurst: 5,
      messageRate: 0.001,
      registerBurst: 3,
      registerRate: 0.001,
      signInBurst: 4,
      signInRate: 0.001,
    });
    const a = await native();
    const b = await native();
    const aw = await a.register({ acks: true });
    const bw = await b.register({ username: 'limited', secret: 'right', acks: true });
    for (let n = 0; n < 7; n++) await a.send({ type: 'msg', to: bw.id, text: `m${n}`, cid: `c${n}` });
    const outcomes = await a.waitForCount((f) => f.type === 'sent' || f.type === 'error', 7, 'outcomes');
    // Refusals answer at once; acks wait for the commit. So compare by cid, not by order.
    expect(
      outcomes
        .filter(ofType('sent'))
        .map((f) => f.cid)
        .sort(),
    ).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    const refusals = outcomes.filter(ofType('error'));
    expect(refusals.map((f) => [f.code, f.cid])).toEqual([
      ['rate_limited', 'c5'],
      ['rate_limited', 'c6'],
    ]);
    expect(refusals[0]!.text).toMatch(/too many messages; try again in \d+ s/);
    await a.send({ type: 'ping' });
    await a.waitFor(ofType('pong'), 'still connected');
    expect(aw.id).toEqual(expect.any(Number));

    // Three registrations from this address were allowed (a, b, and this one); the fourth is not.
    const third = await native();
    expect((await third.register()).type).toBe('welcome');
    const fourth = await native();
    expect(await fourth.register()).toMatchObject({ type: 'error', code: 'rate_limited' });
    await fourth.send({ type: 'ping' });
    await fourth.waitFor(ofType('pong'), 'refused registration keeps the connection');

    const guesser = await native();
    for (let n = 0; n < 5; n++)
      await guesser.send({ type: 'login', username: 'limited', secret: `guess${n}` });
    const answers = await guesser.waitForCount(ofType('error'), 5, 'answers');
    expect(answers.map((f) => f.code)).toEqual([
      'auth_failed',
      'auth_failed',
      'auth_failed',
      'auth_failed',
      'rate_limited',
    ]);
  });
});

describe('connection limits', () => {
  it('refuses connections over the per-address limit with a clear error', async () => {
    server = await startTestServer({ maxConnectionsPerIp: 3 });
    const kept = await Promise.all([native(), native(), native()]);
    const refused = await RawSocket.connect(server.ports.native!);
    open.push(refused);
    await refused.waitClosed();
    expect(parseFrames(refused.received)).toEqual([
      { type: 'error', code: 'too_many_connections', text: 'too many connections from your address' },
    ]);
    kept[0]!.close();
    await kept[0]!.raw.waitClosed();
    // A slot freed is a slot again (the count follows the closes).
    const again = await RawSocket.connect(server.ports.native!);
    open.push(again);
    await again.write(frame({ type: 'ping' }));
    await again.until(() => parseFrames(again.received).find(ofType('pong')), 'pong after a slot freed');
  });

  it('refuses connections over the total limit, on every port', async () => {
    server = await startTestServer({ maxConnections: 2 });
    await native();
    const zap = await ZapTestClient.connect(server.ports.zap!);
    open.push(zap);
    await zap.register();
    const refused = await LineTestClient.connect(server.ports.mm!);
    open.push(refused);
    await refused.raw.waitClosed();
    expect(refused.lines).toEqual(['@mensageiro the server is full, try again later']);
  });
});

describe('slow consumers', () => {
  const rssOf = (pid: number) =>
    Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

  /** Signs in over a raw socket, then never reads again. */
  async function stuckReader(
    port: number,
    signIn: Record<string, unknown>,
  ): Promise<{ id: number; socket: net.Socket }> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    socket.write(frame({ ...signIn, acks: true }));
    while (!parseFrames(received).find(ofType('welcome'))) await new Promise((r) => setTimeout(r, 10));
    socket.pause();
    socket.removeAllListeners('data');
    return { id: parseFrames(received).find(ofType('welcome'))!.id as number, socket };
  }

  it('disconnects clients that stop reading, keeps server memory bounded, and loses nothing', async () => {
    // A real server process, so its RSS is its own.
    const proc = await spawnServer(tempDir(), ['--write-stall-timeout', '300', '--message-burst', '0']);
    server = { close: () => proc.kill().then(() => undefined) } as TestServer;
    const port = proc.ports.native!;
    const sender = await NativeTestClient.connect(port);
    open.push(sender);
    await sender.register({ acks: true });
    const members = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const member = await stuckReader(port, { type: 'register', username: `stuck${i}`, secret: 'pw' });
        member.socket.destroy();
        return member.id;
      }),
    );
    await sender.send({ type: 'group', name: 'stuck', members, cid: 'g' });
    const { gid } = await sender.waitFor(ofType('group.created'), 'group');
    const text = 'x'.repeat(4096);
    const total = 3000;
    const burst = async (from: number) => {
      await sender.raw.write(
        Array.from({ length: total }, (_, n) =>
          frame({ type: 'msg', to: gid, text, cid: `s${from + n}` }),
        ).join(''),
      );
      await sender.waitForCount(ofType('sent'), from + total, 'messages accepted');
    };

    // Phase 1, members offline: the same ingest warms the heap and SQLite's cache.
    await burst(0);
    const warmed = rssOf(proc.child.pid!);
    // Phase 2: all seven come back and stop reading; each is owed both bursts.
    const stuck = await Promise.all(
      members.map((_, i) => stuckReader(port, { type: 'login', username: `stuck${i}`, secret: 'pw' })),
    );
    await burst(total);
    const drops = await sender.raw.until(() => {
      const found = proc.logs.filter((l) => l.msg === 'slow consumer disconnected');
      return found.length >= stuck.length ? found : undefined;
    }, 'every stuck reader dropped');
    const grown = rssOf(proc.child.pid!) - warmed;
    const owed = 2 * total * text.length * stuck.length;
    const maxBuffered = Math.max(...drops.map((d) => Number(d.buffered)));
    console.log(
      `stuck readers: ${(owed / 1048576).toFixed(0)} MiB owed to 7 of them; each dropped with at most ${(maxBuffered / 1024).toFixed(0)} KiB buffered; server RSS grew ${(grown / 1048576).toFixed(1)} MiB (from ${(warmed / 1048576).toFixed(0)} MiB)`,
    );
    // What the process holds per connection is bounded (the high-water mark plus one frame); RSS
    // also counts uncollected garbage, so it gets a ceiling rather than a tight bound.
    expect(maxBuffered).toBeLessThan(1024 * 1024);
    expect(rssOf(proc.child.pid!)).toBeLessThan(512 * 1024 * 1024);
    for (const { socket } of stuck) socket.destroy();

    const back = await NativeTestClient.connect(port);
    open.push(back);
    await back.send({ type: 'login', username: 'stuck3', secret: 'pw', acks: true });
    const got = await back.waitForCount(ofType('msg'), 2 * total, 'everything, from the store');
    expect(got.every((f) => f.text === text)).toBe(true);
  }, 90_000);
});

describe('TLS', () => {
  it('serves the native dialect over TLS with a pinned CA, and refuses an unpinned client', async () => {
    const dir = tempDir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    server = await startTestServer({ tlsCert: cert, tlsKey: key, tlsPort: 0 });
    expect(server.ports.tls).toEqual(expect.any(Number));
    const secure = new Client({
      host: '127.0.0.1',
      port: server.ports.tls!,
      register: { username: 'tls-user' },
      tls: { ca: fs.readFileSync(cert) },
    });
    await secure.connect();
    const plain = await native();
    const plainWelcome = await plain.register({ acks: true });
    const ack = await secure.send(plainWelcome.id as number, 'sobre TLS');
    expect(ack.duplicate).toBe(false);
    expect(await plain.waitFor(ofType('msg'), 'message over TLS')).toMatchObject({
      text: 'sobre TLS',
      id: secure.id,
    });
    secure.close();

    const unpinned = new Client({
      host: '127.0.0.1',
      port: server.ports.tls!,
      register: {},
      tls: true,
      reconnect: false,
    });
    await expect(unpinned.connect()).rejects.toMatchObject({
      message: expect.stringMatching(/self.signed|certificate/i),
    });
  });
});

describe('zap under the registration limit', () => {
  it('closes a refused 01 instead of leaving the client waiting for its 02', async () => {
    server = await startTestServer({ registerBurst: 1, registerRate: 0.001 });
    const first = await ZapTestClient.connect(server.ports.zap!);
    open.push(first);
    await first.register();
    const second = await ZapTestClient.connect(server.ports.zap!);
    open.push(second);
    await second.write('01');
    await second.raw.waitClosed();
    expect(second.raw.text).toBe('');
  });
});

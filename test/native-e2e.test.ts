import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { NativeTestClient, frame, ofType, parseFrames, type Frame } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let clients: NativeTestClient[] = [];
let port: number;

async function connect(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(port);
  clients.push(client);
  return client;
}

async function registered(
  extra: Frame = {},
): Promise<{ client: NativeTestClient; id: number; welcome: Frame }> {
  const client = await connect();
  const welcome = await client.register({ acks: true, ...extra });
  expect(welcome.type).toBe('welcome');
  return { client, id: welcome.id as number, welcome };
}

beforeEach(async () => {
  server = await startTestServer();
  port = server.ports.native!;
});

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await server.close();
});

describe('native dialect', () => {
  it('two clients exchange messages both ways, with durable acks and receipts', async () => {
    const alice = await registered({ username: 'alice' });
    const bob = await registered({ username: 'bob' });
    expect(String(alice.id)).toMatch(/^[1-9]\d{12}$/);

    await alice.client.send({ type: 'msg', to: 'bob', text: 'oi bob', cid: 'a-1' });
    const sent = await alice.client.waitFor(ofType('sent'), 'ack of a-1');
    expect(sent).toMatchObject({ cid: 'a-1', to: bob.id, duplicate: false });
    const atBob = await bob.client.waitFor((f) => f.type === 'msg' && f.text === 'oi bob', 'delivery to bob');
    expect(atBob).toMatchObject({ id: alice.id, to: bob.id, mid: sent.mid, seq: expect.any(Number) });

    await bob.client.send({ type: 'ack', seq: atBob.seq });
    const delivered = await alice.client.waitFor(
      (f) => f.type === 'receipt' && f.status === 'delivered',
      'receipt',
    );
    expect(delivered).toMatchObject({ by: bob.id, conv: bob.id, mid: sent.mid });

    await bob.client.send({ type: 'read', conv: alice.id, mid: atBob.mid });
    const read = await alice.client.waitFor(
      (f) => f.type === 'receipt' && f.status === 'read',
      'read receipt',
    );
    expect(read).toMatchObject({ by: bob.id, mid: sent.mid });

    await bob.client.send({ type: 'msg', to: alice.id, text: 'olá alice 🎉', cid: 7 });
    const reply = await alice.client.waitFor((f) => f.type === 'msg', 'reply to alice');
    expect(reply).toMatchObject({ id: bob.id, to: alice.id, text: 'olá alice 🎉' });
    expect(await bob.client.waitFor(ofType('sent'), 'ack of cid 7')).toMatchObject({ cid: 7 });
  });

  it('a seed-000 client that knows only new/msg/out works unchanged', async () => {
    const legacy = await connect();
    const modern = await registered();
    await legacy.send({ id: 42, to: 0, type: 'new', text: '' });
    await legacy.send({ id: 42, to: modern.id, type: 'msg', text: 'hello from 2019' });
    const got = await modern.client.waitFor(ofType('msg'), 'message from the seed-000 client');
    expect(got).toMatchObject({ id: 42, to: modern.id, text: 'hello from 2019' });

    await modern.client.send({ type: 'msg', to: 42, text: 'hi 42', cid: 'm1' });
    const atLegacy = await legacy.waitFor(ofType('msg'), 'message to the seed-000 client');
    expect(atLegacy).toMatchObject({ id: modern.id, to: 42, text: 'hi 42', type: 'msg' });
    // Written to a client that never acks counts as delivered: the sender gets its receipt,
    // and the seed-000 client sees nothing but msg frames.
    await modern.client.waitFor(
      (f) => f.type === 'receipt' && f.status === 'delivered' && f.by === 42,
      'receipt',
    );
    expect(legacy.frames.every((f) => f.type === 'msg')).toBe(true);

    await legacy.send({ id: 42, to: 0, type: 'out', text: '' });
    await legacy.raw.waitClosed();
    // Not sent again on the next `new`.
    const again = await connect();
    await again.send({ id: 42, to: 0, type: 'new', text: '' });
    await again.send({ type: 'msg', id: 42, to: modern.id, text: 'still here' });
    await modern.client.waitFor((f) => f.type === 'msg' && f.text === 'still here', 'second message');
    expect(again.frames.filter(ofType('msg'))).toEqual([]);
  });

  it('drains a backlog larger than the inbox tail, part from the file and part from memory', async () => {
    await server.close();
    // 1 MiB holds about 3,800 of these; the older part of the backlog is read from the file.
    server = await startTestServer({ inboxTailMib: 1, messageBurst: 0 });
    port = server.ports.native!;
    const sender = await registered();
    const offline = await registered({ username: 'away', secret: 's3cret' });
    offline.client.close();
    await offline.client.raw.waitClosed();
    const total = 8000;
    for (let n = 1; n <= total; n++)
      await sender.client.send({ type: 'msg', to: offline.id, text: `${n}`.padEnd(100, '.'), cid: `c${n}` });
    await sender.client.waitForCount(ofType('sent'), total, 'acks');

    const back = await connect();
    await back.send({ type: 'login', username: 'away', secret: 's3cret', acks: true });
    const got = await back.waitForCount(ofType('msg'), total, 'the backlog');
    expect(got.map((f) => f.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(got.map((f) => Number.parseInt(f.text as string, 10))).toEqual(got.map((f) => f.seq));
    await back.send({ type: 'ack', seq: total });
    await sender.client.waitFor((f) => f.type === 'receipt' && f.mid === got[total - 1]!.mid, 'receipt');
  });

  it('delivers what was sent while offline on connect, in order, exactly once', async () => {
    const sender = await registered();
    const offline = await registered({ username: 'sleepy', secret: 's3cret' });
    offline.client.close();
    await offline.client.raw.waitClosed();
    for (let n = 1; n <= 20; n++)
      await sender.client.send({ type: 'msg', to: offline.id, text: `n${n}`, cid: `c${n}` });
    await sender.client.waitForCount(ofType('sent'), 20, 'acks');

    const back = await connect();
    await back.send({ type: 'login', username: 'sleepy', secret: 's3cret', acks: true });
    const first = await back.waitForCount(ofType('msg'), 20, 'pending messages');
    expect(first.map((f) => f.text)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i + 1}`));
    expect(first.map((f) => f.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Ack half, drop, come back: exactly the unacked half again.
    await back.send({ type: 'ack', seq: 10 });
    await sender.client.waitFor((f) => f.type === 'receipt' && f.mid === first[9]!.mid, 'receipt for 10');
    back.close();
    const third = await connect();
    await third.send({ type: 'login', username: 'sleepy', secret: 's3cret', acks: true });
    const rest = await third.waitForCount(ofType('msg'), 10, 'unacked messages');
    expect(rest.map((f) => f.text)).toEqual(Array.from({ length: 10 }, (_, i) => `n${i + 11}`));
    // Resume from a seq instead: everything after it, no gap, no duplicate.
    const fourth = await connect();
    await fourth.send({ type: 'login', username: 'sleepy', secret: 's3cret', acks: true, resume: 17 });
    const resumed = await fourth.waitForCount(ofType('msg'), 3, 'messages after 17');
    expect(resumed.map((f) => f.seq)).toEqual([18, 19, 20]);
    await fourth.send({ type: 'ping' });
    await fourth.waitFor(ofType('pong'), 'pong');
    expect(fourth.frames.filter(ofType('msg'))).toHaveLength(3);
  });

  it('acknowledges a resend with the same client id but stores and delivers it once', async () => {
    const a = await registered();
    const b = await registered();
    await a.client.send({ type: 'msg', to: b.id, text: 'once', cid: 'same' });
    await a.client.send({ type: 'msg', to: b.id, text: 'once', cid: 'same' });
    const acks = await a.client.waitForCount(ofType('sent'), 2, 'both acks');
    expect(acks.map((f) => f.duplicate)).toEqual([false, true]);
    expect(acks[0]!.mid).toBe(acks[1]!.mid);
    await a.client.send({ type: 'msg', to: b.id, text: 'marker', cid: 'other' });
    await b.client.waitFor((f) => f.type === 'msg' && f.text === 'marker', 'marker');
    expect(b.client.frames.filter((f) => f.type === 'msg' && f.text === 'once')).toHaveLength(1);
  });

  it('answers malformed input with error frames and never disturbs another client', async () => {
    const a = await registered();
    const b = await registered();
    const attacks: Array<[string | Buffer, string, boolean]> = [
      ['3,{x}', 'bad_json', false],
      [frame({ type: 'teleport' }), 'unknown_type', false],
      [Buffer.concat([Buffer.from('3,"'), Buffer.from([0xc3, 0x28])]), 'bad_utf8', false],
      [frame({ type: 'msg', to: 1234567890123, text: 'nobody' }), 'unknown_recipient', false],
      ['12a,{}', 'bad_frame', true],
      ['99999999999,{}', 'too_large', true],
    ];
    for (const [bytes, code, fatal] of attacks) {
      const victim = await RawSocket.connect(port);
      await victim.write(frame({ type: 'new', id: 5_000_000_000_001, acks: true }));
      await victim.write(bytes);
      const errors = await victim.until(() => {
        const found = parseFrames(victim.received).filter(ofType('error'));
        return found.length > 0 ? found : undefined;
      }, `error ${code}`);
      expect(errors[0]).toMatchObject({ type: 'error', code, text: expect.any(String) });
      if (fatal) await victim.waitClosed();
      victim.close();
    }
    await a.client.send({ type: 'msg', to: b.id, text: 'unharmed', cid: 'u' });
    await b.client.waitFor((f) => f.type === 'msg' && f.text === 'unharmed', 'message after the attacks');
  });

  it('rejects a spoofed sender id and a message before sign-in', async () => {
    const a = await registered();
    await a.client.send({ type: 'msg', id: 1_234_567_890_123, to: a.id, text: 'x', cid: 's' });
    expect(await a.client.waitFor(ofType('error'), 'spoof error')).toMatchObject({
      code: 'spoofed_sender',
      cid: 's',
    });
    const anonymous = await connect();
    await anonymous.send({ type: 'msg', to: a.id, text: 'x' });
    expect(await anonymous.waitFor(ofType('error'), 'error')).toMatchObject({ code: 'not_signed_in' });
  });

  it('signs in with a secret or a token, and refuses secret-less ways into such an account', async () => {
    const { welcome, id } = await registered({ username: 'dora', secret: 'pw' });
    expect(welcome.token).toEqual(expect.any(String));
    const wrong = await connect();
    await wrong.send({ type: 'login', username: 'dora', secret: 'nope' });
    expect(await wrong.waitFor(ofType('error'), 'auth error')).toMatchObject({ code: 'auth_failed' });
    const viaNew = await connect();
    await viaNew.send({ type: 'new', id });
    expect(await viaNew.waitFor(ofType('error'), 'auth required')).toMatchObject({ code: 'auth_required' });
    const viaToken = await connect();
    await viaToken.send({ type: 'login', token: welcome.token });
    expect(await viaToken.waitFor(ofType('welcome'), 'welcome by token')).toMatchObject({
      id,
      username: 'dora',
    });
    const taken = await connect();
    expect(await taken.register({ username: 'DORA' })).toMatchObject({
      type: 'error',
      code: 'username_taken',
    });
  });

  it('creates a group, fans out messages, and sends the group receipt when all have it', async () => {
    const a = await registered({ username: 'ga' });
    const b = await registered({ username: 'gb' });
    const c = await registered({ username: 'gc' });
    await a.client.send({ type: 'group', name: 'trio', members: ['gb', c.id], cid: 'g1' });
    const created = await a.client.waitFor(ofType('group.created'), 'group created');
    for (const member of [a, b, c]) {
      const notice = await member.client.waitFor(ofType('group'), 'group notice');
      expect(notice).toMatchObject({
        gid: created.gid,
        name: 'trio',
        creator: a.id,
        members: [a.id, b.id, c.id],
      });
    }
    await a.client.send({ type: 'msg', to: created.gid, text: 'hi group', cid: 'gm' });
    const atB = await b.client.waitFor(ofType('msg'), 'group msg at b');
    const atC = await c.client.waitFor(ofType('msg'), 'group msg at c');
    expect(atB).toMatchObject({ id: a.id, to: created.gid, text: 'hi group' });
    expect(a.client.frames.filter(ofType('msg'))).toEqual([]);
    await b.client.send({ type: 'ack', seq: atB.seq });
    await c.client.send({ type: 'ping' });
    await c.client.waitFor(ofType('pong'), 'pong');
    expect(a.client.frames.filter(ofType('receipt'))).toEqual([]);
    await c.client.send({ type: 'ack', seq: atC.seq });
    const receipt = await a.client.waitFor(ofType('receipt'), 'group receipt');
    expect(receipt).toMatchObject({ status: 'delivered', by: created.gid, conv: created.gid, mid: atB.mid });

    const big = await connect();
    await big.register();
    await big.send({
      type: 'group',
      members: Array.from({ length: 8 }, (_, i) => [a.id, b.id, c.id][i % 3]),
    });
    // Duplicates collapse: a group of 4 is fine; 8 distinct others would not be.
    await big.waitFor(ofType('group.created'), 'small group');
  });

  it('reports presence and its changes', async () => {
    const a = await registered();
    const b = await registered();
    await a.client.send({ type: 'who', ids: [b.id, 1_999_999_999_999] });
    const initial = await a.client.waitForCount(ofType('presence'), 2, 'presence');
    expect(initial).toEqual([
      { type: 'presence', id: b.id, online: true },
      { type: 'presence', id: 1_999_999_999_999, online: false },
    ]);
    b.client.close();
    expect(
      await a.client.waitFor((f) => f.type === 'presence' && f.online === false && f.id === b.id, 'offline'),
    ).toBeTruthy();
  });

  it('speaks compressed z frames to a client that sends them', async () => {
    const a = await registered();
    const raw = await RawSocket.connect(port);
    const json = Buffer.from(JSON.stringify({ type: 'new', id: 6_000_000_000_001, compress: true }));
    const packed = zlib.deflateRawSync(json);
    await raw.write(Buffer.concat([Buffer.from(`z${packed.length},`), packed]));
    await raw.until(() => parseFrames(raw.received).find(ofType('welcome')), 'compressed welcome');
    await a.client.send({ type: 'msg', to: 6_000_000_000_001, text: 'x'.repeat(500), cid: 'z' });
    const got = await raw.until(() => parseFrames(raw.received).find(ofType('msg')), 'compressed msg');
    expect(got.text).toBe('x'.repeat(500));
    expect(raw.received[0]).toBe(0x7a);
    // 500 bytes of text travel in far fewer: the server answered compressed.
    expect(raw.received.length).toBeLessThan(300);
    raw.close();
  });

  it('carries the lobby and the p2p directory to native clients', async () => {
    const a = await registered({ username: 'lobbyist' });
    const b = await registered();
    await a.client.send({ type: 'lobby.join' });
    await b.client.send({ type: 'lobby.join' });
    await b.client.waitFor(ofType('lobby.joined'), 'joined');
    await a.client.waitFor(ofType('lobby.joined'), 'joined');
    await a.client.send({ type: 'lobby', text: 'bom dia' });
    for (const client of [a.client, b.client]) {
      expect(await client.waitFor(ofType('lobby'), 'lobby post')).toMatchObject({
        author: 'lobbyist',
        text: 'bom dia',
      });
    }
    server.hub.directory.register('peer1', '127.0.0.1', 5555);
    await b.client.send({ type: 'dir.list' });
    expect(await b.client.waitFor(ofType('dir.list'), 'list')).toMatchObject({ names: ['peer1'] });
    await b.client.send({ type: 'dir.addr', name: 'peer1' });
    expect(await b.client.waitFor(ofType('dir.addr'), 'addr')).toMatchObject({ ip: '127.0.0.1', port: 5555 });
  });

  it('closes a connection that never identifies itself within the handshake timeout', async () => {
    await server.close();
    server = await startTestServer({ handshakeTimeout: 300 });
    port = server.ports.native!;
    const silent = await RawSocket.connect(port);
    const dribbler = await RawSocket.connect(port);
    await dribbler.write('1');
    await silent.waitClosed();
    await dribbler.waitClosed();
    const good = await registered();
    expect(good.client.raw.closed).toBe(false);
  });
});

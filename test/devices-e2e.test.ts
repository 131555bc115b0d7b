import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// One account on several native connections (devices), over real sockets with raw frames.

let server: TestServer;
let clients: NativeTestClient[] = [];

async function connect(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server.ports.native!);
  clients.push(client);
  return client;
}

/** Signs in on a new connection and returns the connection and its welcome (or error). */
async function signIn(request: Frame): Promise<{ client: NativeTestClient; welcome: Frame }> {
  const client = await connect();
  await client.send({ acks: true, ...request });
  const welcome = await client.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'welcome');
  return { client, welcome };
}

const msgText = (text: string) => (f: Frame) => f.type === 'msg' && f.text === text;

/** Sends and waits for the durable ack. */
async function say(client: NativeTestClient, to: number | string, text: string): Promise<Frame> {
  const cid = `c-${text}`;
  await client.send({ type: 'msg', to, text, cid });
  return client.waitFor((f) => (f.type === 'sent' || f.type === 'error') && f.cid === cid, `ack of ${text}`);
}

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await server.close();
});

describe('one account on several devices', () => {
  it('delivers to every device once, syncs reads and sends, and receipts the first delivery', async () => {
    const first = await signIn({ type: 'register', username: 'alice', secret: 's3cret' });
    const alice = first.welcome.id as number;
    expect(first.welcome).toMatchObject({ type: 'welcome', device: 1, token: expect.any(String) });
    const second = await signIn({ type: 'login', username: 'alice', secret: 's3cret' });
    const third = await signIn({ type: 'login', username: 'alice', secret: 's3cret', device_name: 'sdk' });
    expect([second.welcome.device, third.welcome.device]).toEqual([2, 3]);
    const devices = [first.client, second.client, third.client];
    const bob = await signIn({ type: 'register', username: 'bob' });
    const bobId = bob.welcome.id as number;

    await say(bob.client, alice, 'oi alice');
    const copies = await Promise.all(devices.map((d) => d.waitFor(msgText('oi alice'), 'delivery')));
    expect(copies.map((c) => c.from_name)).toEqual(['bob', 'bob', 'bob']);
    // The first device's ack is the delivery; bob gets one receipt for it.
    await first.client.send({ type: 'ack', seq: copies[0]!.seq });
    await bob.client.waitFor((f) => f.type === 'receipt' && f.status === 'delivered', 'delivered');

    // A read on the first device reaches the other two, and their unread count is 0.
    await first.client.send({ type: 'read', conv: bobId, mid: copies[0]!.mid });
    for (const device of [second.client, third.client]) {
      const read = await device.waitFor(ofType('read'), 'read sync');
      expect(read).toMatchObject({ conv: bobId, mid: copies[0]!.mid });
    }
    await bob.client.waitFor((f) => f.type === 'receipt' && f.status === 'read', 'read receipt');
    await second.client.send({ type: 'conversations', cid: 'c' });
    const list = await second.client.waitFor(ofType('conversations'), 'conversations');
    expect(list.conversations).toMatchObject([{ conv: bobId, kind: 'user', name: 'bob', unread: 0 }]);

    // What the second device sends shows on the first and the third, in order, once.
    const ack = await say(second.client, 'bob', 'from my phone');
    expect(ack.type).toBe('sent');
    for (const device of [first.client, third.client]) {
      const copy = await device.waitFor(msgText('from my phone'), 'sent sync');
      expect(copy).toMatchObject({ id: alice, to: bobId, mid: ack.mid });
    }
    await bob.client.waitFor(msgText('from my phone'), 'delivery to bob');
    // A later message marks the end: by then every copy that would come has come.
    await say(bob.client, alice, 'marker');
    await Promise.all(devices.map((d) => d.waitFor(msgText('marker'), 'marker')));
    const count = (client: NativeTestClient, text: string) => client.frames.filter(msgText(text)).length;
    expect(devices.map((d) => count(d, 'oi alice'))).toEqual([1, 1, 1]);
    expect(devices.map((d) => count(d, 'from my phone'))).toEqual([1, 0, 1]);
    expect(first.client.frames.filter(ofType('read'))).toEqual([]);
    expect(count(bob.client, 'from my phone')).toBe(1);
  });

  it('lets a fresh device sign in with username and secret and rebuild from the server', async () => {
    const alice = await signIn({ type: 'register', username: 'alice', secret: 's3cret' });
    const bob = await signIn({ type: 'register', username: 'bob', secret: 'b0b' });
    const bobId = bob.welcome.id as number;
    for (let n = 1; n <= 60; n++) {
      if (n % 3 === 0) await say(alice.client, bobId, `m${n}`);
      else await say(bob.client, alice.welcome.id as number, `m${n}`);
    }
    const fresh = await signIn({ type: 'login', username: 'alice', secret: 's3cret' });
    expect(fresh.welcome).toMatchObject({ type: 'welcome', id: alice.welcome.id, device: 2 });
    await fresh.client.send({ type: 'conversations', cid: 'list' });
    const list = await fresh.client.waitFor(ofType('conversations'), 'conversations');
    expect(list).toMatchObject({
      cid: 'list',
      conversations: [
        { conv: bobId, name: 'bob', unread: 40, last: { text: 'm60', from: alice.welcome.id } },
      ],
    });
    await fresh.client.send({ type: 'history', conv: 'bob', limit: 50, cid: 'h1' });
    const page = await fresh.client.waitFor((f) => f.type === 'history' && f.cid === 'h1', 'history');
    const messages = page.messages as Frame[];
    expect(messages).toHaveLength(50);
    expect(messages.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${60 - i}`));
    expect(messages[1]).toMatchObject({ from: bobId, from_name: 'bob', to: alice.welcome.id });
    expect(page.more).toBe(true);
    await fresh.client.send({ type: 'history', conv: bobId, before: messages[49]!.mid, cid: 'h2' });
    const rest = await fresh.client.waitFor((f) => f.type === 'history' && f.cid === 'h2', 'page 2');
    expect((rest.messages as Frame[]).map((m) => m.text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${10 - i}`),
    );
    expect(rest.more).toBe(false);
  });

  it('shows a display name on deliveries and changes the username', async () => {
    const alice = await signIn({ type: 'register', username: 'alice', secret: 's3cret' });
    const bob = await signIn({ type: 'register', username: 'bob' });
    await alice.client.send({ type: 'profile', display_name: 'Alice A.', username: 'alicia', cid: 'p' });
    const profile = await alice.client.waitFor(ofType('profile'), 'profile');
    expect(profile).toMatchObject({ username: 'alicia', display_name: 'Alice A.', cid: 'p' });
    await say(alice.client, bob.welcome.id as number, 'oi');
    expect(await bob.client.waitFor(msgText('oi'), 'oi')).toMatchObject({ from_name: 'Alice A.' });
    await bob.client.send({ type: 'profile', username: 'ALICIA', cid: 'taken' });
    const taken = await bob.client.waitFor(ofType('error'), 'username_taken');
    expect(taken).toMatchObject({ code: 'username_taken', cid: 'taken' });
    const again = await signIn({ type: 'login', username: 'alicia', secret: 's3cret' });
    expect(again.welcome).toMatchObject({ type: 'welcome', username: 'alicia', display_name: 'Alice A.' });
  });
});

describe('tokens (issue 24, items 4 and 5)', () => {
  it('refuses a signed-out or revoked device, on its open connection, at sign-in and after a restart', async () => {
    const first = await signIn({ type: 'register', username: 'alice', secret: 's3cret' });
    const second = await signIn({ type: 'login', username: 'alice', secret: 's3cret' });
    const third = await signIn({ type: 'login', username: 'alice', secret: 's3cret' });
    await second.client.send({ type: 'logout', cid: 'bye' });
    expect(await second.client.waitFor(ofType('logout'), 'logout')).toMatchObject({ device: 2, cid: 'bye' });
    await second.client.raw.waitClosed();
    const withOld = await signIn({ type: 'login', token: second.welcome.token });
    expect(withOld.welcome).toMatchObject({ type: 'error', code: 'auth_failed' });

    await first.client.send({ type: 'device.revoke', device: 3, cid: 'r' });
    await first.client.waitFor(ofType('device.revoke'), 'revoked');
    expect(await third.client.waitFor(ofType('error'), 'signed out')).toMatchObject({ code: 'auth_failed' });
    await third.client.raw.waitClosed();
    await first.client.send({ type: 'devices', cid: 'd' });
    const list = await first.client.waitFor(ofType('devices'), 'devices');
    expect(list.devices).toEqual([{ device: 1, name: null, created_at: expect.any(Number), current: true }]);

    const dataDir = server.dataDir;
    for (const client of clients) client.close();
    await server.close();
    server = await startTestServer({ data: dataDir });
    expect((await signIn({ type: 'login', token: third.welcome.token })).welcome).toMatchObject({
      code: 'auth_failed',
    });
    expect((await signIn({ type: 'login', token: first.welcome.token })).welcome).toMatchObject({
      type: 'welcome',
      device: 1,
    });
  });

  it('changes the secret and, when asked, revokes every other token', async () => {
    const first = await signIn({ type: 'register', username: 'alice', secret: 'old' });
    const second = await signIn({ type: 'login', username: 'alice', secret: 'old' });
    await first.client.send({ type: 'secret', secret: 'wrong', new_secret: 'new', cid: 'x' });
    expect(await first.client.waitFor(ofType('error'), 'wrong secret')).toMatchObject({
      code: 'auth_failed',
    });
    await first.client.send({ type: 'secret', secret: 'old', new_secret: 'new', revoke_all: true, cid: 's' });
    const changed = await first.client.waitFor(ofType('secret'), 'secret');
    expect(changed).toMatchObject({ revoked: [2], token: expect.any(String), cid: 's' });
    await second.client.raw.waitClosed();
    for (const token of [first.welcome.token, second.welcome.token]) {
      expect((await signIn({ type: 'login', token })).welcome).toMatchObject({ code: 'auth_failed' });
    }
    expect((await signIn({ type: 'login', token: changed.token })).welcome).toMatchObject({ device: 1 });
    expect((await signIn({ type: 'login', username: 'alice', secret: 'old' })).welcome).toMatchObject({
      code: 'auth_failed',
    });
    expect((await signIn({ type: 'login', username: 'alice', secret: 'new' })).welcome.type).toBe('welcome');
  });

  it("refuses A's token with B's id or username", async () => {
    const alice = await signIn({ type: 'register', username: 'alice', secret: 'a' });
    const bob = await signIn({ type: 'register', username: 'bob', secret: 'b' });
    const token = alice.welcome.token;
    for (const claim of [{ id: bob.welcome.id }, { username: 'bob' }]) {
      const tried = await signIn({ type: 'login', token, ...claim });
      expect(tried.welcome).toMatchObject({ type: 'error', code: 'auth_failed' });
    }
    const own = await signIn({ type: 'login', token, id: alice.welcome.id });
    expect(own.welcome).toMatchObject({ type: 'welcome', id: alice.welcome.id });
  });
});

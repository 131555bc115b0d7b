import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZapTestClient, z05 } from './helpers/zap-client.js';

const EXAMPLE_USERS = path.resolve(import.meta.dirname, '../examples/users.csv');
let server: TestServer;
const open: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server?.close();
});

async function get(pathname: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${server.ports.metrics}${pathname}`);
  return { status: response.status, text: await response.text() };
}

/** The value of one sample line of /metrics, or null when it is not there. */
function sample(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}

async function native(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server.ports.native!);
  open.push(client);
  return client;
}

describe('/metrics after a scripted exchange', () => {
  it('counts messages accepted, delivered and duplicated per dialect, and sign-ins', async () => {
    server = await startTestServer({ users: EXAMPLE_USERS });

    // native: three messages and one resend of the first; bob receives the three.
    const alice = await native();
    expect(await alice.register({ username: 'alice-n', secret: 's3cret-alice', acks: true })).toMatchObject({
      type: 'welcome',
    });
    const bob = await native();
    expect(await bob.register({ username: 'bob-n', secret: 's3cret-bob', acks: true })).toMatchObject({
      type: 'welcome',
    });
    for (const cid of ['a1', 'a2', 'a3', 'a1'])
      await alice.send({ type: 'msg', to: 'bob-n', text: `t-${cid}`, cid });
    const sent = await alice.waitForCount(ofType('sent'), 4, 'four sent');
    expect(sent.map((f) => f.duplicate)).toEqual([false, false, false, true]);
    await bob.waitForCount(ofType('msg'), 3, 'three messages at bob');
    const wrong = await native();
    await wrong.send({ type: 'login', username: 'bob-n', secret: 'not-it' });
    await wrong.waitFor(ofType('error'), 'refused sign-in');

    // zap: two messages from a to b.
    const za = await ZapTestClient.connect(server.ports.zap!);
    const zb = await ZapTestClient.connect(server.ports.zap!);
    open.push(za, zb);
    const aId = await za.register();
    const bId = await zb.register();
    await za.write(`${z05(aId, bId, 1_700_000_000, 'um')}\n${z05(aId, bId, 1_700_000_001, 'dois')}\n`);
    await zb.waitLines((l) => l.startsWith('06'), 2, 'two 06 at b');

    // mm: alice sends bob one message; bob reads it.
    const mmAlice = await LineTestClient.connect(server.ports.mm!);
    const mmBob = await LineTestClient.connect(server.ports.mm!);
    open.push(mmAlice, mmBob);
    await mmAlice.write('alice\n');
    await mmAlice.waitCount((l) => l === 'f', 1, 'login');
    await mmAlice.write('@bob oi\n');
    await mmAlice.waitCount((l) => l === 'f', 2, 'reply to the send');
    await mmBob.write('bob\n');
    await mmBob.waitLine((l) => l === '@alice oi', 'the message at bob');

    // A browser's connection, on the web door.
    const browser = new WebSocket(`ws://127.0.0.1:${server.ports.web}/ws`);
    open.push({ close: () => browser.terminate() });
    await new Promise((resolve, reject) => browser.once('open', resolve).once('error', reject));

    const { status, text } = await get('/metrics');
    expect(status).toBe(200);
    const at = (name: string) => sample(text, name);
    expect(at('mensageiro_messages_accepted_total{dialect="native"}')).toBe(3);
    expect(at('mensageiro_messages_duplicate_total{dialect="native"}')).toBe(1);
    expect(at('mensageiro_messages_delivered_total{dialect="native"}')).toBe(3);
    expect(at('mensageiro_messages_accepted_total{dialect="zap"}')).toBe(2);
    expect(at('mensageiro_messages_duplicate_total{dialect="zap"}')).toBe(0);
    expect(at('mensageiro_messages_delivered_total{dialect="zap"}')).toBe(2);
    expect(at('mensageiro_messages_accepted_total{dialect="mm"}')).toBe(1);
    expect(at('mensageiro_messages_delivered_total{dialect="mm"}')).toBe(1);
    expect(at('mensageiro_registrations_total{dialect="native",outcome="ok"}')).toBe(2);
    expect(at('mensageiro_registrations_total{dialect="zap",outcome="ok"}')).toBe(2);
    expect(at('mensageiro_sign_ins_total{dialect="native",outcome="failed"}')).toBe(1);
    expect(at('mensageiro_sign_ins_total{dialect="mm",outcome="ok"}')).toBe(2);
    expect(at('mensageiro_errors_total{dialect="native",code="auth_failed"}')).toBe(1);
    expect(at('mensageiro_connections{dialect="native"}')).toBe(3);
    expect(at('mensageiro_connections{dialect="web"}')).toBe(1);
    expect(at('mensageiro_commit_batch_size_count')).toBeGreaterThan(0);
    expect(at('mensageiro_commit_seconds_count{durability="fsync"}')).toBeGreaterThan(0);
  });

  it('counts rate-limited requests', async () => {
    server = await startTestServer({ messageBurst: 1, messageRate: 0.001 });
    const alice = await native();
    const welcome = await alice.register({ acks: true });
    for (const cid of ['1', '2']) await alice.send({ type: 'msg', to: welcome.id, text: 'x', cid });
    await alice.waitFor((f) => f.type === 'error' && f.code === 'rate_limited', 'the rate limit');
    const { text } = await get('/metrics');
    expect(sample(text, 'mensageiro_rate_limited_total{dialect="native"}')).toBe(1);
    expect(sample(text, 'mensageiro_errors_total{dialect="native",code="rate_limited"}')).toBe(1);
  });
});

describe('/healthz and /readyz', () => {
  it('answer ok while serving; /readyz fails once the store is closed, with details', async () => {
    server = await startTestServer();
    expect(await get('/healthz')).toEqual({ status: 200, text: '{"status":"ok"}\n' });
    expect(await get('/readyz')).toEqual({ status: 200, text: '{"status":"ok"}\n' });
    const detailed = JSON.parse((await get('/readyz?details=true')).text) as {
      checks: Array<{ name: string }>;
    };
    expect(detailed.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(['store', 'native listener', 'web listener']),
    );

    await server.store.close();
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({
      status: 'unavailable',
      error: expect.stringMatching(/^store: /),
    });
    const details = JSON.parse((await get('/readyz?details=true')).text) as {
      checks: Array<{ name: string; ok: boolean }>;
    };
    expect(details.checks.find((check) => check.name === 'store')).toMatchObject({ ok: false });
    expect((await get('/healthz')).status).toBe(200);
  });
});

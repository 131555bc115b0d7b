import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client } from '../src/client/client.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { FaultProxy } from './helpers/fault-proxy.js';
import { NativeTestClient, type Frame } from './helpers/native-client.js';
import { POSTGRES_URL, service } from './helpers/services.js';

const available = service('postgres') && service('nats-server');
const LIMITS_OFF = ['--message-burst', '0', '--sign-in-burst', '0', '--register-burst', '0'];
let cluster: TestCluster | null = null;
let proxy: FaultProxy | null = null;
const clients: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await cluster?.close();
  await proxy?.close();
  cluster = null;
  proxy = null;
});

const wait = { timeout: 30_000 };

/** A receiving SDK client on `port`, recording every message text. */
async function receiver(port: number, username: string): Promise<{ client: Client; texts: string[] }> {
  const client = new Client({
    host: '127.0.0.1',
    port,
    register: { username },
    minReconnectDelayMs: 20,
    maxReconnectDelayMs: 200,
  });
  const texts: string[] = [];
  client.on('message', (m) => texts.push(m.text));
  // While the store is away its reads fail too; the client reconnects by itself.
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return { client, texts };
}

describe.skipIf(!available)('cluster outages', () => {
  it('loses and doubles nothing when nats-server goes down under load and comes back', async () => {
    cluster = await startCluster(import.meta.filename, 2, { args: LIMITS_OFF });
    const sink = await receiver(cluster.nodes[1]!.ports.native!, 'sink');
    const sender = new Client({
      host: '127.0.0.1',
      port: cluster.nodes[0]!.ports.native!,
      register: { username: 'source' },
    });
    await sender.connect();
    clients.push(sender);
    const acked: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let n = 0; !stop; n++) {
        const batch = Array.from({ length: 10 }, (_, k) => `m${n * 10 + k}`);
        await Promise.all(
          batch.map((text) => sender.send(sink.client.id!, text).then(() => acked.push(text))),
        );
      }
    })();
    await vi.waitFor(() => expect(acked.length).toBeGreaterThan(100), wait);
    await cluster.nats.stop();
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${cluster!.nodes[0]!.ports.metrics}/readyz`);
      return `${response.status} ${await response.text()}`;
    };
    // Not ready while the bus is away, so a balancer sends new clients elsewhere.
    await vi.waitFor(async () => expect(await readyz()).toMatch(/^503 .*bus/), wait);
    // Stored while NATS is down, so not routed: the receiver's node learns of them only from
    // the store, once the bus is back; no later message comes to wake it.
    const atStop = acked.length;
    await vi.waitFor(() => expect(acked.length).toBeGreaterThan(atStop + 50), wait);
    stop = true;
    await load;
    await cluster.nats.restart();
    await vi.waitFor(async () => expect(await readyz()).toMatch(/^200 /), wait);
    await vi.waitFor(() => expect(acked.filter((t) => !sink.texts.includes(t))).toEqual([]), wait);
    const more = Array.from({ length: 50 }, (_, n) => `after${n}`);
    await Promise.all(more.map((text) => sender.send(sink.client.id!, text).then(() => acked.push(text))));
    await vi.waitFor(() => expect(sink.texts.slice(-50)).toEqual(more), wait);
    expect(new Set(sink.texts).size).toBe(sink.texts.length);
    expect([...sink.texts].sort()).toEqual([...acked].sort());
  }, 90_000);

  it('answers unavailable while PostgreSQL is out of reach, claims nothing unstored, and goes on after', async () => {
    const target = Number(new URL(POSTGRES_URL).port || 5432);
    proxy = await FaultProxy.start(target);
    const through = proxy;
    cluster = await startCluster(import.meta.filename, 2, {
      args: LIMITS_OFF,
      storeUrl: (url) => {
        const viaProxy = new URL(url);
        viaProxy.port = String(through.port);
        return viaProxy.toString();
      },
    });
    const sink = await receiver(cluster.nodes[1]!.ports.native!, 'sink');
    const sender = await NativeTestClient.connect(cluster.nodes[0]!.ports.native!);
    clients.push(sender);
    await sender.register({ username: 'source' });
    /** Sends one message per cid; returns each cid's answer (a `sent` or an `error` frame). */
    const sendAll = async (cids: string[]): Promise<Frame[]> => {
      const from = sender.frames.length;
      for (const cid of cids) await sender.send({ type: 'msg', to: 'sink', text: cid, cid });
      const answerTo = (cid: string) => sender.frames.slice(from).find((f) => f.cid === cid);
      await vi.waitFor(() => expect(cids.every((cid) => answerTo(cid) !== undefined)).toBe(true), wait);
      return cids.map((cid) => answerTo(cid)!);
    };

    const before = await sendAll(['a0', 'a1', 'a2']);
    expect(before.map((f) => f.type)).toEqual(['sent', 'sent', 'sent']);
    const failed: string[] = [];
    for (const mode of ['blackhole', 'reset'] as const) {
      through.set(mode);
      const cids = [`${mode}0`, `${mode}1`];
      const during = await sendAll(cids);
      // Nothing is claimed sent: each got `unavailable`, never a `sent`.
      expect(during.map((f) => [f.type, f.code])).toEqual(cids.map(() => ['error', 'unavailable']));
      expect(sender.frames.some((f) => f.type === 'sent' && cids.includes(f.cid as string))).toBe(false);
      failed.push(...cids);
      through.set('pass');
    }
    // The client resends what failed, with the same cids, and traffic goes on.
    const resent = await sendAll([...failed, 'c0']);
    expect(resent.map((f) => f.type)).toEqual(resent.map(() => 'sent'));
    const expected = ['a0', 'a1', 'a2', ...failed, 'c0'];
    await vi.waitFor(() => expect([...sink.texts].sort()).toEqual([...expected].sort()), wait);
  }, 120_000);
});

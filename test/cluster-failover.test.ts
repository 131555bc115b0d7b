import { afterAll, describe, expect, it, vi } from 'vitest';
import { Client } from '../src/client/client.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { startSendLoad } from './helpers/send-load.js';
import { service } from './helpers/services.js';
import { TcpBalancer } from './helpers/tcp-balancer.js';

/**
 * A node SIGKILLed under load: its clients reconnect through the balancer to a live node and
 * resume from their last seq; every message whose ack reached its sender is delivered exactly
 * once, in each sender's order. `npm test` kills once; `npm run chaos` sets CLUSTER_KILLS.
 */
const KILLS = Number(process.env.CLUSTER_KILLS ?? 1);
const SENDERS = 4;
const WINDOW = 10;
const available = service('postgres') && service('nats-server');

let cluster: TestCluster | null = null;
let balancer: TcpBalancer | null = null;
const clients: Client[] = [];
afterAll(async () => {
  for (const client of clients) client.close();
  await balancer?.close();
  await cluster?.close();
});

describe.skipIf(!available)('cluster failover', () => {
  it(
    `loses and duplicates nothing acknowledged when a node is killed under load (${KILLS} kills)`,
    async () => {
      cluster = await startCluster(import.meta.filename, 3, {
        args: ['--message-burst', '0', '--sign-in-burst', '0', '--register-burst', '0'],
      });
      const live = cluster;
      const running = new Set([0, 1, 2]);
      balancer = await TcpBalancer.start(() => [...running].map((i) => live.nodes[i]!.ports.native!));
      const options = {
        host: '127.0.0.1',
        port: balancer.port,
        minReconnectDelayMs: 20,
        maxReconnectDelayMs: 200,
      };
      const receiver = new Client({ ...options, register: { username: 'sink' } });
      const received: string[] = [];
      receiver.on('message', (m) => received.push(m.text));
      const senders = Array.from(
        { length: SENDERS },
        (_, i) => new Client({ ...options, register: { username: `source${i}` } }),
      );
      clients.push(receiver, ...senders);
      // One at a time, so the balancer's turns spread them over the three nodes.
      for (const client of [receiver, ...senders]) await client.connect();

      const { acked, stop } = startSendLoad(senders, receiver.id!, WINDOW);

      for (let kill = 0; kill < KILLS; kill++) {
        const victim = kill % 3;
        const before = acked.size;
        await vi.waitFor(() => expect(acked.size).toBeGreaterThan(before + 50), { timeout: 30_000 });
        running.delete(victim);
        await live.nodes[victim]!.kill('SIGKILL');
        const atKill = acked.size;
        // Traffic goes on over the other nodes, the victim's clients included.
        await vi.waitFor(() => expect(acked.size).toBeGreaterThan(atKill + 50), { timeout: 30_000 });
        await live.restart(victim);
        running.add(victim);
      }
      await stop();
      await vi.waitFor(() => expect(senders.every((s) => s.unacknowledged.length === 0)).toBe(true), {
        timeout: 30_000,
      });
      await vi.waitFor(() => expect([...acked].filter((t) => !received.includes(t))).toEqual([]), {
        timeout: 30_000,
      });

      const unique = new Set(received);
      console.log(
        `cluster failover: ${KILLS} kills, acked ${acked.size}, delivered ${unique.size}, duplicated ${received.length - unique.size}`,
      );
      expect(received.length).toBe(unique.size);
      for (let i = 0; i < SENDERS; i++) {
        const order = received.filter((t) => t.startsWith(`${i}:`)).map((t) => Number(t.split(':')[1]));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    },
    Math.max(90_000, KILLS * 30_000),
  );
});

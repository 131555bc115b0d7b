import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/bench/free-port.js';
import { Client } from '../src/client/client.js';
import { tempDir } from './helpers/server.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';
import { startSendLoad } from './helpers/send-load.js';

/**
 * Crash safety under load: a real server process is SIGKILLed at random moments (so also in the
 * middle of group commits) and restarted on the same data directory. Every message whose durable
 * ack reached its sender must be delivered exactly once, in per-sender order.
 * `npm test` runs 5 kills; `npm run chaos` sets CHAOS_KILLS=30.
 */
const KILLS = Number(process.env.CHAOS_KILLS ?? 5);
const SENDERS = 4;
const WINDOW = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Each embedded store, and how its files are checked while the server is down. */
const STORES = [
  {
    store: 'sqlite',
    args: [] as string[],
    check(dataDir: string) {
      const db = new Database(path.join(dataDir, 'mensageiro.db'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    },
  },
  // The log is checked by the restart: it reads every record back, and cuts only a torn tail.
  {
    store: 'log',
    args: ['--store', 'log:'],
    check(dataDir: string) {
      expect(fs.existsSync(path.join(dataDir, 'mensageiro.db'))).toBe(false);
    },
  },
];

let server: ServerProcess | null = null;
afterEach(async () => {
  await server?.kill('SIGKILL');
});

describe.each(STORES)('chaos: SIGKILL under load, $store store', ({ args: storeArgs, check }) => {
  it(
    `loses and duplicates nothing that was acknowledged, across ${KILLS} kills`,
    async () => {
      const dataDir = tempDir();
      const port = await freePort();
      const args = [
        '--native-port',
        String(port),
        '--message-burst',
        '0',
        '--sign-in-burst',
        '0',
        '--register-burst',
        '0',
        ...storeArgs,
      ];
      const start = async () => (server = await spawnServer(dataDir, args));
      await start();
      const options = { host: '127.0.0.1', port, minReconnectDelayMs: 20, maxReconnectDelayMs: 200 };

      const receiver = new Client({ ...options, register: { username: 'sink' } });
      const received: string[] = [];
      receiver.on('message', (m) => received.push(m.text));
      const senders = Array.from(
        { length: SENDERS },
        (_, i) => new Client({ ...options, register: { username: `source${i}` } }),
      );
      await Promise.all([receiver, ...senders].map((c) => c.connect()));

      const { acked, stop } = startSendLoad(senders, receiver.id!, WINDOW);

      for (let kill = 1; kill <= KILLS; kill++) {
        await sleep(150 + Math.random() * 450);
        await server!.kill('SIGKILL');
        check(dataDir);
        await start();
      }
      // Every send still in an outbox goes again after the last restart, and is acknowledged.
      await stop();
      await until(() => senders.every((s) => s.unacknowledged.length === 0), 'all outboxes drained');
      await until(() => [...acked].every((text) => received.includes(text)), 'every acked message delivered');

      const unique = new Set(received);
      const lost = [...acked].filter((text) => !unique.has(text)).length;
      const duplicated = received.length - unique.size;
      console.log(
        `chaos: ${KILLS} kills, acked ${acked.size}, delivered ${unique.size}, lost ${lost}, duplicated ${duplicated}`,
      );
      expect(lost).toBe(0);
      expect(duplicated).toBe(0);
      for (let i = 0; i < SENDERS; i++) {
        const order = received.filter((t) => t.startsWith(`${i}:`)).map((t) => Number(t.split(':')[1]));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      expect(acked.size).toBeGreaterThan(KILLS * 10);
      for (const client of [receiver, ...senders]) client.close();
    },
    Math.max(60_000, KILLS * 8000),
  );
});

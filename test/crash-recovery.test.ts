import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { tempDir } from './helpers/server.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

const running: ServerProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.kill('SIGKILL');
});

async function start(dataDir: string, storeArgs: string[] = []): Promise<ServerProcess> {
  // The load is a burst of 300 from one account: the per-account message limit is off here.
  const server = await spawnServer(dataDir, ['--message-burst', '0', ...storeArgs]);
  running.push(server);
  return server;
}

/** Each embedded store; the log's check is its restart, which reads every record back. */
const STORES = [
  { store: 'sqlite', args: [] as string[], sqlite: true, file: 'mensageiro.db' },
  { store: 'log', args: ['--store', 'log:'], sqlite: false, file: 'mensageiro.log' },
];

describe.each(STORES)(
  'crash recovery (real server process, SIGKILL), $store store',
  ({ args, sqlite, file }) => {
    it('delivers every acknowledged message exactly once after a kill right after the acks', async () => {
      const dataDir = tempDir();
      const first = await start(dataDir, args);
      const sender = await NativeTestClient.connect(first.ports.native!);
      const senderWelcome = await sender.register({ username: 'writer', acks: true });
      const reader = await NativeTestClient.connect(first.ports.native!);
      await reader.register({ username: 'reader', secret: 'pw', acks: true });
      reader.close();

      const total = 300;
      for (let n = 0; n < total; n++) {
        await sender.send({ type: 'msg', to: 'reader', text: `durable ${n}`, cid: `k${n}` });
      }
      const acks = await sender.waitForCount(ofType('sent'), total, 'durable acks');
      expect(new Set(acks.map((f) => f.cid)).size).toBe(total);
      // No graceful shutdown: the acks above must already be on disk.
      expect(await first.kill('SIGKILL')).toBe('SIGKILL');
      sender.close();

      expect(fs.existsSync(path.join(dataDir, file))).toBe(true);
      if (sqlite) {
        const db = new Database(path.join(dataDir, 'mensageiro.db'), { readonly: true });
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        db.close();
      }

      const second = await start(dataDir, args);
      const back = await NativeTestClient.connect(second.ports.native!);
      await back.send({ type: 'login', username: 'reader', secret: 'pw', acks: true });
      const got = await back.waitForCount(ofType('msg'), total, 'every acknowledged message');
      expect(got.map((f) => f.text)).toEqual(Array.from({ length: total }, (_, n) => `durable ${n}`));

      // The sender did not see its acks before the crash, say, and resends everything.
      const again = await NativeTestClient.connect(second.ports.native!);
      await again.send({ type: 'login', token: senderWelcome.token ?? undefined, id: senderWelcome.id });
      await again.waitFor(ofType('welcome'), 'sender back');
      for (let n = 0; n < total; n++) {
        await again.send({ type: 'msg', to: 'reader', text: `durable ${n}`, cid: `k${n}` });
      }
      const resent = await again.waitForCount(ofType('sent'), total, 'acks of the resends');
      expect(resent.every((f) => f.duplicate === true)).toBe(true);
      await again.send({ type: 'msg', to: 'reader', text: 'marker', cid: 'marker' });
      await back.waitFor((f) => f.type === 'msg' && f.text === 'marker', 'marker after the resends');
      expect(back.frames.filter(ofType('msg'))).toHaveLength(total + 1);
      back.close();
      again.close();
    });

    it('shuts down gracefully on SIGTERM, flushing what it accepted', async () => {
      const server = await start(tempDir(), args);
      const client = await NativeTestClient.connect(server.ports.native!);
      await client.register();
      expect(await server.kill('SIGTERM')).toBe(0);
      expect(server.logs.map((l) => l.msg)).toContain('stopped');
      await client.raw.waitClosed();
    });
  },
);

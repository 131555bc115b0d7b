import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { tempDir } from './helpers/server.js';
import { storeSuite } from './store-suite.js';

storeSuite('sqlite', {
  async create() {
    const dataDir = tempDir();
    return { store: new SqliteStore({ dataDir }), reopen: async () => new SqliteStore({ dataDir }) };
  },
});

describe('SQLite group commit', () => {
  it('commits every write of one event-loop turn in one transaction', async () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    await store.createAccount({ id: 1_111_111_111_111 });
    await store.createAccount({ id: 2_222_222_222_222 });
    const before = store.committedBatches;
    await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        store.appendMessage({
          from: 1_111_111_111_111,
          to: 2_222_222_222_222,
          cid: `c${n}`,
          text: `m${n}`,
          ts: 1,
          at: 1,
          recipients: [2_222_222_222_222],
        }),
      ),
    );
    expect(store.committedBatches - before).toBe(1);
    expect(await store.readInbox(2_222_222_222_222, 0, 100)).toHaveLength(50);
    await store.close();
  });

  it('fails only the bad write of a batch and commits the rest', async () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    const results = await Promise.allSettled([
      store.createAccount({ id: 3_333_333_333_333, username: 'dup' }),
      store.createAccount({ id: 4_444_444_444_444, username: 'DUP' }),
      store.createAccount({ id: 5_555_555_555_555 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.getAccount(5_555_555_555_555)).not.toBeNull();
    expect(await store.getAccount(4_444_444_444_444)).toBeNull();
    await store.close();
  });

  it('copies the WAL into the database file from its worker, with no commit doing it', async () => {
    const dataDir = tempDir();
    const store = new SqliteStore({ dataDir });
    const file = path.join(dataDir, 'mensageiro.db');
    await store.createAccount({ id: 6_666_666_666_666 });
    const before = fs.statSync(file).size;
    await store.appendMessage({
      from: 6_666_666_666_666,
      to: 6_666_666_666_666,
      cid: 'big',
      text: 'x'.repeat(200_000),
      ts: 1,
      at: 1,
      recipients: [6_666_666_666_666],
    });
    // The commit's own checkpoint would only start at 16,384 WAL pages; these are about 50.
    const deadline = Date.now() + 10_000;
    while (fs.statSync(file).size <= before && Date.now() < deadline) await sleep(20);
    expect(fs.statSync(file).size).toBeGreaterThan(before + 200_000);
    await store.close();
  });

  it('runs with WAL and synchronous=FULL by default', () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    void store.close();
  });
});

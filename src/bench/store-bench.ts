import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AccountId, Delivery } from '../core/types.js';
import { LogStore } from '../store/log/log-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/**
 * The store alone, without sockets or frames: W1's pattern (random sender to random recipient,
 * every recipient acking what it got, so nearly every message gets a delivery receipt) driven
 * straight into SqliteStore (or LogStore), `batch` sends and their acks per group commit. It reports the
 * process's CPU per message, the checkpoint worker's included, and checks that every message
 * and receipt is in its inbox exactly once, in order.
 */
export interface StoreBenchSpec {
  users: number;
  messages: number;
  batch: number;
  /** ':memory:' instead of a fresh directory: what the B-trees cost without any I/O. */
  inMemory?: boolean;
  /** The log store (src/store/log) instead of SQLite; its replay at a reopen is timed too. */
  log?: boolean;
}

export interface StoreBenchResult extends StoreBenchSpec {
  usPerMessage: number;
  receipts: number;
  /** Inbox items missing, duplicated or out of order when read back; 0 when all is well. */
  wrong: number;
  /** The log store: how long a reopen took to read the log back, and the log's size. */
  reopenMs?: number;
  logBytes?: number;
}

const ID_BASE = 1_000_000_000_000;
const TEXT = 'x'.repeat(64);

export async function runStoreBench(spec: StoreBenchSpec): Promise<StoreBenchResult> {
  const dir = spec.inMemory ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
  let store: SqliteStore | LogStore =
    spec.log && dir
      ? new LogStore({ dataDir: dir })
      : new SqliteStore({ dataDir: dir ?? ':memory:', onWarning: () => undefined });
  try {
    const ids = Array.from({ length: spec.users }, (_, i) => ID_BASE + i);
    await Promise.all(ids.map((id) => store.createAccount({ id })));
    // Every item the store handed out, per user, to check against what it reads back.
    const handedOut = new Map<AccountId, number>(ids.map((id) => [id, 0]));
    const lastSeq = new Map<AccountId, number>();
    let receipts = 0;
    const note = (deliveries: Delivery[]) => {
      for (const { to, item } of deliveries) {
        handedOut.set(to, handedOut.get(to)! + 1);
        lastSeq.set(to, Math.max(lastSeq.get(to) ?? 0, item.seq));
        if (item.kind === 'receipt') receipts++;
      }
    };
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed % n;
    };
    let cid = 0;
    const before = process.cpuUsage();
    for (let sent = 0; sent < spec.messages;) {
      const ops: Array<Promise<void>> = [];
      for (; ops.length < spec.batch && sent < spec.messages; sent++) {
        const from = random(spec.users);
        const to = (from + 1 + random(spec.users - 1)) % spec.users;
        const message = { from: ids[from]!, to: ids[to]!, cid: String(++cid), text: TEXT, ts: 1, at: 2 };
        ops.push(store.appendMessage({ ...message, recipients: [ids[to]!] }).then((r) => note(r.deliveries)));
      }
      for (const [user, seq] of lastSeq) ops.push(store.ackDelivered(user, seq, 3).then(note));
      await Promise.all(ops);
    }
    const cpu = process.cpuUsage(before);
    let reopened: Pick<StoreBenchResult, 'reopenMs' | 'logBytes'> = {};
    if (store instanceof LogStore && dir) {
      const logBytes = store.logBytes;
      await store.close();
      store = new LogStore({ dataDir: dir });
      reopened = { reopenMs: Math.round(store.recovery.ms), logBytes };
    }
    let wrong = 0;
    for (const id of ids) {
      let read = 0;
      for (let page = await store.readInbox(id, 0, 4096); page.length > 0;) {
        for (const item of page) wrong += item.seq === ++read ? 0 : 1;
        page = await store.readInbox(id, read, 4096);
      }
      wrong += Math.abs(read - handedOut.get(id)!);
    }
    return { ...spec, usPerMessage: (cpu.user + cpu.system) / spec.messages, receipts, wrong, ...reopened };
  } finally {
    await store.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  // Run by the bench harness, pinned like a peer: one spec in, one result line out.
  const result = await runStoreBench(JSON.parse(process.argv[2]!) as StoreBenchSpec);
  console.log(JSON.stringify({ result }));
}

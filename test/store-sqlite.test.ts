import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/sqlite/schema.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { InboxItem } from '../src/core/types.js';
import { tempDir } from './helpers/server.js';
import { storeSuite } from './store-suite.js';

storeSuite('sqlite', {
  async create() {
    const dataDir = tempDir();
    return { store: new SqliteStore({ dataDir }), reopen: async () => new SqliteStore({ dataDir }) };
  },
});

/** `count` 1:1 messages, cids `${cid}0`, `${cid}1`..., all submitted in the same event-loop turn. */
function sendAll(
  store: SqliteStore,
  message: {
    from: number;
    to: number;
    count: number;
    cid: string;
    text: (n: number) => string;
    at: (n: number) => number;
  },
) {
  const { from, to, count, cid, text, at } = message;
  return Promise.all(
    Array.from({ length: count }, (_, n) =>
      store.appendMessage({
        from,
        to,
        cid: `${cid}${n}`,
        text: text(n),
        ts: at(n),
        at: at(n),
        recipients: [to],
      }),
    ),
  );
}

/** A store where alice's one message waits in bob's inbox. */
async function aliceWroteToBob() {
  const store = new SqliteStore({ dataDir: tempDir() });
  const [alice, bob] = [7_000_000_000_001, 7_000_000_000_002];
  await store.createAccount({ id: alice });
  await store.createAccount({ id: bob });
  await store.appendMessage({ from: alice, to: bob, cid: 'c1', text: 'oi', ts: 1, at: 1, recipients: [bob] });
  return { store, alice, bob };
}

describe('SQLite group commit', () => {
  it('commits every write of one event-loop turn in one transaction', async () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    await store.createAccount({ id: 1_111_111_111_111 });
    await store.createAccount({ id: 2_222_222_222_222 });
    const before = store.committedBatches;
    await sendAll(store, {
      from: 1_111_111_111_111,
      to: 2_222_222_222_222,
      count: 50,
      cid: 'c',
      text: (n) => `m${n}`,
      at: () => 1,
    });
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
    while (fs.statSync(file).size <= before + 200_000 && Date.now() < deadline) await sleep(20);
    expect(fs.statSync(file).size).toBeGreaterThan(before + 200_000);
    await store.close();
  });

  it('commits a delivery ack without an fsync of its own, and shows its receipt only once synced', async () => {
    const { store, alice, bob } = await aliceWroteToBob();
    const receiptRows = store.db.prepare('SELECT count(*) FROM inbox WHERE user = ? AND kind = 2').pluck();

    let settled = false;
    const acked = store.ackDelivered(bob, 1, 2).then((deliveries) => ((settled = true), deliveries));
    // This callback runs after the commit's (both were queued in this turn), and before any
    // callback of the thread pool's fdatasync can run, which needs another turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(receiptRows.get(alice)).toBe(1);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(settled).toBe(false);
    expect(await store.readInbox(alice, 0, 10)).toEqual([]);

    const deliveries = await acked;
    expect(deliveries.map((d) => d.item.kind)).toEqual(['receipt']);
    expect((await store.readInbox(alice, 0, 10)).map((item) => item.seq)).toEqual([deliveries[0]!.item.seq]);
    expect((await store.inboxState(bob)).delivered).toBe(1);
    await store.close();
  });

  it('keeps the commit order when a durable commit follows an ack waiting for its sync', async () => {
    const { store, alice, bob } = await aliceWroteToBob();
    const order: string[] = [];
    const ack = store.ackDelivered(bob, 1, 2).then(() => order.push('ack'));
    await new Promise((resolve) => setImmediate(resolve));
    // Committed in a later turn, with its own fsync, which covers the ack's commit as well.
    const send = store
      .appendMessage({ from: bob, to: alice, cid: 'c2', text: 'olá', ts: 1, at: 1, recipients: [alice] })
      .then(() => order.push('send'));
    await Promise.all([ack, send]);
    expect(order).toEqual(['ack', 'send']);
    expect((await store.readInbox(alice, 0, 10)).map((item) => item.kind)).toEqual(['receipt', 'msg']);
    await store.close();
  });

  it('runs with WAL and synchronous=FULL by default', () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    void store.close();
  });
});

describe('SQLite schema migrations', () => {
  it('opens a version-1 file: group messages keep their index, and receipts still find them', async () => {
    const dataDir = tempDir();
    const [alice, bob, carol, group] = [
      7_100_000_000_001, 7_100_000_000_002, 7_100_000_000_003, 7_100_000_000_009,
    ];
    const old = new Database(path.join(dataDir, 'mensageiro.db'));
    migrate(old, 1);
    const account = old.prepare(`INSERT INTO accounts (id, kind, created_at) VALUES (?, ?, 1)`);
    for (const id of [alice, bob, carol]) account.run(id, 'user');
    account.run(group, 'group');
    [alice, bob, carol].forEach((member, position) =>
      old.prepare(`INSERT INTO group_members VALUES (?, ?, ?)`).run(group, position, member),
    );
    const message = old.prepare(
      `INSERT INTO messages (mid, sender, conv, text, ts, at) VALUES (?, ?, ?, 't', ?, 1)`,
    );
    message.run(1, alice, bob, 10);
    message.run(2, alice, group, 20);
    const inbox = old.prepare(`INSERT INTO inbox (user, seq, kind, mid) VALUES (?, ?, 1, ?)`);
    inbox.run(bob, 1, 1);
    inbox.run(bob, 2, 2);
    inbox.run(carol, 1, 2);
    old.close();

    const store = new SqliteStore({ dataDir });
    expect(store.db.pragma('user_version', { simple: true })).toBe(3);
    expect(store.db.prepare(`SELECT mid, in_group FROM messages ORDER BY mid`).raw().all()).toEqual([
      [1, 0],
      [2, 1],
    ]);
    const direct = await store.markRead(bob, alice, { mid: 2 }, 5);
    expect(direct.map((d) => d.item)).toMatchObject([{ kind: 'receipt', receipt: { conv: bob, mid: 1 } }]);
    const inGroup = await store.markRead(carol, group, { mid: 2 }, 5);
    expect(inGroup.map((d) => d.item)).toMatchObject([{ kind: 'receipt', receipt: { conv: group, mid: 2 } }]);
    await store.close();
  });
});

describe('SQLite schema version 3', () => {
  it('turns each token of a version-2 file into a device, and reads its old group notices', async () => {
    const dataDir = tempDir();
    const [alice, bob, group] = [7_200_000_000_001, 7_200_000_000_002, 7_200_000_000_009];
    const old = new Database(path.join(dataDir, 'mensageiro.db'));
    migrate(old, 2);
    const account = old.prepare(
      `INSERT INTO accounts (id, kind, created_at, delivered_seq) VALUES (?, ?, 1, ?)`,
    );
    account.run(alice, 'user', 1);
    account.run(bob, 'user', 0);
    old
      .prepare(
        `INSERT INTO accounts (id, kind, group_name, creator, client_ts, created_at) VALUES (?, 'group', 'g', ?, 7, 1)`,
      )
      .run(group, alice);
    [alice, bob].forEach((member, position) =>
      old.prepare(`INSERT INTO group_members VALUES (?, ?, ?)`).run(group, position, member),
    );
    const notice = { id: group, name: 'g', creator: alice, members: [alice, bob], ts: 7, at: 1 };
    old
      .prepare(`INSERT INTO inbox (user, seq, kind, mid, body) VALUES (?, 1, 3, ?, ?)`)
      .run(alice, group, JSON.stringify(notice));
    const token = old.prepare(`INSERT INTO tokens (hash, account, created_at) VALUES (?, ?, 1)`);
    token.run('first', alice);
    token.run('second', alice);
    old.close();

    const store = new SqliteStore({ dataDir });
    expect(await store.deviceForToken('first')).toEqual({ account: alice, device: 1 });
    expect(await store.deviceForToken('second')).toEqual({ account: alice, device: 2 });
    expect(await store.inboxState(alice, 2)).toEqual({ delivered: 1, last: 1 });
    expect((await store.createDevice(alice, 'third', null, 5)).device).toBe(3);
    expect(await store.getGroup(group)).toMatchObject({ members: [alice, bob], admins: [] });
    const [item] = await store.readInbox(alice, 0, 1);
    expect(item).toMatchObject({
      kind: 'group',
      group: { id: group, admins: [] },
      change: { action: 'create' },
    });
    // Old members keep seeing the group's messages.
    await store.appendMessage({
      from: bob,
      to: group,
      cid: null,
      text: 'oi',
      ts: 8,
      at: 9,
      recipients: [alice],
    });
    expect((await store.history(alice, group, null, 5)).messages.map((m) => m.text)).toEqual(['oi']);
    await store.close();
  });
});

describe('SQLite 1:1 read receipts', () => {
  it('look through the newest 10,000 messages by time, and find any message by its id', async () => {
    const { store, alice, bob } = await aliceWroteToBob();
    const carol = 7_000_000_000_003;
    await store.createAccount({ id: carol });
    await sendAll(store, { from: carol, to: bob, count: 10_000, cid: 'k', text: () => 'x', at: () => 2 });
    const [first] = await store.readInbox(bob, 0, 1);
    const aliceMid = first!.kind === 'msg' ? first!.msg.mid : 0;
    // By client time the walk stops 10,000 messages back, before alice's.
    expect(await store.markRead(bob, alice, { ts: 1 }, 5)).toEqual([]);
    const byId = await store.markRead(bob, alice, { mid: aliceMid }, 5);
    expect(byId.map((d) => [d.to, d.item])).toMatchObject([
      [alice, { kind: 'receipt', receipt: { status: 'read', by: bob, mid: aliceMid } }],
    ]);
    await store.close();
  });
});

describe('SQLite inbox tail', () => {
  it.each([
    { tail: 'on', inboxTailBytes: undefined },
    { tail: 'off', inboxTailBytes: 0 },
  ])(
    'hands out exactly what the file holds, and nothing a rollback undid (tail $tail)',
    async ({ inboxTailBytes }) => {
      const dataDir = tempDir();
      const store = new SqliteStore({ dataDir, ...(inboxTailBytes === undefined ? {} : { inboxTailBytes }) });
      const users = [8_000_000_000_001, 8_000_000_000_002, 8_000_000_000_003];
      const [alice, bob, carol] = users as [number, number, number];
      const group = 8_000_000_000_900;
      for (const id of users) await store.createAccount({ id });
      await store.createGroup({ id: group, name: 'trio', creator: alice, members: users, ts: 1, at: 1 });
      let n = 0;
      const send = (from: number, to: number, recipients: number[]) =>
        store.appendMessage({ from, to, cid: `c${n++}`, text: `é ${n} "q"`, ts: n, at: n, recipients });
      const marks = new Map<number, number>();
      for (let round = 0; round < 40; round++) {
        if (round === 20) {
          // One write of this batch fails: the rollback empties every tail, which must not hand
          // out what it undid, and the tails fill up again from the appends after it.
          const batch = await Promise.allSettled([
            send(alice, bob, [bob]),
            send(carol, bob, [bob, 8_999_999_999_999]),
            send(alice, carol, [carol]),
          ]);
          expect(batch.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
          for (const user of users) marks.set(user, (await store.inboxState(user)).last);
        }
        await send(alice, bob, [bob]);
        await send(carol, bob, [bob]);
        await send(bob, group, [alice, carol]);
        if (round % 7 === 0) await store.ackDelivered(bob, 2 * round, round);
        if (round % 11 === 0) await store.markRead(alice, bob, { mid: 3 * round + 1 }, round);
      }
      await sleep(50); // the acks' WAL sync, which makes their receipts readable
      const readFrom = async (s: SqliteStore, user: number, after: number, page: number) => {
        const items: InboxItem[] = [];
        for (;;) {
          const got = await s.readInbox(user, after, page);
          if (got.length === 0) return items;
          items.push(...got);
          after = got[got.length - 1]!.seq;
        }
      };
      // The tails first (from where they begin after the rollback), then everything, from the file.
      const tails = new Map<number, InboxItem[]>();
      const before = store.inboxPagesFromFile;
      for (const user of users) tails.set(user, await readFrom(store, user, marks.get(user)!, 7));
      // With the tail, every page of the tails came from memory; without it, from the file.
      if (inboxTailBytes === 0) expect(store.inboxPagesFromFile).toBeGreaterThan(before);
      else expect(store.inboxPagesFromFile).toBe(before);
      const whole = new Map<number, InboxItem[]>();
      for (const user of users) whole.set(user, await readFrom(store, user, 0, 9));
      await store.close();
      // Without a tail, so that every item comes through the file's own query.
      const reopened = new SqliteStore({ dataDir, inboxTailBytes: 0 });
      for (const user of users) {
        const file = await readFrom(reopened, user, 0, 5);
        expect(whole.get(user)).toStrictEqual(file);
        const tail = tails.get(user)!;
        expect(tail).toStrictEqual(file.filter((item) => item.seq > marks.get(user)!));
        expect(tail.length).toBeGreaterThan(20);
      }
      await reopened.close();
    },
  );
});

describe('SQLite inbox tail, warmed at open', () => {
  const [alice, bob, carol] = [8_100_000_000_001, 8_100_000_000_002, 8_100_000_000_003];
  /** bob is owed 200 of alice's 300 messages, and alice 100 of carol's and a receipt. */
  async function backlog(): Promise<string> {
    const dataDir = tempDir();
    const store = new SqliteStore({ dataDir });
    for (const id of [alice, bob, carol]) await store.createAccount({ id });
    const text = () => 'm'.repeat(64);
    await sendAll(store, { from: alice, to: bob, count: 300, cid: 'a', text, at: (n) => n });
    await sendAll(store, { from: carol, to: alice, count: 100, cid: 'c', text, at: (n) => n });
    await store.ackDelivered(bob, 100, 1);
    await store.close();
    return dataDir;
  }

  async function unacked(store: SqliteStore, user: number): Promise<InboxItem[]> {
    const items: InboxItem[] = [];
    let after = (await store.inboxState(user)).delivered;
    for (let page = await store.readInbox(user, after, 64); page.length > 0;) {
      items.push(...page);
      after = page[page.length - 1]!.seq;
      page = await store.readInbox(user, after, 64);
    }
    return items;
  }

  it('hands a reconnecting user its backlog from memory, the same items the file holds', async () => {
    const dataDir = await backlog();
    const file = new SqliteStore({ dataDir, inboxTailBytes: 0 });
    const expected = { alice: await unacked(file, alice), bob: await unacked(file, bob) };
    await file.close();
    expect(expected.bob).toHaveLength(200);
    expect(expected.alice).toHaveLength(101);
    const warmed = new SqliteStore({ dataDir });
    expect(await unacked(warmed, bob)).toStrictEqual(expected.bob);
    expect(await unacked(warmed, alice)).toStrictEqual(expected.alice);
    expect(warmed.inboxPagesFromFile).toBe(0);
    // The acks of that backlog find their messages in memory too: alice gets bob's receipt.
    const receipts = await warmed.ackDelivered(bob, 300, 2);
    expect(receipts.map((d) => [d.to, d.item.kind])).toEqual([[alice, 'receipt']]);
    await warmed.close();
  });

  it('fills only half of a small tail, and the backlogs left out still come, from the file', async () => {
    const dataDir = await backlog();
    const file = new SqliteStore({ dataDir, inboxTailBytes: 0 });
    const expected = await unacked(file, bob);
    await file.close();
    // A message of 64 characters weighs 200, so alice's 101 items, read first, fill half of this
    // tail: the warm-up stops there, and bob's backlog comes from the file.
    const warmed = new SqliteStore({ dataDir, inboxTailBytes: 40_000 });
    expect(await unacked(warmed, bob)).toStrictEqual(expected);
    expect(warmed.inboxPagesFromFile).toBeGreaterThan(0);
    await warmed.close();
  });
});

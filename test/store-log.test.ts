import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogStore } from '../src/store/log/log-store.js';
import { crc32 } from '../src/store/log/record-file.js';
import { tempDir } from './helpers/server.js';
import { storeSuite } from './store-suite.js';

storeSuite('log', {
  async create() {
    const dataDir = tempDir();
    return { store: new LogStore({ dataDir }), reopen: async () => new LogStore({ dataDir }) };
  },
});

const [alice, bob] = [7_300_000_000_001, 7_300_000_000_002];
const message = (n: number) => ({
  from: alice,
  to: bob,
  cid: `c${n}`,
  text: `m${n}`,
  ts: n,
  at: n,
  recipients: [bob],
});

async function aliceWroteToBob(dataDir: string, count: number): Promise<LogStore> {
  const store = new LogStore({ dataDir });
  await store.createAccount({ id: alice });
  await store.createAccount({ id: bob });
  await Promise.all(Array.from({ length: count }, (_, n) => store.appendMessage(message(n))));
  return store;
}

const texts = async (store: LogStore) =>
  (await store.readInbox(bob, 0, 100)).map((item) => (item.kind === 'msg' ? item.msg.text : item.kind));

describe('log store', () => {
  it('computes the CRC-32 of IEEE 802.3', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it.each([
    { torn: 'a header cut short', tail: Buffer.from([7, 0]) },
    { torn: 'a record cut short', tail: Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5, 6]) },
    { torn: 'a record whose checksum fails', tail: Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 123, 125]) },
  ])('cuts $torn off the end, keeps every record before it, and appends after them', async ({ tail }) => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'mensageiro.log');
    await (await aliceWroteToBob(dataDir, 3)).close();
    const whole = fs.statSync(file).size;
    fs.appendFileSync(file, tail);

    const reopened = new LogStore({ dataDir });
    expect(reopened.recovery.truncatedBytes).toBe(tail.length);
    expect(fs.statSync(file).size).toBe(whole);
    expect(await texts(reopened)).toEqual(['m0', 'm1', 'm2']);
    await reopened.appendMessage(message(3));
    await reopened.close();

    const again = new LogStore({ dataDir });
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(await texts(again)).toEqual(['m0', 'm1', 'm2', 'm3']);
    await again.close();
  });

  it("replays a commit's merged receipts as they were merged, and merges nothing across commits", async () => {
    const dataDir = tempDir();
    const store = await aliceWroteToBob(dataDir, 3);
    const merged = (await Promise.all([store.ackDelivered(bob, 1, 5), store.ackDelivered(bob, 2, 6)])).flat();
    const apart = await store.ackDelivered(bob, 3, 7);
    expect([...merged, ...apart].map((d) => d.item.kind === 'receipt' && d.item.receipt.mid)).toEqual([2, 3]);
    const before = await store.readInbox(alice, 0, 10);
    expect(before).toHaveLength(2);
    await store.close();
    const reopened = new LogStore({ dataDir });
    expect(await reopened.readInbox(alice, 0, 10)).toEqual(before);
    // A commit after the reopen is not merged with the last one before it.
    await reopened.appendMessage(message(4));
    await reopened.ackDelivered(bob, 4, 8);
    expect(await reopened.readInbox(alice, 0, 10)).toHaveLength(3);
    await reopened.close();
  });

  it('hands out an inbox item only once its record is on disk', async () => {
    const store = await aliceWroteToBob(tempDir(), 1);
    const sent = store.appendMessage(message(1));
    // Applied in memory already, so the seq is taken, but not readable before the fdatasync.
    expect((await store.inboxState(bob)).last).toBe(2);
    expect(await texts(store)).toEqual(['m0']);
    await sent;
    expect(await texts(store)).toEqual(['m0', 'm1']);
    await store.close();
  });

  it('writes nothing for a write that fails, and replays the rest to the same state', async () => {
    const dataDir = tempDir();
    const store = await aliceWroteToBob(dataDir, 2);
    const results = await Promise.allSettled([
      store.appendMessage(message(5)),
      store.appendMessage({ ...message(6), recipients: [bob, 7_399_999_999_999] }),
      store.ackDelivered(bob, 2, 9),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const before = { inbox: await store.readInbox(alice, 0, 10), state: await store.inboxState(bob) };
    await store.close();
    const reopened = new LogStore({ dataDir });
    expect(await texts(reopened)).toEqual(['m0', 'm1', 'm5']);
    expect({ inbox: await reopened.readInbox(alice, 0, 10), state: await reopened.inboxState(bob) }).toEqual(
      before,
    );
    await reopened.close();
  });
});

import { describe, expect, it } from 'vitest';
import { MensageiroError } from '../src/core/errors.js';
import type { Store } from '../src/core/ports.js';
import type { Delivery } from '../src/core/types.js';
import { storeDeviceSuite } from './store-suite-devices.js';

export interface StoreFactory {
  /** A fresh, empty store. */
  create(): Promise<{ store: Store; reopen: () => Promise<Store> }>;
}

const T0 = 1_700_000_000_000;
let nextId = 1_000_000_000_001;
const newId = () => nextId++;

async function users(store: Store, count: number): Promise<number[]> {
  const ids = Array.from({ length: count }, newId);
  await Promise.all(ids.map((id) => store.createAccount({ id })));
  return ids;
}

function send(
  store: Store,
  from: number,
  to: number,
  text: string,
  extra: { cid?: string; ts?: number; recipients?: number[] } = {},
) {
  return store.appendMessage({
    from,
    to,
    cid: extra.cid ?? null,
    text,
    ts: extra.ts ?? 1000,
    at: T0,
    recipients: extra.recipients ?? [to],
  });
}

const receiptsTo = (deliveries: Delivery[], to: number) =>
  deliveries
    .filter((d) => d.to === to && d.item.kind === 'receipt')
    .map((d) => (d.item.kind === 'receipt' ? d.item.receipt : null));

/** The contract every Store backend must meet (after aedes' abstract-persistence). */
export function storeSuite(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    it('creates accounts and finds them by id and by username, ignoring case', async () => {
      const { store } = await factory.create();
      const id = newId();
      const created = await store.createAccount({ id, username: 'Alice', secretHash: 'h' });
      expect(created).toMatchObject({ id, username: 'Alice', secretHash: 'h' });
      expect(await store.getAccount(id)).toMatchObject({ id, username: 'Alice' });
      expect((await store.findAccountByUsername('aLiCe'))?.id).toBe(id);
      expect(await store.findAccountByUsername('bob')).toBeNull();
      expect(await store.idExists(id)).toBe(true);
      expect(await store.idExists(newId())).toBe(false);
      await store.close();
    });

    it('refuses a taken username (any case) and a taken id with their own codes', async () => {
      const { store } = await factory.create();
      const id = newId();
      await store.createAccount({ id, username: 'carol' });
      await expect(store.createAccount({ id: newId(), username: 'CAROL' })).rejects.toMatchObject({
        code: 'username_taken',
      });
      const error = await store.createAccount({ id }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MensageiroError);
      expect((error as MensageiroError).code).toBe('conflict');
      await store.close();
    });

    it('gives each recipient a gapless sequence and reads the inbox in order', async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      const results = await Promise.all([1, 2, 3].map((n) => send(store, a!, b!, `m${n}`)));
      expect(results.map((r) => r.deliveries[0]!.item.seq)).toEqual([1, 2, 3]);
      const inbox = await store.readInbox(b!, 0, 10);
      expect(inbox.map((item) => (item.kind === 'msg' ? item.msg.text : null))).toEqual(['m1', 'm2', 'm3']);
      expect((await store.readInbox(b!, 2, 10)).map((i) => i.seq)).toEqual([3]);
      expect(await store.inboxState(b!)).toEqual({ delivered: 0, last: 3 });
      await store.close();
    });

    it('stores a resend with the same client id once and reports it as a duplicate', async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      const first = await send(store, a!, b!, 'hello', { cid: 'c1' });
      // The same cid twice in one batch must also be caught.
      const [second, third] = await Promise.all([
        send(store, a!, b!, 'hello', { cid: 'c1' }),
        send(store, a!, b!, 'hello', { cid: 'c1' }),
      ]);
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(third.duplicate).toBe(true);
      expect(second.message.mid).toBe(first.message.mid);
      expect(second.deliveries).toEqual([]);
      expect(await store.readInbox(b!, 0, 10)).toHaveLength(1);
      // Another sender may use the same cid.
      const [c] = await users(store, 1);
      expect((await send(store, c!, b!, 'x', { cid: 'c1' })).duplicate).toBe(false);
      await store.close();
    });

    it('turns an ack into one delivery receipt per conversation, carrying the last message', async () => {
      const { store } = await factory.create();
      const [a, b, c] = await users(store, 3);
      await send(store, a!, b!, 'a1', { ts: 10 });
      await send(store, c!, b!, 'c1', { ts: 11 });
      const a2 = await send(store, a!, b!, 'a2', { ts: 12 });
      const deliveries = await store.ackDelivered(b!, 3, T0);
      const toA = receiptsTo(deliveries, a!);
      expect(toA).toEqual([{ status: 'delivered', by: b, conv: b, mid: a2.message.mid, ts: 12, at: T0 }]);
      expect(receiptsTo(deliveries, c!)).toHaveLength(1);
      expect(await store.inboxState(b!)).toEqual({ delivered: 3, last: 3 });
      // The receipt is stored in the sender's inbox, to be forwarded when they connect.
      const aInbox = await store.readInbox(a!, 0, 10);
      expect(aInbox).toHaveLength(1);
      expect(aInbox[0]).toMatchObject({
        kind: 'receipt',
        receipt: { status: 'delivered', mid: a2.message.mid },
      });
      // Acking the same range again produces nothing; acking past the end is clamped.
      expect(await store.ackDelivered(b!, 3, T0)).toEqual([]);
      expect(await store.ackDelivered(b!, 99, T0)).toEqual([]);
      await store.close();
    });

    it("gives a sender one receipt per conversation and status for a whole commit's acks and reads", async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      const m1 = await send(store, a!, b!, 'one', { ts: 10 });
      const m2 = await send(store, a!, b!, 'two', { ts: 20 });
      // Submitted in one turn, so one group commit: two acks and two reads of the same peer.
      const results = await Promise.all([
        store.ackDelivered(b!, 1, T0),
        store.ackDelivered(b!, 2, T0 + 1),
        store.markRead(b!, a!, { mid: m1.message.mid }, T0 + 2),
        store.markRead(b!, a!, { mid: m2.message.mid }, T0 + 3),
      ]);
      const toA = receiptsTo(results.flat(), a!);
      expect(toA.map((r) => [r!.status, r!.mid])).toEqual([
        ['delivered', m2.message.mid],
        ['read', m2.message.mid],
      ]);
      const stored = await store.readInbox(a!, 0, 10);
      expect(
        stored.map((item) => (item.kind === 'receipt' ? [item.receipt.status, item.receipt.mid] : null)),
      ).toEqual([
        ['delivered', m2.message.mid],
        ['read', m2.message.mid],
      ]);
      // What went out is what is stored, seq for seq.
      expect(results.flat().map((d) => d.item)).toEqual(stored);
      await store.close();
    });

    it('sends a group delivery receipt only once every member has the message', async () => {
      const { store } = await factory.create();
      const [a, b, c] = await users(store, 3);
      const gid = newId();
      const created = await store.createGroup({
        id: gid,
        name: 'g',
        creator: a!,
        members: [a!, b!, c!],
        ts: 5,
        at: T0,
      });
      expect(created.deliveries.map((d) => d.to).sort()).toEqual([a, b, c].sort());
      expect(await store.getGroup(gid)).toMatchObject({
        id: gid,
        name: 'g',
        creator: a,
        members: [a, b, c],
        ts: 5,
      });
      expect(await store.getAccount(gid)).toBeNull();
      expect(await store.idExists(gid)).toBe(true);
      const sent = await send(store, a!, gid, 'hi all', { recipients: [b!, c!], ts: 20 });
      expect(sent.deliveries.map((d) => d.to)).toEqual([b, c]);
      const bSeq = sent.deliveries[0]!.item.seq;
      const cSeq = sent.deliveries[1]!.item.seq;
      expect(receiptsTo(await store.ackDelivered(b!, bSeq, T0), a!)).toEqual([]);
      const done = receiptsTo(await store.ackDelivered(c!, cSeq, T0), a!);
      expect(done).toEqual([
        { status: 'delivered', by: gid, conv: gid, mid: sent.message.mid, ts: 20, at: T0 },
      ]);
      await store.close();
    });

    it('produces read receipts as watermarks, by message id or by client time, never twice', async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      const m1 = await send(store, a!, b!, 'one', { ts: 100 });
      const m2 = await send(store, a!, b!, 'two', { ts: 200 });
      const byTs = receiptsTo(await store.markRead(b!, a!, { ts: 150 }, T0), a!);
      expect(byTs).toEqual([{ status: 'read', by: b, conv: b, mid: m1.message.mid, ts: 100, at: T0 }]);
      expect(await store.markRead(b!, a!, { ts: 150 }, T0)).toEqual([]);
      const byMid = receiptsTo(await store.markRead(b!, a!, { mid: m2.message.mid }, T0), a!);
      expect(byMid).toMatchObject([{ status: 'read', mid: m2.message.mid, ts: 200 }]);
      // Reading backwards is a no-op.
      expect(await store.markRead(b!, a!, { mid: m1.message.mid }, T0)).toEqual([]);
      await store.close();
    });

    it("finds a read receipt among other peers' messages, and never looks past the last one sent", async () => {
      const { store } = await factory.create();
      const [a, b, c] = await users(store, 3);
      const fromA = await send(store, a!, b!, 'from a', { ts: 10 });
      await send(store, c!, b!, 'from c', { ts: 20 });
      const laterFromC = await send(store, c!, b!, 'from c again', { ts: 30 });
      expect(receiptsTo(await store.markRead(b!, a!, { mid: laterFromC.message.mid }, T0), a!)).toEqual([
        { status: 'read', by: b, conv: b, mid: fromA.message.mid, ts: 10, at: T0 },
      ]);
      // c wrote nothing up to a's message, and a has nothing newer than the receipt it has.
      expect(await store.markRead(b!, c!, { mid: fromA.message.mid }, T0)).toEqual([]);
      expect(await store.markRead(b!, a!, { ts: 30 }, T0)).toEqual([]);
      expect(receiptsTo(await store.markRead(b!, c!, { ts: 25 }, T0), c!)).toMatchObject([
        { status: 'read', by: b, conv: b, ts: 20 },
      ]);
      await store.close();
    });

    it('sends group read receipts to each sender, and none for a non-member', async () => {
      const { store } = await factory.create();
      const [a, b, c, outsider] = await users(store, 4);
      const gid = newId();
      await store.createGroup({ id: gid, name: '', creator: a!, members: [a!, b!, c!], ts: 1, at: T0 });
      const fromA = await send(store, a!, gid, 'from a', { recipients: [b!, c!] });
      const fromB = await send(store, b!, gid, 'from b', { recipients: [a!, c!] });
      const deliveries = await store.markRead(c!, gid, { mid: fromB.message.mid }, T0);
      expect(receiptsTo(deliveries, a!)).toMatchObject([
        { status: 'read', by: c, conv: gid, mid: fromA.message.mid },
      ]);
      expect(receiptsTo(deliveries, b!)).toMatchObject([
        { status: 'read', by: c, conv: gid, mid: fromB.message.mid },
      ]);
      expect(await store.markRead(outsider!, gid, { mid: fromB.message.mid }, T0)).toEqual([]);
      await store.close();
    });

    it('keeps everything it acknowledged across a close and reopen', async () => {
      const { store, reopen } = await factory.create();
      const [a, b] = await users(store, 2);
      await send(store, a!, b!, 'durable', { cid: 'd1' });
      await store.ackDelivered(b!, 1, T0);
      await store.close();
      const again = await reopen();
      expect((await again.readInbox(b!, 0, 10)).map((i) => (i.kind === 'msg' ? i.msg.text : ''))).toEqual([
        'durable',
      ]);
      expect(await again.inboxState(b!)).toEqual({ delivered: 1, last: 1 });
      expect((await send(again, a!, b!, 'durable', { cid: 'd1' })).duplicate).toBe(true);
      await again.close();
    });
  });
  storeDeviceSuite(name, factory);
}

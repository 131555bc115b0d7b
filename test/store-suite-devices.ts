import { describe, expect, it } from 'vitest';
import type { GroupChangeRequest, Store } from '../src/core/ports.js';
import type { InboxItem } from '../src/core/types.js';
import type { StoreFactory } from './store-suite.js';

// The Store contract for devices, sync, history, conversations, group changes and profiles.

const T0 = 1_700_000_000_000;
let nextId = 2_000_000_000_001;
const newId = () => nextId++;

async function users(store: Store, count: number): Promise<number[]> {
  const ids = Array.from({ length: count }, newId);
  await Promise.all(ids.map((id) => store.createAccount({ id })));
  return ids;
}

function send(store: Store, from: number, to: number, text: string, recipients = [to], device?: number) {
  return store.appendMessage({
    from,
    to,
    cid: null,
    text,
    ts: 1000,
    at: T0,
    recipients,
    ...(device === undefined ? {} : { device }),
  });
}

const kinds = (items: InboxItem[]) => items.map((item) => item.kind);
const texts = (page: { messages: Array<{ text: string }> }) => page.messages.map((m) => m.text);

function change(gid: number, by: number, rest: Partial<GroupChangeRequest>): GroupChangeRequest {
  return { gid, by, action: 'add', members: [], maxMembers: 8, ts: 1, at: T0, ...rest };
}

export function storeDeviceSuite(name: string, factory: StoreFactory): void {
  describe(`Store contract, devices and conversations: ${name}`, () => {
    it('gives each device its own token and cursor; the first device to ack makes the receipt', async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      const one = await store.createDevice(b!, 'tok-1', 'laptop', T0);
      const two = await store.createDevice(b!, 'tok-2', null, T0);
      expect([one.device, two.device]).toEqual([1, 2]);
      expect(await store.deviceForToken('tok-2')).toEqual({ account: b, device: 2 });
      expect(await store.deviceForToken('nope')).toBeNull();
      await send(store, a!, b!, 'm1');
      await send(store, a!, b!, 'm2');
      const first = await store.ackDelivered(b!, 2, T0, 1);
      expect(first.filter((d) => d.to === a && d.item.kind === 'receipt')).toHaveLength(1);
      expect(await store.inboxState(b!, 1)).toEqual({ delivered: 2, last: 2 });
      // Device 2 has not acked: it resumes from where it was, and its ack makes no receipt.
      expect(await store.inboxState(b!, 2)).toEqual({ delivered: 0, last: 2 });
      expect(await store.ackDelivered(b!, 2, T0, 2)).toEqual([]);
      expect(await store.inboxState(b!, 2)).toEqual({ delivered: 2, last: 2 });
      expect(await store.inboxState(b!)).toEqual({ delivered: 2, last: 2 });
      // A device made later starts where the account's delivered watermark is.
      const three = await store.createDevice(b!, 'tok-3', null, T0);
      expect(await store.inboxState(b!, three.device)).toEqual({ delivered: 2, last: 2 });
      await store.close();
    });

    it('refuses a revoked or replaced token, and keeps devices across a reopen', async () => {
      const { store, reopen } = await factory.create();
      const [a] = await users(store, 1);
      await store.createDevice(a!, 'old-1', 'phone', T0);
      await store.createDevice(a!, 'tok-2', null, T0);
      await store.createDevice(a!, 'tok-3', null, T0);
      expect(await store.replaceDeviceToken(a!, 1, 'new-1', T0)).toBe(true);
      expect(await store.replaceDeviceToken(a!, 9, 'x', T0)).toBe(false);
      expect(await store.deviceForToken('old-1')).toBeNull();
      expect(await store.deviceForToken('new-1')).toEqual({ account: a, device: 1 });
      expect(await store.revokeDevices(a!, 2)).toEqual([2]);
      expect(await store.deviceForToken('tok-2')).toBeNull();
      await store.close();
      const again = await reopen();
      expect((await again.listDevices(a!)).map((d) => [d.device, d.name])).toEqual([
        [1, 'phone'],
        [3, null],
      ]);
      expect(await again.revokeDevices(a!, 'all', 1)).toEqual([3]);
      expect(await again.deviceForToken('tok-3')).toBeNull();
      expect(await again.deviceForToken('new-1')).toEqual({ account: a, device: 1 });
      // Ids are never reused: a device made now is not a revoked one come back.
      expect((await again.createDevice(a!, 'tok-4', null, T0)).device).toBe(4);
      await again.close();
    });

    it("puts a sent message in the sender's inbox only when the sender has two devices", async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      await store.createDevice(a!, 'a-1', null, T0);
      const lone = await send(store, a!, b!, 'one device', [b!], 1);
      expect(lone.deliveries.map((d) => d.to)).toEqual([b]);
      await store.createDevice(a!, 'a-2', null, T0);
      const synced = await send(store, a!, b!, 'two devices', [b!], 2);
      expect(synced.deliveries.map((d) => d.to)).toEqual([b, a]);
      const own = await store.readInbox(a!, 0, 10);
      expect(own).toHaveLength(1);
      expect(own[0]).toMatchObject({
        kind: 'sent',
        device: 2,
        msg: { mid: synced.message.mid, from: a, to: b, text: 'two devices' },
      });
      await store.close();
    });

    it("keeps read marks for unread counts, and tells the reader's other devices", async () => {
      const { store } = await factory.create();
      const [a, b] = await users(store, 2);
      await store.createDevice(b!, 'b-1', null, T0);
      await store.createDevice(b!, 'b-2', null, T0);
      await send(store, a!, b!, 'm1');
      const m2 = await send(store, a!, b!, 'm2');
      expect((await store.conversations(b!, 10))[0]).toMatchObject({ conv: a, kind: 'user', unread: 2 });
      const read = await store.markRead(b!, a!, { mid: m2.message.mid }, T0, 1);
      const sync = read.find((d) => d.to === b);
      expect(sync?.item).toMatchObject({ kind: 'read', conv: a, mid: m2.message.mid, device: 1 });
      expect(kinds(await store.readInbox(b!, 0, 10))).toEqual(['msg', 'msg', 'read']);
      expect((await store.conversations(b!, 10))[0]).toMatchObject({ conv: a, unread: 0 });
      await store.close();
    });

    it('pages a conversation newest first, both directions, with receipt states', async () => {
      const { store } = await factory.create();
      const [a, b, c] = await users(store, 3);
      const sent = [];
      for (let n = 1; n <= 5; n++) sent.push(await send(store, n % 2 ? a! : b!, n % 2 ? b! : a!, `m${n}`));
      await send(store, c!, a!, 'elsewhere');
      const first = await store.history(a!, b!, null, 2);
      expect(texts(first)).toEqual(['m5', 'm4']);
      expect(first.more).toBe(true);
      const second = await store.history(a!, b!, first.messages[1]!.mid, 10);
      expect(texts(second)).toEqual(['m3', 'm2', 'm1']);
      expect(second.more).toBe(false);
      // b acks its inbox (m1, m3, m5) and reads up to m3.
      await store.ackDelivered(b!, 3, T0);
      await store.markRead(b!, a!, { mid: sent[2]!.message.mid }, T0);
      const states = (await store.history(a!, b!, null, 10)).messages.map((m) => [m.text, m.status]);
      expect(states).toEqual([
        ['m5', 'delivered'],
        ['m4', 'delivered'],
        ['m3', 'read'],
        ['m2', 'delivered'],
        ['m1', 'read'],
      ]);
      expect(texts(await store.history(b!, a!, null, 1))).toEqual(['m5']);
      await store.close();
    });

    it('lists conversations by latest activity, with names, last message and groups', async () => {
      const { store } = await factory.create();
      const [a, b, c] = await users(store, 3);
      await store.updateAccount(b!, { username: 'bruna', displayName: 'Bruna B' });
      await send(store, b!, a!, 'from b');
      const gid = newId();
      await store.createGroup({ id: gid, name: 'trio', creator: c!, members: [c!, a!, b!], ts: 1, at: T0 });
      await send(store, c!, gid, 'to the group', [a!, b!]);
      const list = await store.conversations(a!, 10);
      expect(list.map((x) => [x.conv, x.kind, x.name, x.unread, x.last?.text])).toEqual([
        [gid, 'group', 'trio', 1, 'to the group'],
        [b, 'user', 'Bruna B', 1, 'from b'],
      ]);
      expect(list[0]!.members).toEqual([c, a, b]);
      expect(list[1]!.last).toMatchObject({ from: b, fromName: 'Bruna B', status: 'delivered' });
      await store.close();
    });

    it('changes groups in order with the messages: added see later messages, removed get nothing', async () => {
      const { store } = await factory.create();
      const [a, b, c, d] = await users(store, 4);
      const gid = newId();
      await store.createGroup({ id: gid, name: 'g', creator: a!, members: [a!, b!, c!], ts: 1, at: T0 });
      await send(store, a!, gid, 'before d', [b!, c!]);
      const added = await store.changeGroup(change(gid, a!, { action: 'add', members: [d!] }));
      expect(added.group.members).toEqual([a, b, c, d]);
      expect(added.deliveries.map((x) => x.to).sort()).toEqual([a, b, c, d].sort());
      expect(added.deliveries[0]!.item).toMatchObject({
        kind: 'group',
        change: { action: 'add', by: a, affected: [d] },
        group: { members: [a, b, c, d] },
      });
      const removed = await store.changeGroup(change(gid, a!, { action: 'remove', members: [b!] }));
      expect(removed.deliveries.map((x) => x.to).sort()).toEqual([a, b, c, d].sort());
      expect((await store.getGroup(gid))?.members).toEqual([a, c, d]);
      // A send prepared before the removal, with b still among the recipients, skips b.
      const after = await send(store, a!, gid, 'after', [b!, c!, d!]);
      expect(after.deliveries.map((x) => x.to)).toEqual([c, d]);
      expect(texts(await store.history(d!, gid, null, 10))).toEqual(['after']);
      expect(texts(await store.history(b!, gid, null, 10))).toEqual(['before d']);
      expect(texts(await store.history(c!, gid, null, 10))).toEqual(['after', 'before d']);
      await expect(send(store, b!, gid, 'let me in', [a!])).rejects.toMatchObject({ code: 'forbidden' });
      await store.close();
    });

    it("tells a sender each member's state of a group message; it is read once all have read it", async () => {
      const { store } = await factory.create();
      const [a, b, c, d] = await users(store, 4);
      const gid = newId();
      await store.createGroup({ id: gid, name: 'g', creator: a!, members: [a!, b!, c!], ts: 1, at: T0 });
      const sent = await send(store, a!, gid, 'hi', [b!, c!]);
      const mid = sent.message.mid;
      await store.changeGroup(change(gid, a!, { action: 'add', members: [d!] }));
      await store.ackDelivered(b!, sent.deliveries[0]!.item.seq, T0);
      await store.markRead(c!, gid, { mid }, T0);
      const states = (await store.messageReceipts(a!, mid))?.states.map((x) => [x.member, x.status]);
      expect(states).toEqual([
        [b, 'delivered'],
        [c, 'read'],
      ]);
      expect((await store.history(a!, gid, null, 1)).messages[0]!.status).toBe('delivered');
      await store.markRead(b!, gid, { mid }, T0);
      expect((await store.history(a!, gid, null, 1)).messages[0]!.status).toBe('read');
      expect(await store.messageReceipts(b!, mid)).toBeNull();
      await store.close();
    });

    it('renames, names admins, lets members leave and holds the size limit', async () => {
      const { store } = await factory.create();
      const [a, b, c, d] = await users(store, 4);
      const gid = newId();
      await store.createGroup({ id: gid, name: 'g', creator: a!, members: [a!, b!], ts: 1, at: T0 });
      await store.changeGroup(change(gid, a!, { action: 'rename', name: 'novo' }));
      await store.changeGroup(change(gid, a!, { action: 'admins', members: [b!] }));
      expect(await store.getGroup(gid)).toMatchObject({ name: 'novo', admins: [b] });
      await expect(
        store.changeGroup(change(gid, b!, { action: 'add', members: [c!, d!], maxMembers: 3 })),
      ).rejects.toMatchObject({ code: 'group_too_large' });
      expect((await store.getGroup(gid))?.members).toEqual([a, b]);
      const left = await store.changeGroup(change(gid, a!, { action: 'leave', members: [a!] }));
      expect(left.group).toMatchObject({ members: [b], admins: [b] });
      expect(left.deliveries.map((x) => x.to).sort()).toEqual([a, b].sort());
      const inbox = await store.readInbox(a!, 0, 10);
      expect(inbox.map((i) => (i.kind === 'group' ? i.change.action : i.kind))).toEqual([
        'create',
        'rename',
        'admins',
        'leave',
      ]);
      await store.close();
    });

    it("changes usernames and display names, and messages carry the sender's name", async () => {
      const { store, reopen } = await factory.create();
      const [a, b] = await users(store, 2);
      await store.updateAccount(a!, { username: 'Ana' });
      await expect(store.updateAccount(b!, { username: 'ANA' })).rejects.toMatchObject({
        code: 'username_taken',
      });
      await send(store, a!, b!, 'oi');
      expect((await store.readInbox(b!, 0, 1))[0]).toMatchObject({ msg: { fromName: 'Ana' } });
      await store.updateAccount(a!, { displayName: 'Ana Lima' });
      expect((await store.readInbox(b!, 0, 1))[0]).toMatchObject({ msg: { fromName: 'Ana Lima' } });
      await store.close();
      const again = await reopen();
      expect(await again.findAccountByUsername('ana')).toMatchObject({ id: a, displayName: 'Ana Lima' });
      expect((await again.readInbox(b!, 0, 1))[0]).toMatchObject({ msg: { fromName: 'Ana Lima' } });
      await again.close();
    });
  });
}

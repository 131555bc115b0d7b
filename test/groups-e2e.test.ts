import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZapTestClient, pad, z03 } from './helpers/zap-client.js';

// Groups that change, across native clients and a raw zap client (seed 002's 11).

let server: TestServer;
let natives: NativeTestClient[] = [];
let zaps: ZapTestClient[] = [];

async function native(username: string): Promise<{ client: NativeTestClient; id: number }> {
  const client = await NativeTestClient.connect(server.ports.native!);
  natives.push(client);
  const welcome = await client.register({ username });
  return { client, id: welcome.id as number };
}

async function zapUser(): Promise<{ client: ZapTestClient; id: string }> {
  const client = await ZapTestClient.connect(server.ports.zap!);
  zaps.push(client);
  const id = await client.register();
  await client.write(z03(id));
  return { client, id };
}

/** Sends a request with a cid and waits for its answer or its error. */
async function ask(client: NativeTestClient, request: Frame): Promise<Frame> {
  const cid = `r${Math.random()}`;
  await client.send({ ...request, cid });
  return client.waitFor((f) => f.cid === cid, `answer to ${String(request.type)}`);
}

const elevens = (zap: ZapTestClient, gid: number) =>
  zap.lines.filter((l) => l.startsWith(`11${pad(gid, 13)}`));
const membersOf = (line: string) => line.slice(25).match(/.{13}/g)!.map(Number);

afterEach(async () => {
  for (const client of natives) client.close();
  for (const client of zaps) client.close();
  natives = [];
  zaps = [];
  await server.close();
});

describe('groups that change', () => {
  beforeEach(async () => {
    server = await startTestServer({ maxGroupSize: 4 });
  });

  it('invites, renames, kicks and lets members leave, told to every member, zap included', async () => {
    const alice = await native('alice');
    const bob = await native('bob');
    const carol = await native('carol');
    const zap = await zapUser();
    const created = await ask(alice.client, {
      type: 'group',
      name: 'team',
      members: ['bob', Number(zap.id)],
    });
    const gid = created.gid as number;
    await zap.client.waitLine((l) => l.startsWith(`11${pad(gid, 13)}`), 'the 11 of the new group');
    await ask(alice.client, { type: 'msg', to: gid, text: 'before carol' });

    expect(await ask(alice.client, { type: 'group.add', gid, members: ['carol'] })).toMatchObject({
      type: 'group.changed',
      change: 'add',
    });
    const invited = await carol.client.waitFor(ofType('group'), 'notice to carol');
    expect(invited).toMatchObject({ change: 'add', by: alice.id, affected: [carol.id], name: 'team' });
    expect(invited.names).toEqual(['alice', 'bob', null, 'carol']);
    await zap.client.raw.until(() => elevens(zap.client, gid).length === 2 || undefined, 'a second 11');
    expect(membersOf(elevens(zap.client, gid)[1]!)).toEqual([alice.id, bob.id, Number(zap.id), carol.id]);

    // Over the limit of 4, and bob is no admin: both refused with their own codes.
    expect(await ask(alice.client, { type: 'group.add', gid, members: ['bob', 'nobody'] })).toMatchObject({
      code: 'unknown_recipient',
    });
    const extra = await native('dave');
    expect(await ask(alice.client, { type: 'group.add', gid, members: [extra.id] })).toMatchObject({
      type: 'error',
      code: 'group_too_large',
    });
    expect(await ask(bob.client, { type: 'group.rename', gid, name: 'mine' })).toMatchObject({
      code: 'forbidden',
    });

    await ask(alice.client, { type: 'group.rename', gid, name: 'time' });
    await zap.client.raw.until(
      () => elevens(zap.client, gid).length === 3 || undefined,
      'an 11 for the rename',
    );
    await ask(alice.client, { type: 'group.remove', gid, members: [Number(zap.id)] });
    await zap.client.raw.until(() => elevens(zap.client, gid).length === 4 || undefined, 'the kick as an 11');
    expect(membersOf(elevens(zap.client, gid)[3]!)).toEqual([alice.id, bob.id, carol.id]);
    await ask(bob.client, { type: 'group.leave', gid });
    const left = await alice.client.waitFor((f) => f.type === 'group' && f.change === 'leave', 'leave');
    expect(left).toMatchObject({ members: [alice.id, carol.id], affected: [bob.id], name: 'time' });
    await bob.client.waitFor((f) => f.type === 'group' && f.change === 'leave', 'bob told he left');

    await ask(alice.client, { type: 'msg', to: gid, text: 'after' });
    await carol.client.waitFor((f) => f.type === 'msg' && f.text === 'after', 'carol gets it');
    // A direct message after it marks the end of what the kicked and the gone could get.
    await ask(alice.client, { type: 'msg', to: Number(zap.id), text: 'marker' });
    await ask(alice.client, { type: 'msg', to: bob.id, text: 'marker' });
    await zap.client.waitLine((l) => l.startsWith('06') && l.endsWith('marker'), 'zap marker');
    await bob.client.waitFor((f) => f.type === 'msg' && f.text === 'marker', 'bob marker');
    expect(zap.client.lines.filter((l) => l.startsWith('06') && l.includes('after'))).toEqual([]);
    expect(bob.client.frames.filter((f) => f.type === 'msg' && f.text === 'after')).toEqual([]);
    expect(carol.client.frames.filter((f) => f.type === 'msg' && f.text === 'before carol')).toEqual([]);

    const after = carol.client.frames.find((f) => f.type === 'msg' && f.text === 'after')!;
    await carol.client.send({ type: 'read', conv: gid, mid: after.mid });
    await alice.client.waitFor(
      (f) => f.type === 'receipt' && f.status === 'read' && f.by === carol.id,
      'read',
    );
    const info = await ask(alice.client, { type: 'message.info', mid: after.mid });
    expect(info).toMatchObject({ conv: gid, members: [{ id: carol.id, name: 'carol', status: 'read' }] });
    const page = await ask(carol.client, { type: 'history', conv: gid });
    expect((page.messages as Frame[]).map((m) => m.text)).toEqual(['after']);
    const members = await ask(carol.client, { type: 'group.info', gid });
    expect(members).toMatchObject({ name: 'time', members: [alice.id, carol.id], names: ['alice', 'carol'] });
  });

  it('refuses a group made over the size limit', async () => {
    const alice = await native('alice');
    const others = [await native('b1'), await native('b2'), await native('b3'), await native('b4')];
    const refused = await ask(alice.client, { type: 'group', members: others.map((o) => o.id) });
    expect(refused).toMatchObject({ type: 'error', code: 'group_too_large' });
    expect(refused.text).toMatch(/at most 4 members/);
  });
});

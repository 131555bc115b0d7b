import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const OLD = 700;
const TEXT = 'x'.repeat(1000);

let server: TestServer;
const open: NativeTestClient[] = [];
afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server?.close();
});

async function client(frame: Frame): Promise<{ client: NativeTestClient; welcome: Frame }> {
  const connection = await NativeTestClient.connect(server.ports.native!);
  open.push(connection);
  await connection.send(frame);
  const welcome = await connection.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'welcome');
  expect(welcome.type).toBe('welcome');
  return { client: connection, welcome };
}

describe('--retain-days', () => {
  it('removes only acknowledged messages past the age, keeps resume correct, and the file shrinks', async () => {
    server = await startTestServer({ retainDays: 1, messageBurst: 0 });
    const db = (server.store as SqliteStore).database;
    const dbFile = path.join(server.dataDir, 'mensageiro.db');
    const alice = await client({ type: 'register', username: 'alice', secret: 'a', acks: true });
    const bob = await client({ type: 'register', username: 'bob', secret: 'b', acks: true });
    const carol = await client({ type: 'register', username: 'carol', secret: 'c', acks: true });
    const dave = await client({ type: 'register', username: 'dave', secret: 'd', acks: true });
    const erin = await client({ type: 'register', username: 'erin', secret: 'e', acks: true });
    await alice.client.send({ type: 'group', members: ['bob', 'carol'], name: 'trio' });
    const { gid } = await alice.client.waitFor(ofType('group.created'), 'the group');

    // Old: bob's, which he acks; the group's, which carol never acks; dave's, which he never acks.
    let cid = 0;
    const send = async (to: unknown, count: number) => {
      for (let i = 0; i < count; i++)
        await alice.client.send({ type: 'msg', to, text: TEXT, cid: `c${++cid}` });
      await alice.client.waitForCount(ofType('sent'), cid, 'acks');
    };
    await send('bob', OLD);
    await send(gid, 3);
    await send('dave', 4);
    await send('erin', 2);
    const atErin = await erin.client.waitForCount(ofType('msg'), 2, 'the messages at erin');
    await erin.client.send({ type: 'ack', seq: atErin[1]!.seq });
    const atBob = await bob.client.waitForCount(ofType('msg'), OLD + 3, 'the old messages at bob');
    await bob.client.send({ type: 'ack', seq: atBob[atBob.length - 1]!.seq });
    await carol.client.waitForCount(ofType('msg'), 3, 'the group messages at carol');
    await dave.client.waitForCount(ofType('msg'), 4, 'the messages at dave');
    // Every message so far is older than `cutoff`, and every one after it is not.
    const cutoff = Date.now();
    while (Date.now() === cutoff) await new Promise((resolve) => setImmediate(resolve));
    await send('bob', 5);
    const recent = await bob.client.waitForCount(ofType('msg'), OLD + 3 + 5, 'the new messages at bob');
    const lastSeq = recent[recent.length - 1]!.seq as number;
    await bob.client.send({ type: 'ack', seq: lastSeq });
    await alice.client.waitFor(
      (f) => f.type === 'receipt' && f.status === 'delivered' && f.mid === recent[recent.length - 1]!.mid,
      'the receipt of the last ack',
    );
    const count = (sql: string) => db.prepare(sql).pluck().get() as number;
    const messagesBefore = count('SELECT count(*) FROM messages');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const sizeBefore = fs.statSync(dbFile).size;

    const pass = await server.retention!.runNow(cutoff + DAY_MS);
    // Bob's old direct messages and his inbox rows up to the newest old one (and the group
    // notice); erin's first message and row, but not her last row, from which her seqs go on.
    expect(pass.messages).toBe(OLD + 1);
    expect(pass.inboxItems).toBe(1 + OLD + 3 + 1);
    expect(pass.pagesFreed).toBeGreaterThan(0);
    expect(count('SELECT count(*) FROM messages')).toBe(messagesBefore - OLD - 1);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(fs.statSync(dbFile).size).toBeLessThan(sizeBefore - (OLD * TEXT.length) / 2);

    // Resume from the start: what is left comes, in order, and nothing else.
    const bobAgain = await client({ type: 'login', username: 'bob', secret: 'b', acks: true, resume: 0 });
    const left = await bobAgain.client.waitForCount(ofType('msg'), 5, 'what is left for bob');
    expect(left.map((f) => f.seq)).toEqual(recent.slice(-5).map((f) => f.seq));
    // Resume from within what was removed, and from the middle of what is left.
    const fromRemoved = await client({ type: 'login', username: 'bob', secret: 'b', acks: true, resume: 10 });
    expect(
      (await fromRemoved.client.waitForCount(ofType('msg'), 5, 'from a removed seq')).map((f) => f.seq),
    ).toEqual(recent.slice(-5).map((f) => f.seq));
    const fromMiddle = await client({
      type: 'login',
      username: 'bob',
      secret: 'b',
      acks: true,
      resume: lastSeq - 2,
    });
    expect(
      (await fromMiddle.client.waitForCount(ofType('msg'), 2, 'the last two')).map((f) => f.seq),
    ).toEqual([lastSeq - 1, lastSeq]);
    // Carol (group, never acked) and dave (never acked) still have all of theirs.
    const carolAgain = await client({ type: 'login', username: 'carol', secret: 'c', acks: true, resume: 0 });
    expect(await carolAgain.client.waitForCount(ofType('msg'), 3, 'carol, all three')).toHaveLength(3);
    const daveAgain = await client({ type: 'login', username: 'dave', secret: 'd', acks: true, resume: 0 });
    expect(await daveAgain.client.waitForCount(ofType('msg'), 4, 'dave, all four')).toHaveLength(4);
    // The next message to bob continues his sequence.
    await send('bob', 1);
    const next = await bobAgain.client.waitForCount(ofType('msg'), 6, 'a new message');
    expect(next[5]!.seq).toBe(lastSeq + 1);

    // A second pass finds nothing more to remove.
    expect(await server.retention!.runNow(cutoff + DAY_MS)).toEqual({
      inboxItems: 0,
      messages: 0,
      pagesFreed: 0,
    });
    await send('erin', 1);
    expect(
      (await erin.client.waitForCount(ofType('msg'), 3, 'a new message at erin')).map((f) => f.seq),
    ).toEqual([1, 2, 3]);
  });
});

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import { CLI } from './helpers/server-process.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { ZapTestClient, z03 } from './helpers/zap-client.js';

let server: TestServer | null = null;
const open: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server?.close();
  server = null;
});

/**
 * Runs `mensageiro admin ...` as an operator would, on the test server's data directory; not
 * spawnSync, since the server answering its admin socket runs in this process.
 */
function admin(
  dataDir: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'admin', ...args, '--data', dataDir],
      { timeout: 20_000 },
      (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

async function adminJson<T>(dataDir: string, ...args: string[]): Promise<T> {
  const result = await admin(dataDir, ...args, '--json');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as T;
}

async function native(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server!.ports.native!);
  open.push(client);
  return client;
}

/** The first welcome or error a sign-in gets. */
async function signIn(frame: Frame): Promise<Frame> {
  const client = await native();
  await client.send(frame);
  return client.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'welcome or error');
}

describe('mensageiro admin on a running server (admin socket)', () => {
  it('lists users, groups and who is online', async () => {
    server = await startTestServer();
    const alice = await native();
    const welcome = await alice.register({ username: 'alice', secret: 'alice-secret' });
    const bob = await native();
    const bobWelcome = await bob.register({ username: 'bob' });
    await alice.send({ type: 'group', members: ['bob'], name: 'turma' });
    const group = await alice.waitFor(ofType('group.created'), 'the group');
    bob.close();

    const socket = path.join(server.dataDir, 'admin.sock');
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    const users = await adminJson<Array<Record<string, unknown>>>(server.dataDir, 'users');
    expect(users).toEqual([
      expect.objectContaining({ id: Math.min(welcome.id as number, bobWelcome.id as number) }),
      expect.objectContaining({ id: Math.max(welcome.id as number, bobWelcome.id as number) }),
    ]);
    expect(users.find((user) => user.username === 'alice')).toMatchObject({
      hasSecret: true,
      devices: 1,
      online: true,
      suspended: false,
      lastSeen: expect.any(Number),
    });
    const table = await (await admin(server.dataDir, 'users')).stdout.split('\n');
    expect(table[0]).toBe('id\tusername\tlast seen\tdevices\tbacklog\tstate');
    expect(table.find((line) => line.includes('\talice\t'))).toMatch(/\t1\t\d+\tonline$/);

    expect(await adminJson(server.dataDir, 'groups')).toEqual([
      expect.objectContaining({ id: group.gid, name: 'turma', members: [welcome.id, bobWelcome.id] }),
    ]);
    // Bob's connection closed: wait until the server has seen it before asking who is online.
    await alice.send({ type: 'who', ids: [bobWelcome.id] });
    await alice.waitFor((f) => f.type === 'presence' && f.online === false, 'bob offline');
    expect(await adminJson(server.dataDir, 'online')).toEqual([{ id: welcome.id, username: 'alice' }]);
  });

  it('suspend closes the sessions now and refuses sign-in on every dialect; unsuspend allows it again', async () => {
    server = await startTestServer();
    const carolClient = await native();
    const carol = await carolClient.register({ username: 'carol' });
    const dave = await native();
    const daveWelcome = await dave.register({ username: 'dave', secret: 'dave-secret' });
    const zap = await ZapTestClient.connect(server.ports.zap!);
    open.push(zap);
    await zap.write(z03(String(carol.id)));
    await zap.raw.until(() => server!.hub.presence.isOnline(carol.id as number) || undefined, 'carol on zap');

    expect(await adminJson(server.dataDir, 'suspend', 'carol')).toEqual({
      id: carol.id,
      suspended: true,
      disconnected: 2,
    });
    await carolClient.raw.waitClosed();
    await zap.raw.waitClosed();
    expect((await admin(server.dataDir, 'suspend', 'dave')).status).toBe(0);
    await dave.raw.waitClosed();

    expect(await signIn({ type: 'new', id: carol.id, acks: true })).toMatchObject({
      type: 'error',
      code: 'auth_failed',
      text: 'this account is suspended',
    });
    expect(await signIn({ type: 'login', username: 'dave', secret: 'dave-secret' })).toMatchObject({
      code: 'auth_failed',
    });
    expect(await signIn({ type: 'login', id: daveWelcome.id, token: daveWelcome.token })).toMatchObject({
      code: 'auth_failed',
    });
    const zapAgain = await ZapTestClient.connect(server.ports.zap!);
    open.push(zapAgain);
    await zapAgain.write(z03(String(carol.id)));
    await zapAgain.raw.waitClosed();
    const mm = await LineTestClient.connect(server.ports.mm!);
    open.push(mm);
    await mm.write('carol\n');
    await mm.raw.waitClosed();
    expect(mm.lines.join('\n')).not.toContain('\nf');

    expect((await admin(server.dataDir, 'unsuspend', 'carol')).status).toBe(0);
    expect(await signIn({ type: 'new', id: carol.id, acks: true })).toMatchObject({ type: 'welcome' });
  });

  it('revoke-tokens refuses the old token; reset-secret refuses the old secret and accepts the new one', async () => {
    server = await startTestServer();
    const erin = await native();
    const welcome = await erin.register({ username: 'erin', secret: 'first-secret' });

    expect(await adminJson(server.dataDir, 'revoke-tokens', 'erin')).toEqual({
      id: welcome.id,
      devicesRevoked: 1,
      disconnected: 1,
    });
    await erin.raw.waitClosed();
    expect(await signIn({ type: 'login', id: welcome.id, token: welcome.token })).toMatchObject({
      type: 'error',
      code: 'auth_failed',
    });
    expect(await signIn({ type: 'login', username: 'erin', secret: 'first-secret' })).toMatchObject({
      type: 'welcome',
    });

    const reset = await adminJson<{ secret: string; devicesRevoked: number }>(
      server.dataDir,
      'reset-secret',
      'erin',
    );
    expect(reset.secret).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(reset.devicesRevoked).toBe(1);
    expect(await signIn({ type: 'login', username: 'erin', secret: 'first-secret' })).toMatchObject({
      code: 'auth_failed',
    });
    expect(await signIn({ type: 'login', username: 'erin', secret: reset.secret })).toMatchObject({
      type: 'welcome',
    });
  });

  it('delete-user says what it removed and kept, and the name is free; delete-group stops its messages', async () => {
    server = await startTestServer();
    const frank = await native();
    const frankWelcome = await frank.register({ username: 'frank', secret: 'frank-secret', acks: true });
    const gina = await native();
    const ginaWelcome = await gina.register({ username: 'gina', acks: true });
    await gina.send({ type: 'msg', to: 'frank', text: 'para frank', cid: 'g1' });
    await frank.waitFor(ofType('msg'), 'gina to frank');
    await frank.send({ type: 'msg', to: 'gina', text: 'para gina', cid: 'f1' });
    await gina.waitFor(ofType('msg'), 'frank to gina');
    await gina.send({ type: 'group', members: ['frank'], name: 'dupla' });
    const group = await gina.waitFor(ofType('group.created'), 'the group');

    const deleted = await adminJson(server.dataDir, 'delete-user', 'frank');
    expect(deleted).toEqual({
      id: frankWelcome.id,
      // Gina's message and the group notice: the notice, the last row, stays.
      removed: { username: 'frank', devices: 1, inboxItems: 1, messagesToThem: 1 },
      kept: { messagesSent: 1, groups: 1 },
      disconnected: 1,
    });
    await frank.raw.waitClosed();
    expect(await signIn({ type: 'login', username: 'frank', secret: 'frank-secret' })).toMatchObject({
      code: 'auth_failed',
    });
    expect(await signIn({ type: 'new', id: frankWelcome.id, acks: true })).toMatchObject({
      code: 'auth_failed',
    });
    const newFrank = await native();
    expect(await newFrank.register({ username: 'frank' })).toMatchObject({
      type: 'welcome',
      username: 'frank',
    });
    expect(gina.frames.filter(ofType('msg')).map((f) => f.text)).toEqual(['para gina']);

    expect(await adminJson(server.dataDir, 'delete-group', String(group.gid))).toEqual({
      id: group.gid,
      members: 2,
      keptMessages: 0,
    });
    await gina.send({ type: 'msg', to: group.gid, text: 'ainda aí?', cid: 'g2' });
    expect(
      await gina.waitFor((f) => f.type === 'error' && f.cid === 'g2', 'refusal of the group message'),
    ).toMatchObject({ code: 'unknown_recipient' });
    expect(await adminJson(server.dataDir, 'groups')).toEqual([]);
    expect(ginaWelcome.id).not.toBe(frankWelcome.id);
  });

  it('says so when a user is unknown', async () => {
    server = await startTestServer();
    const result = await admin(server.dataDir, 'suspend', 'nobody');
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('mensageiro: no user nobody\n');
  });
});

describe('mensageiro admin on a stopped server', () => {
  it('works on the data directory, and a suspension holds when the server starts', async () => {
    const dataDir = tempDir();
    server = await startTestServer({ data: dataDir });
    const hana = await native();
    const welcome = await hana.register({ username: 'hana', secret: 'hana-secret' });
    await server.close();
    server = null;

    const users = await adminJson<Array<{ username: string }>>(dataDir, 'users');
    expect(users.map((user) => user.username)).toEqual(['hana']);
    expect((await admin(dataDir, 'online')).stderr).toContain('the server is not running');
    expect(await adminJson(dataDir, 'suspend', 'hana')).toEqual({
      id: welcome.id,
      suspended: true,
      disconnected: 0,
    });

    server = await startTestServer({ data: dataDir });
    expect(await signIn({ type: 'login', username: 'hana', secret: 'hana-secret' })).toMatchObject({
      code: 'auth_failed',
    });
  });
});

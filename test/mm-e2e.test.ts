import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { parseUsersCsv } from '../src/dialects/mm/users-csv.js';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient } from './helpers/native-client.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

const EXAMPLE_USERS = path.resolve(import.meta.dirname, '../examples/users.csv');
let server: TestServer;
const open: Array<{ close(): void }> = [];

async function start(flags: Record<string, unknown> = {}): Promise<TestServer> {
  server = await startTestServer({ users: EXAMPLE_USERS, ...flags });
  return server;
}

async function mm(user?: string): Promise<LineTestClient> {
  const client = await LineTestClient.connect(server.ports.mm!);
  open.push(client);
  if (user !== undefined) {
    await client.write(`${user}\n`);
    await client.waitLine((l) => l === 'f', `login of ${user}`);
  }
  return client;
}

const isF = (l: string) => l === 'f';
const csvRows = () =>
  parse(fs.readFileSync(path.join(server.dataDir, 'messages.csv'), 'utf8'), { columns: true }) as Array<
    Record<string, string>
  >;

afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server?.close();
});

describe('mm dialect (seed 001)', () => {
  it('alice sends @bob oi; bob logs in later, reads it, and messages.csv gets one correct row', async () => {
    await start();
    const alice = await mm('alice');
    await alice.write('@bob oi\n');
    expect(await alice.waitCount(isF, 2, 'reply after send')).toEqual(['f', 'f']);

    const bob = await mm();
    await bob.write('bob\n');
    expect(await bob.waitCount(isF, 1, 'pending then f')).toEqual(['@alice oi', 'f']);
    const rows = csvRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ from: 'alice', to: 'bob', text: 'oi' });
    expect(new Date(rows[0]!.timestamp!).getTime()).toBeGreaterThan(0);

    const tricky = 'vírgula, "aspas" e ação';
    await alice.write(`@bob ${tricky}\n`);
    await alice.waitCount(isF, 3, 'reply after the second send');
    await bob.write('\n');
    expect(await bob.waitCount(isF, 2, 'fetch')).toEqual(['@alice oi', 'f', `@alice ${tricky}`, 'f']);
    expect(csvRows().map((row) => row.text)).toEqual(['oi', tricky]);
  });

  it('disconnects an unknown user with the notice, and discards a message to an unknown user', async () => {
    await start();
    const stranger = await mm();
    await stranger.write('mallory\n');
    await stranger.raw.waitClosed();
    expect(stranger.lines).toEqual(['@mensageiro unknown user mallory']);

    const alice = await mm('alice');
    await alice.write('@nobody hello?\n');
    expect(await alice.waitCount(isF, 2, 'reply')).toEqual(['f', '@mensageiro unknown user nobody', 'f']);
    await alice.write('just words\n');
    expect(await alice.waitCount(isF, 3, 'usage')).toContain('@mensageiro usage: @user message');
    expect(csvRows()).toEqual([]);
  });

  it('serves several clients at once without mixing their messages', async () => {
    await start();
    const names = ['alice', 'bob', 'carol', 'davi'];
    const clients = await Promise.all(names.map((name) => mm(name)));
    await Promise.all(
      clients.map(async (client, i) => {
        for (let n = 0; n < 10; n++) await client.write(`@${names[(i + 1) % 4]} ${names[i]}-${n}\n`);
      }),
    );
    await Promise.all(clients.map((client) => client.waitCount(isF, 11, 'replies')));
    for (const [i, client] of clients.entries()) {
      await client.write('\n');
      const lines = await client.waitCount(isF, 12, 'final fetch');
      const sender = names[(i + 3) % 4]!;
      expect(lines.filter((l) => l.startsWith('@'))).toEqual(
        Array.from({ length: 10 }, (_, n) => `@${sender} ${sender}-${n}`),
      );
    }
    expect(csvRows()).toHaveLength(40);
  });

  it('copes with CRLF, an over-long line and invalid UTF-8', async () => {
    await start();
    const alice = await mm();
    await alice.write('alice\r\n');
    await alice.waitCount(isF, 1, 'login with CRLF');
    await alice.write(`@bob ${'x'.repeat(70_000)}\n`);
    await alice.waitLine((l) => l.startsWith('@mensageiro lines are limited'), 'over-long notice');
    await alice.write(Buffer.concat([Buffer.from('@bob '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]));
    await alice.waitLine((l) => l.includes('not valid UTF-8'), 'invalid UTF-8 notice');
    await alice.write('@bob still alive\r\n');
    // The `f` after a send comes once the message is stored; only then is it bob's to fetch.
    await alice.waitCount(isF, 4, 'reply after the send');
    const bob = await mm();
    await bob.write('bob\n');
    expect(await bob.waitCount(isF, 1, 'bob')).toEqual(['@alice still alive', 'f']);
    expect(alice.raw.closed).toBe(false);
  });

  it('escapes LF and backslash, and crosses dialects both ways with native users', async () => {
    await start();
    const native = await NativeTestClient.connect(server.ports.native!);
    open.push(native);
    const welcome = await native.register({ acks: true });
    const nativeId = String(welcome.id);
    const alice = await mm('alice');
    await native.send({ type: 'msg', to: 'alice', text: 'linha 1\nlinha 2 \\ fim', cid: 'x' });
    await native.waitFor((f) => f.type === 'sent', 'ack');
    await alice.write('\n');
    expect(await alice.waitCount(isF, 2, 'fetch')).toEqual([
      'f',
      `@${nativeId} linha 1\\nlinha 2 \\\\ fim`,
      'f',
    ]);
    await alice.write(`@${nativeId} olá nativo\n`);
    const got = await native.waitFor((f) => f.type === 'msg', 'mm → native');
    const aliceAccount = await server.hub.store.findAccountByUsername('alice');
    expect(got).toMatchObject({ text: 'olá nativo', id: aliceAccount!.id, to: welcome.id });
    expect(csvRows().map((r) => r.text)).toEqual(['linha 1\nlinha 2 \\ fim']);
  });
});

describe('users.csv', () => {
  it('reads a header with login or username, or a bare list, and reports bad rows with file:line', () => {
    expect(parseUsersCsv('login,name\nana,Ana\nbeto,Beto\n').logins).toEqual(['ana', 'beto']);
    expect(parseUsersCsv('id,Username\n1,ana\n').logins).toEqual(['ana']);
    expect(parseUsersCsv('ana\nbeto\n').logins).toEqual(['ana', 'beto']);
    const bad = parseUsersCsv('login\nana\nnot valid!\n"open\nana\n,\n', 'u.csv');
    expect(bad.logins).toEqual(['ana']);
    expect(bad.problems.length).toBeGreaterThanOrEqual(2);
    for (const problem of bad.problems) expect(problem).toMatch(/^u\.csv:\d+: /);
    expect(bad.problems.some((p) => p.startsWith('u.csv:3:') && p.includes('not valid'))).toBe(true);
  });

  it('loads users at start-up, keeps them in the store, and survives malformed rows', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'users.csv');
    fs.writeFileSync(file, 'username\nzoe\nbad name\nyuri\n');
    await start({ users: file, data: dir });
    // The users are stored once the ports listen; a login waits for them.
    await mm('zoe');
    expect(await server.hub.store.findAccountByUsername('zoe')).not.toBeNull();
    expect(await server.hub.store.findAccountByUsername('yuri')).not.toBeNull();
    await server.close();
    // Kept: a restart without the file still knows them.
    server = await startTestServer({ data: dir });
    const zoe = await mm('zoe');
    expect(zoe.lines).toEqual(['f']);
  });
});

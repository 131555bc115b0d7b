import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import { CLI, spawnServer, type ServerProcess } from './helpers/server-process.js';
import { tempDir } from './helpers/server.js';

const servers: ServerProcess[] = [];
const clients: NativeTestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.kill();
});

async function connect(port: number): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(port);
  clients.push(client);
  return client;
}

const BATCH = 50;
const MAX_MESSAGES = 6000;

describe('backup and restore', () => {
  it('a backup taken under load holds every message acknowledged before it began, after a restore', async () => {
    const dataDir = tempDir();
    const server = await spawnServer(dataDir, ['--message-burst', '0']);
    servers.push(server);
    const port = server.ports.native!;
    const alice = await connect(port);
    await alice.register({ username: 'alice', secret: 'alice-secret', acks: true });
    const bob = await connect(port);
    await bob.register({ username: 'bob', secret: 'bob-secret', acks: true });
    bob.close();

    // Alice sends in batches; every `sent` frame is the server's durable ack of one cid.
    let sent = 0;
    const acked = () => alice.frames.filter(ofType('sent')).map((frame) => frame.cid as string);
    const sendBatch = async () => {
      for (let i = 0; i < BATCH; i++, sent++)
        await alice.send({ type: 'msg', to: 'bob', text: `m${sent}`, cid: `c${sent}` });
      await alice.waitForCount(ofType('sent'), sent, 'acks of the batch');
    };
    for (let i = 0; i < 4; i++) await sendBatch();

    const file = path.join(tempDir(), 'backup.db');
    const ackedBefore = acked();
    const backup = spawn(process.execPath, [CLI, 'backup', file, '--data', dataDir], { stdio: 'pipe' });
    let backupOut = '';
    backup.stdout.on('data', (chunk: Buffer) => (backupOut += chunk.toString()));
    const backupDone = new Promise<number | null>((resolve) => backup.once('exit', resolve));
    let finished = false;
    void backupDone.then(() => (finished = true));
    // The load goes on while the copy is made.
    while (!finished && sent < MAX_MESSAGES) await sendBatch();
    expect(await backupDone).toBe(0);
    expect(backupOut).toMatch(/^backup written to .*backup\.db: \d+ pages/);

    const refused = spawnSync(process.execPath, [CLI, 'restore', file, '--data', dataDir], {
      encoding: 'utf8',
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('stop it before a restore');

    await server.kill();
    const restore = spawnSync(process.execPath, [CLI, 'restore', file, '--data', dataDir], {
      encoding: 'utf8',
    });
    expect(restore.status).toBe(0);
    expect(restore.stdout).toContain('restored');

    const restarted = await spawnServer(dataDir);
    servers.push(restarted);
    const reader = await connect(restarted.ports.native!);
    await reader.send({ type: 'login', username: 'bob', secret: 'bob-secret', acks: true, resume: 0 });
    await reader.waitFor(ofType('welcome'), 'welcome');
    const texts = new Set(
      (
        await reader.waitForCount(ofType('msg'), ackedBefore.length, 'the messages acked before the backup')
      ).map((frame: Frame) => frame.text as string),
    );
    for (const cid of ackedBefore) expect(texts.has(`m${cid.slice(1)}`)).toBe(true);
    expect(ackedBefore.length).toBe(4 * BATCH);
  });
});

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { cliBed, exitsWith, signedIn } from './helpers/cli-bed.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';
import { tempDir } from './helpers/server.js';

// Clients given a list of servers move to the next when one fails, and resume from their last
// seq. Two nodes need a shared store (the cluster's tests cover that); here the list holds a
// port nobody listens on, a port that speaks another protocol, and one real server.

const bed = cliBed();
const clients: Client[] = [];
const spawned: ServerProcess[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of spawned.splice(0)) await s.kill('SIGKILL');
});

/** A loopback port that refuses connections: bound once, then closed. */
async function deadPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function client(servers: string, extra: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const c = new Client({
    servers,
    register: {},
    minReconnectDelayMs: 20,
    maxReconnectDelayMs: 300,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 600; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SDK server list', () => {
  it('skips a refusing server and one that speaks another protocol, and signs in on the next', async () => {
    const s = await bed.server();
    const dead = await deadPort();
    const c = client(`127.0.0.1:${s.ports.zap},127.0.0.1:${dead},127.0.0.1:${s.ports.native}`);
    const reasons: string[] = [];
    c.on('retrying', (r) => reasons.push(`${r.server.port}: ${r.reason}`));
    await c.connect();
    expect(c.server.port).toBe(s.ports.native);
    expect(reasons).toEqual([
      `${s.ports.zap}: it closed the connection without a native answer`,
      expect.stringMatching(new RegExp(`^${dead}: connect ECONNREFUSED`)),
    ]);
  });

  it('after its server is killed, resumes from its last seq with no gap and no duplicate', async () => {
    const dataDir = tempDir();
    let server = await spawnServer(dataDir);
    spawned.push(server);
    const port = server.ports.native!;
    const list = `127.0.0.1:${await deadPort()},127.0.0.1:${port}`;
    const receiver = client(list);
    const sender = client(list);
    await Promise.all([receiver.connect(), sender.connect()]);
    const got: string[] = [];
    receiver.on('message', (m) => got.push(m.text));
    const texts = Array.from({ length: 120 }, (_, i) => `m${i + 1}`);
    const acks = texts.slice(0, 60).map((text) => sender.send(receiver.id!, text));
    await until(() => got.length >= 20, 'the first deliveries');
    await server.kill('SIGKILL');
    // Written while no server is up: they wait in the outbox and go once one answers.
    acks.push(...texts.slice(60).map((text) => sender.send(receiver.id!, text)));
    server = await spawnServer(dataDir, ['--native-port', String(port)]);
    spawned.push(server);
    await Promise.all(acks);
    await until(() => got.length >= texts.length, 'every message');
    // The lookup's answer comes after anything the server still had queued for the receiver.
    await receiver.lookup(receiver.id!);
    expect(got).toEqual(texts);
    expect(receiver.server.port).toBe(port);
  });
});

describe('CLI server list', () => {
  it('chat and send take --server a,b and use the one that answers', async () => {
    const s = await bed.server();
    const dead = await deadPort();
    const list = `127.0.0.1:${dead},127.0.0.1:${s.ports.native}`;
    const home = tempDir();
    const chat = bed.run(['chat', 'ana', '--username', 'ana', '--server', list, '--home', home]);
    expect(await signedIn(chat, 'signed in on the second')).toContain(`on ${list} via native`);
    expect(chat.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^\\* 127.0.0.1:${dead}: connect ECONNREFUSED.*; trying 127.0.0.1:${s.ports.native}$`),
      ),
    );
    chat.endInput();
    await exitsWith(chat, 0);
    const send = bed.run(['send', 'ana', 'to myself', '--profile', 'ana', '--server', list, '--home', home]);
    await exitsWith(send, 0);
  });
});

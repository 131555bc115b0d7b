import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, type IncomingMessage, type IncomingReceipt } from '../src/client/client.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { LineTestClient } from './helpers/line-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { service } from './helpers/services.js';

const available = service('postgres') && service('nats-server');
let cluster: TestCluster;
const open: Array<{ close(): void }> = [];

/** A p2p peer's keepalive: a node silent for it is dropped, with its directory entries. */
const KEEPALIVE_MS = 1_500;

beforeAll(async () => {
  if (!available) return;
  cluster = await startCluster(import.meta.filename, 3, {
    args: ['--p2p-keepalive', String(KEEPALIVE_MS), '--message-burst', '0'],
  });
}, 60_000);
afterAll(async () => {
  for (const client of open.splice(0)) client.close();
  await cluster?.close();
});

interface Seen {
  client: Client;
  messages: IncomingMessage[];
  receipts: IncomingReceipt[];
  presence: Array<{ id: number; online: boolean }>;
}

async function user(node: number, username: string): Promise<Seen> {
  const client = new Client({
    host: '127.0.0.1',
    port: cluster.nodes[node]!.ports.native!,
    register: { username },
  });
  const seen: Seen = { client, messages: [], receipts: [], presence: [] };
  client.on('message', (m) => seen.messages.push(m));
  client.on('receipt', (r) => seen.receipts.push(r));
  client.on('presence', (p) => seen.presence.push(p));
  await client.connect();
  open.push(client);
  return seen;
}

const wait = { timeout: 15_000 };

describe.skipIf(!available)('three nodes on PostgreSQL and NATS', () => {
  it('delivers 1:1 and group messages between nodes, with delivery, read and group receipts', async () => {
    const [ana, bia, caio] = [await user(0, 'ana'), await user(1, 'bia'), await user(2, 'caio')];
    const sent = await ana.client.send('bia', 'oi bia, de outro nó');
    expect(sent.duplicate).toBe(false);
    await vi.waitFor(() => expect(bia.messages.map((m) => m.text)).toEqual(['oi bia, de outro nó']), wait);
    await vi.waitFor(
      () =>
        expect(ana.receipts).toContainEqual(expect.objectContaining({ status: 'delivered', mid: sent.mid })),
      wait,
    );
    bia.client.markRead(ana.client.id!, sent.mid);
    await vi.waitFor(
      () => expect(ana.receipts).toContainEqual(expect.objectContaining({ status: 'read', mid: sent.mid })),
      wait,
    );

    const gid = await ana.client.createGroup('turma', ['bia', 'caio']);
    const inGroup = await ana.client.send(gid, 'olá turma');
    for (const member of [bia, caio]) {
      await vi.waitFor(() => expect(member.messages.map((m) => m.text)).toContain('olá turma'), wait);
    }
    await vi.waitFor(
      () =>
        expect(ana.receipts).toContainEqual(
          expect.objectContaining({ status: 'delivered', by: gid, conv: gid, mid: inGroup.mid }),
        ),
      wait,
    );
    // Each got the group message once.
    expect(caio.messages.filter((m) => m.text === 'olá turma')).toHaveLength(1);
  }, 60_000);

  it('shows who is online on any node, and when they leave', async () => {
    const [davi, eva] = [await user(0, 'davi'), await user(2, 'eva')];
    eva.client.who([davi.client.id!]);
    await vi.waitFor(() => expect(eva.presence.at(-1)).toEqual({ id: davi.client.id, online: true }), wait);
    davi.client.close();
    await vi.waitFor(() => expect(eva.presence.at(-1)).toEqual({ id: davi.client.id, online: false }), wait);
  }, 30_000);

  it('shares the lobby: a seed-004 TCP client on one node sees a post made on another', async () => {
    const tcp = await RawSocket.connect(cluster.nodes[0]!.ports.lobby!);
    open.push(tcp);
    const fabio = await user(1, 'fabio');
    fabio.client.joinLobby();
    await vi.waitFor(() => {
      fabio.client.postLobby('alô do nó 1');
      expect(tcp.text).toContain('alô do nó 1');
    }, wait);
  }, 30_000);

  it('shares the p2p directory, and drops the entries of a node that dies', async () => {
    const onA = await LineTestClient.connect(cluster.nodes[0]!.ports.p2p!);
    const onB = await LineTestClient.connect(cluster.nodes[1]!.ports.p2p!);
    open.push(onA, onB);
    await onA.write('USER ana:5001\r\n');
    await onB.write('USER bia:5002\r\n');
    const list = async (client: LineTestClient) => {
      const before = client.lines.filter((l) => l.startsWith('LIST')).length;
      await client.write('LIST\r\n');
      return (await client.waitCount((l) => l.startsWith('LIST'), before + 1, 'LIST')).at(-1)!;
    };
    await vi.waitFor(async () => expect(await list(onA)).toBe('LIST bia'), wait);
    await vi.waitFor(async () => expect(await list(onB)).toBe('LIST ana'), wait);
    await onA.write('ADDR bia\r\n');
    expect(await onA.waitLine((l) => l.startsWith('ADDR'), 'ADDR')).toBe('ADDR bia:127.0.0.1:5002');

    await cluster.nodes[1]!.kill('SIGKILL');
    // Gone within the keepalive, not at once: a LIST right after the kill may still name bia.
    await vi.waitFor(async () => expect(await list(onA)).toBe('LIST '), { timeout: 4 * KEEPALIVE_MS });
  }, 30_000);
});

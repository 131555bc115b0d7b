import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MmClient } from '../src/client/mm-client.js';
import { CliProcess } from './helpers/cli-process.js';
import { LineTestClient } from './helpers/line-client.js';
import type { RawSocket } from './helpers/raw-socket.js';
import { SeedServer, bytesOf, sendEach } from './helpers/seed-server.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer | null = null;
const processes: CliProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  await server?.close();
  server = null;
});

function chat(args: string[]): CliProcess {
  const cli = new CliProcess(['chat', '--dialect', 'mm', ...args]);
  processes.push(cli);
  return cli;
}

describe('mensageiro chat --dialect mm', () => {
  it('follows the seed client loop against our server, both ways with a raw mm client', async () => {
    server = await startTestServer({ users: path.resolve(import.meta.dirname, '../examples/users.csv') });
    const port = String(server.ports.mm);
    const alice = chat(['--host', '127.0.0.1', '--port', port, 'alice']);
    await alice.waitLine((l) => l.startsWith('connected'), 'connected');
    const bob = await LineTestClient.connect(server.ports.mm!);
    await bob.write('bob\n');
    await bob.waitLine((l) => l === 'f', 'bob logged in');
    alice.type('@bob oi, bob\\ com barra');
    // Like a person pressing Enter: fetch until the message is there (bounded).
    for (let tries = 1; tries <= 50 && !bob.lines.some((l) => l.startsWith('@alice')); tries++) {
      await bob.write('\n');
      await bob.waitCount((l) => l === 'f', tries + 1, 'fetch reply');
    }
    // One backslash typed, escaped once on the wire.
    expect(bob.lines).toContain('@alice oi, bob\\\\ com barra');
    const replies = bob.lines.filter((l) => l === 'f').length;
    await bob.write('@alice linha 1\\nlinha 2\n');
    // The reply's own `f` comes after the message is stored.
    await bob.waitCount((l) => l === 'f', replies + 1, 'reply to the send');
    alice.type('');
    // The escaped line break arrives as a real one.
    expect(await alice.waitLine((l) => l.startsWith('bob:'), 'fetched message')).toBe('bob: linha 1');
    expect(alice.lines).toContain('linha 2');
    alice.type('@nobody hi');
    expect(await alice.waitLine((l) => l.includes('unknown user nobody'), 'notice')).toBe(
      '* unknown user nobody',
    );
    bob.close();
  });

  it('asks for the username when none is given, and works against a minimal seed-style server', async () => {
    // A server written to the seed and nothing more: it answers each line with its queue and `f`.
    const queue = ['@carol hello from a classmate'];
    const seen: string[] = [];
    const tiny = net.createServer((socket) => {
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString();
        let at: number;
        while ((at = buffer.indexOf('\n')) >= 0) {
          seen.push(buffer.slice(0, at));
          buffer = buffer.slice(at + 1);
          socket.write(
            queue
              .splice(0)
              .map((l) => `${l}\n`)
              .join('') + 'f\n',
          );
        }
      });
    });
    await new Promise<void>((resolve) => tiny.listen(0, '127.0.0.1', resolve));
    const port = String((tiny.address() as net.AddressInfo).port);
    const cli = chat(['--server', `127.0.0.1:${port}`]);
    cli.type('dave');
    expect(await cli.waitLine((l) => l.startsWith('carol:'), 'pending message')).toBe(
      'carol: hello from a classmate',
    );
    cli.type('@carol oi');
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (seen.includes('@carol oi')) {
          clearInterval(check);
          resolve();
        }
      }, 20);
      setTimeout(() => reject(new Error(`server saw ${JSON.stringify(seen)}`)), 10_000).unref();
    });
    expect(seen[0]).toBe('dave');
    cli.endInput();
    await cli.exited;
    tiny.close();
  });

  it('reads replies from seed servers with CRLF, one write, single bytes, or no line endings', async () => {
    const pending = ['@carol oi', '@dave tudo bem?'];
    // How each classmate's server writes one reply, and how long the client waits on a line
    // with no ending: long where the line does end, so that a stall of this busy test machine
    // between two single bytes is not taken for the end of a line.
    const styles: Record<
      string,
      { idleMs?: number; reply: (peer: RawSocket, lines: string[]) => Promise<void> }
    > = {
      'CRLF lines in one write': {
        reply: (peer, lines) => peer.write(lines.map((l) => `${l}\r\n`).join('')),
      },
      'one byte per write': {
        idleMs: 1000,
        reply: (peer, lines) => sendEach(peer, bytesOf(lines.map((l) => `${l}\n`).join(''))),
      },
      // One send() per message and no line ending; it sleeps between sends so that its own
      // client's recv() gets one message each.
      'no line endings': {
        reply: async (peer, lines) => {
          for (const line of lines) {
            await peer.write(line);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        },
      },
    };
    for (const [style, { idleMs, reply }] of Object.entries(styles)) {
      const seed = await SeedServer.start((peer) =>
        peer.socket.once('data', () => void reply(peer, [...pending, 'f'])),
      );
      const client = new MmClient(idleMs);
      const seen: string[] = [];
      client.on('message', (from, text) => seen.push(`${from}: ${text}`));
      client.on('notice', (text) => seen.push(`notice ${text}`));
      const ended = new Promise<void>((resolve) => client.once('end', resolve));
      await client.connect('127.0.0.1', seed.port, 'bob');
      await ended;
      expect({ style, seen }).toEqual({ style, seen: ['carol: oi', 'dave: tudo bem?'] });
      expect(seed.peers[0]!.text).toBe('bob\n');
      client.close();
      await seed.close();
    }
  });
});

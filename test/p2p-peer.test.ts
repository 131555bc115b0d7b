import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { P2pPeer } from '../src/client/p2p-peer.js';
import { CliProcess } from './helpers/cli-process.js';
import { LineTestClient } from './helpers/line-client.js';
import { SeedServer, bytesOf, eventually, sendEach } from './helpers/seed-server.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer | null = null;
const processes: CliProcess[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const cleanup of cleanups.splice(0)) cleanup();
  await server?.close();
  server = null;
});

function peerProcess(name: string): CliProcess {
  const cli = new CliProcess(['p2p', name, '--server', `127.0.0.1:${server!.ports.p2p}`]);
  processes.push(cli);
  return cli;
}

describe('mensageiro p2p', () => {
  it('two peers chat through our directory, driven over stdin/stdout', async () => {
    server = await startTestServer();
    const ana = peerProcess('ana');
    const bia = peerProcess('bia');
    await ana.waitLine((l) => l.includes('registered as ana'), 'ana registered');
    await bia.waitLine((l) => l.includes('registered as bia'), 'bia registered');
    ana.type('hello?');
    await ana.waitLine((l) => l.includes('no active P2P connection'), 'no-peer error');
    ana.type('/chat nobody');
    await ana.waitLine((l) => l.includes('user not found: nobody'), 'not found');
    ana.type('/list');
    expect(await ana.waitLine((l) => l.startsWith('active:'), 'list')).toBe('active: bia');
    ana.type('/chat bia');
    await ana.waitLine((l) => l.includes('chatting with bia'), 'chat opened');
    ana.type('oi bia, tudo bem?');
    expect(await bia.waitLine((l) => l.includes('diz:'), 'message at bia')).toBe(
      'ana diz: oi bia, tudo bem?',
    );
    bia.type('tudo ótimo');
    expect(await ana.waitLine((l) => l.includes('diz:'), 'reply at ana')).toBe('bia diz: tudo ótimo');
    ana.type('/bye');
    await bia.waitLine((l) => l === '* ana saiu', 'bye seen by bia');
    ana.type('/exit');
    expect(await ana.exited).toBe(0);
  });

  it('talks to a raw-socket peer that follows the table, both ways, and to two peers at once', async () => {
    server = await startTestServer();
    // A classmate's peer: it listens, registers with USER, and speaks plain CRLF lines.
    const incoming: string[] = [];
    let rawSide: net.Socket | null = null;
    const classmate = net.createServer((socket) => {
      rawSide = socket;
      socket.on('data', (chunk) => incoming.push(...chunk.toString().split('\r\n').filter(Boolean)));
    });
    await new Promise<void>((resolve) => classmate.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => classmate.close());
    const directory = await LineTestClient.connect(server.ports.p2p!);
    cleanups.push(() => directory.close());
    await directory.write(`USER colega:${(classmate.address() as net.AddressInfo).port}\r\nLIST\r\n`);
    await directory.waitLine((l) => l.startsWith('LIST'), 'colega registered');

    const ana = peerProcess('ana');
    await ana.waitLine((l) => l.includes('registered as ana'), 'ana registered');
    ana.type('/chat colega');
    await ana.waitLine((l) => l.includes('chatting with colega'), 'chat with the raw peer');
    ana.type('oi colega');
    const wait = async (what: string, check: () => boolean) => {
      for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!check()) throw new Error(`raw peer never saw ${what}: ${JSON.stringify(incoming)}`);
    };
    await wait('USER and the message', () => incoming.includes('oi colega'));
    expect(incoming.slice(0, 2)).toEqual(['USER ana', 'oi colega']);
    rawSide!.write('oi ana, aqui é o colega\r\n');
    expect(await ana.waitLine((l) => l.startsWith('colega diz:'), 'raw reply')).toBe(
      'colega diz: oi ana, aqui é o colega',
    );

    // A second, incoming peer: the user picks who each line goes to.
    const bia = peerProcess('bia');
    await bia.waitLine((l) => l.includes('registered as bia'), 'bia registered');
    bia.type('/chat ana');
    await ana.waitLine((l) => l === '* bia conectou', 'bia connected to ana');
    ana.type('@bia só para a bia');
    expect(await bia.waitLine((l) => l.includes('diz:'), 'direct line')).toBe('ana diz: só para a bia');
    ana.type('de volta ao colega');
    await wait('the current-peer line', () => incoming.includes('de volta ao colega'));
    expect(incoming).not.toContain('só para a bia');
    rawSide!.write('DISC\r\n');
    await ana.waitLine((l) => l === '* colega saiu', 'raw peer left');
  });

  it('works with a seed directory and a peer that take one recv() as one line and end nothing', async () => {
    // A classmate's peer: it sends each chat line with one send(), or byte by byte.
    const colega = await SeedServer.start(() => undefined);
    cleanups.push(() => void colega.close());
    // A classmate's directory: one recv() is one instruction, and its replies end in nothing.
    const users = new Map<string, number>([['colega', colega.port]]);
    const directory = await SeedServer.start((peer) => {
      peer.socket.on('data', (chunk: Buffer) => {
        const [verb, argument = ''] = chunk.toString().trim().split(' ');
        if (verb === 'USER') users.set(argument.split(':')[0]!, Number(argument.split(':')[1]));
        if (verb === 'LIST')
          void peer.write(`LIST ${[...users.keys()].filter((n) => n !== 'ana').join(':')}`);
        if (verb === 'ADDR' && users.has(argument))
          void peer.write(`ADDR ${argument}:127.0.0.1:${users.get(argument)}`);
      });
    });
    cleanups.push(() => void directory.close());

    // A long idle interval, so that a stall of this busy test machine between two single bytes
    // is not taken for the end of a line; the lines with no ending are taken once it passes.
    const ana = new P2pPeer('ana', 60_000, 300);
    const seen: string[] = [];
    ana.on('message', (from, text) => seen.push(`${from}: ${text}`));
    ana.on('left', (name) => seen.push(`${name} left`));
    await ana.start('127.0.0.1', directory.port);
    expect(await ana.list()).toEqual(['colega']);
    expect(await ana.chat('colega')).toBe(true);
    const toAna = await eventually(
      () => colega.peers[0],
      'ana to connect to the peer',
      () => seen,
    );
    await toAna.write('oi ana');
    await eventually(
      () => seen.length === 1,
      'a line with no ending',
      () => seen,
    );
    await sendEach(toAna, bytesOf('tudo bem? ç\r\n'));
    await toAna.write('DISC');
    await eventually(
      () => seen.length === 3,
      'DISC with no ending',
      () => seen,
    );
    expect(seen).toEqual(['colega: oi ana', 'colega: tudo bem? ç', 'colega left']);
    expect(toAna.text).toBe('USER ana\r\n');
    await ana.stop();
    await eventually(
      () => directory.peers[0]!.closed,
      'DISC and the close',
      () => directory.peers[0]!.text,
    );
    // Every instruction reached the directory in a recv() of its own.
    expect(directory.peers[0]!.chunks.map((c) => c.toString())).toEqual([
      `USER ana:${ana.port}\r\n`,
      'LIST\r\n',
      'ADDR colega\r\n',
      'LIST\r\n',
      'DISC\r\n',
    ]);
  });
});

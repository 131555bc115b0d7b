import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { LobbyClient } from '../src/client/lobby-client.js';
import { MmClient } from '../src/client/mm-client.js';
import { P2pPeer } from '../src/client/p2p-peer.js';
import { ZapLink } from '../src/client/zap-link.js';
import { CLIENT_CASES, serveAndGrade } from '../src/conform/serve/index.js';
import type { CaseResult, DialectName } from '../src/conform/types.js';
import { idsWith } from './helpers/conform-grade.js';

/** Starts the grader for `dialect`, lets `client` use it, and returns the grades. */
async function serveFor(
  dialect: DialectName,
  client: (port: number) => Promise<void>,
): Promise<CaseResult[]> {
  let ready!: (port: number) => void;
  const listening = new Promise<number>((resolve) => (ready = resolve));
  const results: CaseResult[] = [];
  const grading = (async () => {
    const events = serveAndGrade({
      dialect,
      host: '127.0.0.1',
      port: 0,
      timeoutMs: 15_000,
      lingerMs: 300,
      users: ['alice', 'bob'],
      selection: { only: [], quick: false, extended: true },
      onReady: (port) => ready(port),
    });
    for await (const event of events) if (event.type === 'result') results.push(event.result);
  })();
  await client(await listening);
  await grading;
  return results;
}

function once<T>(register: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve));
}

const failures = (results: CaseResult[]) =>
  results.filter((r) => r.outcome === 'failed').map((r) => `${r.id}: ${r.message} ${r.actual}`);

describe('--serve passes our own clients', () => {
  it('zap: ZapLink registers, reads the professor’s 06, answers 08 and sends 05', async () => {
    const results = await serveFor('zap', async (port) => {
      const link = new ZapLink('127.0.0.1', port, null);
      const message = once<{ from: number | string; ts: number }>((resolve) => link.on('message', resolve));
      await link.start();
      const got = await message;
      link.markRead(Number(got.from), { mid: null, ts: got.ts });
      await link.send(Number(got.from), 'obrigado, professor');
      await new Promise((resolve) => setTimeout(resolve, 200));
      link.close();
    });
    expect(failures(results)).toEqual([]);
    // ZapLink registers afresh, so it never needs 03.
    expect(idsWith(results, 'skipped')).toEqual(['zap-client.02.register-before-connect']);
  });

  it('mm: MmClient signs in, downloads, sends @user text', async () => {
    const results = await serveFor('mm', async (port) => {
      const client = new MmClient();
      const lines: string[] = [];
      client.on('message', (from, text) => lines.push(`${from}: ${text}`));
      const login = once<void>((resolve) => client.once('end', () => resolve()));
      await client.connect('127.0.0.1', port, 'alice');
      await login;
      const sent = once<void>((resolve) => client.once('end', () => resolve()));
      client.send('bob', 'oi bob');
      await sent;
      expect(lines[0]).toMatch(/^professor: Olá, alice!/);
      client.close();
    });
    expect(failures(results)).toEqual([]);
    expect(idsWith(results, 'passed')).toHaveLength(CLIENT_CASES.mm.length);
  });

  it('lobby: LobbyClient says something and leaves with :D', async () => {
    const results = await serveFor('lobby', async (port) => {
      const client = new LobbyClient();
      await client.connect('127.0.0.1', port);
      const echoed = once<string>((resolve) => client.on('line', resolve));
      client.say('olá, turma ☕');
      expect(await echoed).toContain('olá, turma ☕');
      client.leave();
    });
    expect(failures(results)).toEqual([]);
    expect(idsWith(results, 'passed')).toHaveLength(CLIENT_CASES.lobby.length);
  });

  it('p2p: P2pPeer registers a port that listens, lists and leaves with DISC', async () => {
    const results = await serveFor('p2p', async (port) => {
      const peer = new P2pPeer('ana', 60_000);
      await peer.start('127.0.0.1', port);
      expect(await peer.list()).toEqual([]);
      await peer.stop();
    });
    expect(failures(results)).toEqual([]);
    expect(idsWith(results, 'skipped')).toEqual(['p2p-client.05.keep-alive']);
  });

  it('native: the SDK client registers, sends and says out', async () => {
    const results = await serveFor('native', async (port) => {
      const client = new Client({ host: '127.0.0.1', port, reconnect: false });
      await client.connect();
      await client.send(client.id!, 'oi, eu mesmo');
      client.close();
    });
    expect(failures(results)).toEqual([]);
    expect(idsWith(results, 'passed')).toHaveLength(CLIENT_CASES.native.length);
  });
});

describe('--serve fails a client that breaks the seed', () => {
  const raw = (port: number, bytes: Array<string | Buffer>) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, async () => {
        for (const chunk of bytes) {
          socket.write(chunk);
          await new Promise((r) => setTimeout(r, 80));
        }
        socket.end();
      });
      socket.on('close', () => resolve());
      socket.on('data', () => undefined);
    });

  it('zap: 03 with a 12-digit id that the server never gave, before any 01', async () => {
    const results = await serveFor('zap', (port) => raw(port, ['03123456789012']));
    expect(idsWith(results, 'failed').sort()).toEqual([
      'zap-client.02.register-before-connect',
      'zap-client.03.field-widths',
    ]);
    const widths = results.find((r) => r.id === 'zap-client.03.field-widths')!;
    expect(widths.actual).toBe('C1: "03123456789012"');
    expect(widths.transcript).toContain('C1 -> "03123456789012"');
  });

  // The header cuts the payload inside a character, so the UTF-8 check fails too.
  it('lobby: a header that counts characters, not bytes, and no :D', async () => {
    const text = 'ação';
    const results = await serveFor('lobby', (port) =>
      raw(port, [Buffer.from(String(text.length).padEnd(64) + text)]),
    );
    expect(idsWith(results, 'failed').sort()).toEqual([
      'lobby-client.01.header-64',
      'lobby-client.02.utf8',
      'lobby-client.03.disconnect-message',
    ]);
  });

  it('mm: a message without the @', async () => {
    const results = await serveFor('mm', (port) => raw(port, ['alice\n', 'bob oi\n']));
    expect(idsWith(results, 'failed')).toEqual(['mm-client.02.send-format']);
  });

  it('p2p: an announced port where nothing listens, and LF line ends', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const results = await serveFor('p2p', (port) => raw(port, [`USER ana:${closed}\n`, 'LIST\n', 'DISC\n']));
    expect(idsWith(results, 'failed').sort()).toEqual(['p2p-client.02.port-listens', 'p2p-client.04.crlf']);
  });

  it('native: a length that counts characters', async () => {
    const json = JSON.stringify({ id: 5, to: 0, type: 'new', text: 'ação' });
    const results = await serveFor('native', (port) => raw(port, [`${[...json].length},${json}`]));
    expect(idsWith(results, 'failed')).toContain('native-client.01.framing');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { frame, parseFrames } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, tempDir } from './helpers/server.js';
import { spawnServer } from './helpers/server-process.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A native client from a chosen loopback address that pings once connected. */
async function pinger(port: number, localAddress = '127.0.0.1'): Promise<RawSocket> {
  const client = await RawSocket.connect(port, '127.0.0.1', localAddress);
  cleanups.push(() => client.close());
  await client.write(frame({ type: 'ping' }));
  return client;
}

const answer = (client: RawSocket) =>
  parseFrames(client.received).find((f) => f.type === 'pong' || f.type === 'error');

describe('connection slots: one address cannot take the server', () => {
  it('by default refuses an address its 501st connection, while another address still gets in', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const port = server.ports.native!;
    const kept: RawSocket[] = [];
    for (let batch = 0; batch < 5; batch++) {
      kept.push(...(await Promise.all(Array.from({ length: 100 }, () => pinger(port)))));
    }
    await Promise.all(kept.map((client) => client.until(() => answer(client), 'pong')));
    expect(kept.every((client) => answer(client)!.type === 'pong')).toBe(true);
    const over = await pinger(port);
    await over.waitClosed();
    expect(parseFrames(over.received)).toEqual([
      { type: 'error', code: 'too_many_connections', text: 'too many connections from your address' },
    ]);
    const other = await pinger(port, '127.0.0.2');
    expect(await other.until(() => answer(other), 'pong')).toEqual({ type: 'pong' });
  }, 30_000);

  it('gives the longest-idle lobby listener`s slot to a newcomer when the server is full', async () => {
    const server = await startTestServer({ maxConnections: 4 });
    cleanups.push(() => server.close());
    const lobby: RawSocket[] = [];
    for (let n = 0; n < 4; n++) {
      const client = await RawSocket.connect(server.ports.lobby!);
      cleanups.push(() => client.close());
      lobby.push(client);
    }
    // The first one speaks, so the second is the longest idle.
    await lobby[0]!.write(Buffer.concat([Buffer.from('2'.padEnd(64, ' ')), Buffer.from('oi')]));
    await Promise.all(lobby.map((client) => client.until(() => client.text.includes('oi'), 'the post')));
    const newcomer = await pinger(server.ports.native!);
    expect(await newcomer.until(() => answer(newcomer), 'pong')).toEqual({ type: 'pong' });
    await lobby[1]!.waitClosed();
    expect(lobby.map((client) => client.closed)).toEqual([false, true, false, false]);
  });
});

describe('connection slots under a low open-file limit', () => {
  it('caps connections below the limit and refuses the rest in words, logged once a window', async () => {
    const server = await spawnServer(
      tempDir(),
      ['--max-connections-per-ip', '1000'],
      ['native'],
      ['prlimit', '--nofile=300:300'],
    );
    cleanups.push(() => server.kill());
    const port = server.ports.native!;
    const clients: RawSocket[] = [];
    const answers: Array<NonNullable<ReturnType<typeof answer>> | 'silence'> = [];
    // Batch by batch, each answered before the next: a refused socket holds a descriptor until it
    // is closed, and the headroom under the limit is sized for a burst, not for every refusal of
    // a flood at once.
    for (let batch = 0; batch < 6; batch++) {
      const sockets = await Promise.all(Array.from({ length: 50 }, () => pinger(port)));
      clients.push(...sockets);
      // Every client hears something: a pong, or the reason it was refused; none is cut off mute.
      answers.push(
        ...(await Promise.all(
          sockets.map((client) =>
            client.until(() => answer(client) ?? (client.closed && 'silence'), 'answer'),
          ),
        )),
      );
    }
    const pongs = answers.filter((a) => typeof a === 'object' && a.type === 'pong').length;
    const refusals = answers.filter(
      (a) => typeof a === 'object' && a.type === 'error' && a.code === 'too_many_connections',
    ).length;
    expect({ pongs, refusals, total: answers.length }).toEqual({ pongs: 172, refusals: 128, total: 300 });
    const lowered = server.logs.find((l) => String(l.msg).startsWith('connection limit lowered'));
    expect(lowered).toMatchObject({ openFiles: 300, maxConnections: 172, configured: 20000 });
    const logged = await clients[0]!.until(() => {
      const found = server.logs.filter((l) => l.msg === 'connection refused');
      return found.length > 0 ? found : undefined;
    }, 'the refusal logged');
    expect(logged.length).toBe(1);
  }, 60_000);
});

import { afterEach, describe, expect, it } from 'vitest';
import { DISCONNECT, LobbyDecoder, ctime, encodeLobbyInput } from '../src/dialects/lobby/codec.js';
import { CliProcess } from './helpers/cli-process.js';
import type { RawSocket } from './helpers/raw-socket.js';
import { SeedServer } from './helpers/seed-server.js';

const servers: SeedServer[] = [];
const processes: CliProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const s of servers.splice(0)) await s.close();
});

/**
 * The course's own seed-004 server: it reads the 64-byte header and the payload, and sends
 * `[<ctime>][('<ip>', <port>)]: <msg>` to everyone with one bare send() each, with no LF.
 */
async function courseServer(): Promise<{ seed: SeedServer; heard: string[] }> {
  const heard: string[] = [];
  const seed = await SeedServer.start((peer: RawSocket) => {
    const decoder = new LobbyDecoder(4096);
    const author = `('127.0.0.1', ${peer.socket.remotePort})`;
    peer.socket.on('data', (chunk: Buffer) => {
      for (const result of decoder.push(chunk)) {
        if (!result.ok) continue;
        heard.push(result.text);
        if (result.text === DISCONNECT) peer.socket.end();
        else
          for (const each of seed.peers) void each.write(`[${ctime(new Date())}][${author}]: ${result.text}`);
      }
    });
  });
  servers.push(seed);
  return { seed, heard };
}

describe('mensageiro chat --dialect lobby against the course server', () => {
  it('shows broadcasts that end in no LF, its own and others, even two in one read', async () => {
    const { seed, heard } = await courseServer();
    const cli = new CliProcess(['chat', '--dialect', 'lobby', '--server', `127.0.0.1:${seed.port}`]);
    processes.push(cli);
    await cli.waitLine((l) => l.startsWith('in the lobby'), 'joined');
    cli.type('olá, turma');
    expect(await cli.waitLine((l) => l.endsWith(': olá, turma'), 'own broadcast, no LF')).toMatch(
      /^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\]\[\('127\.0\.0\.1', \d+\)\]: olá, turma$/,
    );
    // What others said, as the server broadcasts it to this client.
    const toCli = seed.peers[0]!;
    const line = (text: string) => `[Wed Nov  1 16:56:54 2023][('127.0.0.1', 5555)]: ${text}`;
    await toCli.write(line('oi de um colega'));
    await cli.waitLine((l) => l === line('oi de um colega'), "a classmate's broadcast");
    // Two broadcasts sent back to back reach the client in one read: still two lines.
    await toCli.write(line('primeira') + line('segunda'));
    await cli.waitLine((l) => l === line('segunda'), 'the second of two');
    expect(cli.lines).toContain(line('primeira'));
    cli.type('/quit');
    expect(await cli.exited).toBe(0);
    expect(heard).toEqual(['olá, turma', DISCONNECT]);
    expect(Buffer.concat(seed.peers[0]!.chunks)).toEqual(
      Buffer.concat([encodeLobbyInput('olá, turma'), encodeLobbyInput(DISCONNECT)]),
    );
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { CliProcess } from './helpers/cli-process.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const processes: CliProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  await server.close();
});

describe('mensageiro chat --dialect lobby', () => {
  it('sends headed messages and prints the broadcast lines, and leaves with :D', async () => {
    server = await startTestServer();
    const port = server.ports.lobby!;
    const raw = await RawSocket.connect(port);
    const cli = new CliProcess(['chat', '--dialect', 'lobby', '--host', '127.0.0.1', '--port', String(port)]);
    processes.push(cli);
    await cli.waitLine((l) => l.startsWith('in the lobby'), 'joined');
    cli.type('olá, pessoal ç');
    await raw.until(() => raw.text.includes(']: olá, pessoal ç\n'), 'broadcast of the CLI message');
    const payload = Buffer.from('de volta', 'utf8');
    await raw.write(Buffer.concat([Buffer.from(String(payload.length).padEnd(64, ' ')), payload]));
    expect(await cli.waitLine((l) => l.endsWith(']: de volta'), 'raw message at the CLI')).toMatch(
      /^\[\w{3} \w{3} [ \d]\d /,
    );
    cli.type('/quit');
    expect(await cli.exited).toBe(0);
    raw.close();
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server.close();
});

async function peer(registration?: string): Promise<LineTestClient> {
  const client = await LineTestClient.connect(server.ports.p2p!);
  open.push(client);
  if (registration) {
    await client.write(`${registration}\r\n`);
    // Its own LIST reply proves the USER line was handled (or the connection was refused).
    await client.write('LIST\r\n');
    await client.raw.until(
      () => client.lines.some((l) => l.startsWith('LIST')) || client.raw.closed,
      'registration',
    );
  }
  return client;
}

/** Sends LIST and returns the next LIST reply, which also proves earlier lines were handled. */
async function list(client: LineTestClient): Promise<string> {
  const before = client.lines.filter((l) => l.startsWith('LIST')).length;
  await client.write('LIST\r\n');
  const lines = await client.waitCount((l) => l.startsWith('LIST'), before + 1, 'LIST reply');
  return lines[lines.length - 1]!;
}

describe('p2p directory (seed 003)', () => {
  it('registers, lists others, answers ADDR with the seen address, and stays silent for unknown names', async () => {
    server = await startTestServer();
    const a = await peer('USER ana:5001');
    const b = await peer('USER bia: 5002');
    await peer('USER caio:5003');
    expect(await list(a)).toBe('LIST bia:caio');
    await a.write('ADDR bia\r\n');
    expect(await a.waitLine((l) => l.startsWith('ADDR'), 'ADDR reply')).toBe('ADDR bia:127.0.0.1:5002');
    // No reply for an unknown name: the next reply belongs to the next command.
    const before = b.lines.length;
    await b.write('ADDR ghost\r\nLIST\r\n');
    const lines = await b.waitCount(() => true, before + 1, 'reply');
    expect(lines.slice(before)).toEqual(['LIST ana:caio']);
    expect(b.raw.text.endsWith('\r\n')).toBe(true);
  });

  it('answers LIST with a trailing space when nobody else is active, and parses KEEP and LIST from one chunk', async () => {
    server = await startTestServer();
    const alone = await peer();
    await alone.write('USER solo:4000\r\nKEEP\r\nLIST\r\n');
    await alone.waitLine((l) => l.startsWith('LIST'), 'LIST');
    expect(alone.raw.text).toBe('LIST \r\n');
  });

  it('drops a silent client after the keepalive window, removes at DISC, and refuses a duplicate name', async () => {
    server = await startTestServer({ p2pKeepalive: 600 });
    const watcher = await peer('USER watcher:1');
    const silent = await peer('USER silent:2');
    const leaving = await peer('USER leaving:3');
    expect(await list(watcher)).toBe('LIST silent:leaving');
    await leaving.write('DISC\r\n');
    await leaving.raw.waitClosed();
    expect(await list(watcher)).toBe('LIST silent');
    const twin = await peer('USER watcher:9');
    await twin.raw.waitClosed();
    // The watcher keeps talking (KEEP) while the silent one expires.
    const keep = setInterval(() => void watcher.write('KEEP\r\n'), 150);
    try {
      await silent.raw.waitClosed();
      expect(await list(watcher)).toBe('LIST ');
    } finally {
      clearInterval(keep);
    }
    expect(watcher.raw.closed).toBe(false);
  });

  it('lets native clients see the same directory', async () => {
    server = await startTestServer();
    await peer('USER nat-visible:7000');
    const native = await NativeTestClient.connect(server.ports.native!);
    open.push(native);
    await native.register();
    await native.send({ type: 'dir.list' });
    expect(await native.waitFor(ofType('dir.list'), 'dir.list')).toMatchObject({ names: ['nat-visible'] });
    await native.send({ type: 'dir.addr', name: 'nat-visible' });
    expect(await native.waitFor(ofType('dir.addr'), 'dir.addr')).toMatchObject({
      ip: '127.0.0.1',
      port: 7000,
    });
  });
});

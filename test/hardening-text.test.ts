import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanText, isCleanName } from '../src/dialects/text.js';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZapTestClient, z03, z05 } from './helpers/zap-client.js';

let server: TestServer;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await server.close();
});

async function native(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server.ports.native!);
  open.push(client);
  return client;
}

async function line(port: number): Promise<LineTestClient> {
  const client = await LineTestClient.connect(port);
  open.push(client);
  return client;
}

const TS = 1_700_000_000;

describe('text hygiene at the door, the same in every dialect', () => {
  it('native: a lone surrogate becomes U+FFFD for every reader, and NUL is refused', async () => {
    server = await startTestServer();
    const sender = await native();
    const reader = await native();
    await sender.register({ acks: true });
    const { id } = await reader.register({ username: 'leitor', acks: true });
    // JSON.stringify writes the lone surrogate as the escape \ud800, which JSON.parse reads back.
    await sender.send({ type: 'msg', to: id, text: 'x\ud800y', cid: 'lone' });
    await sender.send({ type: 'msg', to: id, text: 'a\u0000b', cid: 'nul' });
    await sender.send({ type: 'msg', to: id, text: 'tab\tand\nbreak', cid: 'fine' });
    expect(await sender.waitFor(ofType('error'), 'the NUL refused')).toMatchObject({
      code: 'bad_request',
      cid: 'nul',
    });
    const got = await reader.waitForCount(ofType('msg'), 2, 'two messages');
    expect(got.map((f) => f.text)).toEqual(['x\uFFFDy', 'tab\tand\nbreak']);

    await sender.send({ type: 'group', members: [id], name: 'a\u0007b', cid: 'g' });
    expect(await sender.waitFor((f) => f.cid === 'g', 'group refused')).toMatchObject({
      code: 'bad_request',
    });
  });

  it('mm: a line with NUL or ESC is refused in-band and not delivered', async () => {
    server = await startTestServer();
    for (const username of ['ana', 'bia']) await (await native()).register({ username, acks: true });
    const ana = await line(server.ports.mm!);
    await ana.write('ana\n');
    await ana.waitLine((l) => l === 'f', 'login');
    await ana.write('@bia a\u0000b\n@bia \u001b[2Jclear\n@bia ok\n');
    const lines = await ana.waitCount((l) => l === 'f', 4, 'three replies');
    expect(lines.filter((l) => l.startsWith('@mensageiro'))).toEqual([
      '@mensageiro text cannot hold NUL or other control characters (tabs and line breaks are fine)',
      '@mensageiro text cannot hold NUL or other control characters (tabs and line breaks are fine)',
    ]);
    const bia = await line(server.ports.mm!);
    await bia.write('bia\n');
    expect(await bia.waitCount((l) => l === 'f', 1, 'pending')).toEqual(['@ana ok', 'f']);
  });

  it('zap: a 05 with NUL is discarded; the next one arrives', async () => {
    server = await startTestServer();
    const a = await ZapTestClient.connect(server.ports.zap!);
    const b = await ZapTestClient.connect(server.ports.zap!);
    open.push(a, b);
    const aId = await a.register();
    const bId = await b.register();
    await b.write(z03(bId));
    await a.write(`${z05(aId, bId, TS, 'a\u0000b')}\n`);
    await a.write(`${z05(aId, bId, TS + 1, 'limpo')}\n`);
    await b.waitLine((l) => l.startsWith('06'), '06');
    expect(b.lines.filter((l) => l.startsWith('06'))).toEqual([`06${aId}${bId}${TS + 1}limpo`]);
  });

  it('p2p: a name with NUL is not registered; lobby: a post with NUL is not broadcast', async () => {
    server = await startTestServer();
    const bad = await line(server.ports.p2p!);
    await bad.write('USER a\u0000b:5000\r\n');
    const good = await line(server.ports.p2p!);
    await good.write('USER bom:5001\r\nLIST\r\n');
    await good.waitLine((l) => l.startsWith('LIST'), 'LIST');
    await bad.write('LIST\r\n');
    expect(await bad.waitLine((l) => l.startsWith('LIST'), 'LIST')).toBe('LIST bom');

    const lobby = await RawSocket.connect(server.ports.lobby!);
    open.push(lobby);
    const post = (text: string) => {
      const payload = Buffer.from(text, 'utf8');
      return Buffer.concat([Buffer.from(String(payload.length).padEnd(64, ' ')), payload]);
    };
    await lobby.write(Buffer.concat([post('a\u0000b'), post('limpo')]));
    await lobby.until(() => lobby.text.includes('limpo'), 'the clean post');
    expect(lobby.text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(lobby.closed).toBe(false);
  });

  it('leaves no lone surrogate and no control character but tab and line breaks (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
        (text) => {
          let cleaned: string;
          try {
            cleaned = cleanText(text);
          } catch {
            // eslint-disable-next-line no-control-regex -- the characters the door refuses
            expect(/[\0-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/.test(text)).toBe(true);
            return;
          }
          expect(Buffer.from(cleaned, 'utf8').toString('utf8')).toBe(cleaned);
          expect(cleaned.length).toBe(text.length);
          expect(isCleanName(cleaned)).toBe(!/[\t\n\r]/.test(cleaned));
        },
      ),
    );
  });
});

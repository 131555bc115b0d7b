import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LobbyDecoder, headerLength } from '../src/dialects/lobby/codec.js';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZapTestClient } from './helpers/zap-client.js';

let server: TestServer;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of open.splice(0)) c.close();
  await server.close();
});

async function native(): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(server.ports.native!);
  open.push(client);
  return client;
}

const freshId = (n: number) => 4_000_000_000_000 + n;

describe('creating an account draws on the registration limit, by every door', () => {
  it('refuses native `new` with a fresh id, and zap 01, once the address has used its registrations', async () => {
    server = await startTestServer({ registerBurst: 3, registerRate: 0.001 });
    const answers: string[] = [];
    for (let n = 0; n < 4; n++) {
      const client = await native();
      await client.send({ type: 'new', id: freshId(n), acks: true });
      const reply = await client.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'reply');
      answers.push(reply.type === 'welcome' ? 'welcome' : String(reply.code));
    }
    expect(answers).toEqual(['welcome', 'welcome', 'welcome', 'rate_limited']);
    // Signing in again as an id that exists is a sign-in, not a registration.
    const again = await native();
    await again.send({ type: 'new', id: freshId(0), acks: true });
    expect(await again.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'reply')).toMatchObject({
      type: 'welcome',
      id: freshId(0),
    });
    const zap = await ZapTestClient.connect(server.ports.zap!);
    open.push(zap);
    await zap.write('01');
    await zap.raw.waitClosed();
    expect(zap.raw.text).toBe('');
  });
});

describe('failed sign-in costs the same hashing work whether the username exists or not', () => {
  it('runs scrypt with the same cost for an unknown username as for a wrong secret', async () => {
    server = await startTestServer();
    const owner = await native();
    await owner.register({ username: 'exists', secret: 'right' });
    const spy = vi.spyOn(crypto, 'scrypt');
    const costs = async (username: string) => {
      spy.mockClear();
      const client = await native();
      await client.send({ type: 'login', username, secret: 'wrong' });
      expect(await client.waitFor(ofType('error'), 'refusal')).toMatchObject({
        code: 'auth_failed',
        text: 'wrong account or secret',
      });
      return spy.mock.calls.map((call) => ({ keylen: call[2], options: call[3] as unknown }));
    };
    const known = await costs('exists');
    const unknown = await costs('nobody');
    expect(known).toHaveLength(1);
    expect(unknown).toEqual(known);
  });
});

describe('lobby headers: what the course server`s int(header) accepts', () => {
  const header = (text: string) => Buffer.from(text.padEnd(64, ' '), 'latin1');
  const lines = (client: RawSocket) => client.text.split('\n').filter(Boolean);

  it('takes zero-padded lengths and a 64-zero header over a real socket, and goes on', async () => {
    server = await startTestServer();
    const client = await RawSocket.connect(server.ports.lobby!);
    open.push(client);
    await client.write(Buffer.concat([Buffer.from('5'.padStart(64, '0'), 'latin1'), Buffer.from('hello')]));
    await client.until(() => lines(client).length === 1, 'the zero-padded post');
    await client.write(Buffer.from('0'.repeat(64), 'latin1'));
    await client.write(Buffer.concat([header(' +0_0_3 '), Buffer.from('two')]));
    await client.write(
      Buffer.concat([Buffer.from('\0\0 4\t\0'.padEnd(64, '\0'), 'latin1'), Buffer.from('tres')]),
    );
    await client.until(() => lines(client).length === 3, 'three posts');
    expect(lines(client).map((l) => l.replace(/^\[.*?\]\[.*?\]: /, ''))).toEqual(['hello', 'two', 'tres']);
    expect(client.closed).toBe(false);
  });

  it('closes on a negative or non-numeric header', async () => {
    server = await startTestServer();
    for (const bad of ['-5', '5x', '1__0', '_1']) {
      const client = await RawSocket.connect(server.ports.lobby!);
      open.push(client);
      await client.write(Buffer.concat([header(bad), Buffer.from('hello')]));
      await client.waitClosed();
      expect(client.text).toBe('');
    }
  });

  it('reads any int()-style header the way Python does, within the frame limit (property)', () => {
    const pythonInt = fc
      .record({
        value: fc.nat({ max: 5000 }),
        zeros: fc.nat({ max: 40 }),
        sign: fc.constantFrom('', '+'),
        left: fc.constantFrom('', ' ', '\0', '\t ', ' \0'),
      })
      .filter(({ value, zeros, sign, left }) => (left + sign).length + zeros + String(value).length <= 64);
    fc.assert(
      fc.property(pythonInt, ({ value, zeros, sign, left }) => {
        const text = `${left}${sign}${'0'.repeat(zeros)}${value}`;
        expect(headerLength(header(text))).toBe(value);
        const payload = Buffer.alloc(value, 'a');
        const decoded = new LobbyDecoder(1000).push(Buffer.concat([header(text), payload]));
        if (value > 1000) expect(decoded).toMatchObject([{ ok: false }]);
        else expect(decoded).toEqual(value === 0 ? [] : [{ ok: true, text: 'a'.repeat(value) }]);
      }),
    );
  });
});

describe('p2p directory: silence is counted in whole instructions', () => {
  it('drops a client that drips bytes of an instruction it never finishes', async () => {
    server = await startTestServer({ p2pKeepalive: 600 });
    const client = await LineTestClient.connect(server.ports.p2p!);
    open.push(client);
    await client.write('USER drip:5000\r\n');
    // One byte of a KEEP that never ends, every 100 ms: at most 200 bytes, well under a line.
    for (let n = 0; n < 200 && !client.raw.closed; n++) {
      await client.write('K');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(client.raw.closed).toBe(true);
  }, 30_000);

  it('keeps a client that sends KEEP', async () => {
    server = await startTestServer({ p2pKeepalive: 600 });
    const keeper = await LineTestClient.connect(server.ports.p2p!);
    open.push(keeper);
    await keeper.write('USER keeper:5000\r\n');
    const dripper = await LineTestClient.connect(server.ports.p2p!);
    open.push(dripper);
    await dripper.write('USER dripper:5001\r\n');
    // The dripper's drop is what the keeper outlives; each KEEP is a whole instruction.
    for (let n = 0; n < 200 && !dripper.raw.closed; n++) {
      await keeper.write('KEEP\r\n');
      await dripper.write('K');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(dripper.raw.closed).toBe(true);
    expect(keeper.raw.closed).toBe(false);
  }, 30_000);
});

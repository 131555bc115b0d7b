import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZapTestClient, pad, z03, z05, z08, z10 } from './helpers/zap-client.js';

let server: TestServer;
let port: number;
const open: Array<{ close(): void }> = [];

async function zap(): Promise<ZapTestClient> {
  const client = await ZapTestClient.connect(port);
  open.push(client);
  return client;
}

async function registered(): Promise<{ client: ZapTestClient; id: string }> {
  const client = await zap();
  return { client, id: await client.register() };
}

/** Reconnects an existing id with 03. */
async function reconnect(id: string): Promise<ZapTestClient> {
  const client = await zap();
  await client.write(z03(id));
  return client;
}

beforeEach(async () => {
  server = await startTestServer();
  port = server.ports.zap!;
});

afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await server.close();
});

const TS = 1_700_000_000;

describe('zap dialect (seed 002), raw bytes', () => {
  it('runs the full flow 01..11 between three clients, offline cases included', async () => {
    const a = await registered();
    const b = await registered();
    const c = await registered();
    for (const { id } of [a, b, c]) expect(id).toMatch(/^[1-9]\d{12}$/);

    // 05 to an online user: 06 now, and 07 to the sender once it is written.
    await a.client.write(z05(a.id, b.id, TS, 'oi b') + '\n');
    expect(await b.client.waitLine((l) => l.startsWith('06'), '06 at b')).toBe(`06${a.id}${b.id}${TS}oi b`);
    expect(await a.client.waitLine((l) => l.startsWith('07'), '07 at a')).toBe(`07${b.id}${TS}`);

    // 05 to an offline user: stored, delivered on 03, and the 07 follows then.
    c.client.close();
    await c.client.raw.waitClosed();
    await a.client.write(z05(a.id, c.id, TS + 1, 'oi c, offline') + '\n');
    const c2 = await reconnect(c.id);
    expect(await c2.waitLine((l) => l.startsWith('06'), '06 at c')).toBe(
      `06${a.id}${c.id}${TS + 1}oi c, offline`,
    );
    expect(await a.client.waitLine((l) => l === `07${c.id}${TS + 1}`, '07 for c')).toBeTruthy();

    // 08 while the originator is offline: the 09 waits for its 03.
    a.client.close();
    await a.client.raw.waitClosed();
    await b.client.write(z08(a.id, TS));
    const a2 = await reconnect(a.id);
    expect(await a2.waitLine((l) => l.startsWith('09'), '09 at a')).toBe(`09${b.id}${TS}`);

    // 10 while a member is offline: 11 to everyone, the offline member on its 03.
    c2.close();
    await c2.raw.waitClosed();
    await a2.write(z10(a.id, TS + 2, [b.id, c.id]));
    const eleven = await a2.waitLine((l) => l.startsWith('11'), '11 at a');
    const gid = eleven.slice(2, 15);
    expect(eleven).toBe(`11${gid}${TS + 2}${a.id}${b.id}${c.id}`);
    expect(await b.client.waitLine((l) => l.startsWith('11'), '11 at b')).toBe(eleven);
    const c3 = await reconnect(c.id);
    expect(await c3.waitLine((l) => l.startsWith('11'), '11 at c')).toBe(eleven);

    // 05 to the group: 06 with dst = group to the others, 07 with dst = group once all have it.
    await b.client.write(z05(b.id, gid, TS + 3, 'oi grupo') + '\n');
    expect(await a2.waitLine((l) => l.startsWith('06') && l.includes('oi grupo'), '06 at a')).toBe(
      `06${b.id}${gid}${TS + 3}oi grupo`,
    );
    expect(await c3.waitLine((l) => l.includes('oi grupo'), '06 at c')).toBe(
      `06${b.id}${gid}${TS + 3}oi grupo`,
    );
    expect(await b.client.waitLine((l) => l === `07${gid}${TS + 3}`, 'group 07 at b')).toBeTruthy();
    expect(b.client.lines.filter((l) => l.includes('oi grupo'))).toEqual([]);
  });

  it('accepts every framing variant real clients send', async () => {
    const a = await registered();
    const b = await registered();
    const sixes = () => b.client.lines.filter((l) => l.startsWith('06')).map((l) => l.slice(38));

    await a.client.write(z05(a.id, b.id, TS, 'with LF') + '\n');
    await b.client.waitLine((l) => l.endsWith('with LF'), 'LF frame');
    await a.client.write(z05(a.id, b.id, TS, 'padded'.padEnd(218, ' ')));
    await b.client.waitLine((l) => l.endsWith('padded'), 'padded frame');
    await a.client.write(z05(a.id, b.id, TS, 'no delimiter 1'));
    await b.client.waitLine((l) => l.endsWith('no delimiter 1'), 'first undelimited');
    await a.client.write(z05(a.id, b.id, TS, 'no delimiter 2'));
    await b.client.waitLine((l) => l.endsWith('no delimiter 2'), 'second undelimited');
    await a.client.write(z05(a.id, b.id, TS, 'two in') + '\n' + z05(a.id, b.id, TS, 'one chunk') + '\r\n');
    await b.client.waitLine((l) => l.endsWith('one chunk'), 'two frames in one chunk');
    const split = Buffer.from(z05(a.id, b.id, TS, 'split in three') + '\n');
    for (const piece of [split.subarray(0, 1), split.subarray(1, 2), split.subarray(2)])
      await a.client.write(piece);
    await b.client.waitLine((l) => l.endsWith('split in three'), 'split frame');
    const wide = 'ç🎉'.repeat(109);
    await a.client.write(z05(a.id, b.id, TS, wide));
    await b.client.waitLine((l) => l.endsWith(wide), '218 multi-byte characters');
    expect(sixes()).toEqual([
      'with LF',
      'padded',
      'no delimiter 1',
      'no delimiter 2',
      'two in',
      'one chunk',
      'split in three',
      wide,
    ]);
  });

  it('survives bad input without disturbing another connection', async () => {
    const a = await registered();
    const b = await registered();
    const attacks = [
      '99',
      `03abcdefghijklm`,
      z05(a.id, b.id, TS, 'x'.repeat(300)) + '\n',
      Buffer.concat([Buffer.from(z05(a.id, b.id, TS, '')), Buffer.from([0xff, 0xfe, 0x0a])]),
    ];
    for (const attack of attacks) {
      const bad = await zap();
      await bad.write(z03(a.id));
      await bad.write(attack);
      await bad.raw.waitClosed();
    }
    // 03 with an unknown id closes.
    const stranger = await reconnect(pad(1, 13));
    await stranger.raw.waitClosed();
    // A spoofed src is dropped; the connection lives on.
    const spoofer = await registered();
    await spoofer.client.write(z05(a.id, b.id, TS, 'spoofed') + '\n');
    await spoofer.client.write(z05(spoofer.id, b.id, TS, 'honest') + '\n');
    await b.client.waitLine((l) => l.endsWith('honest'), 'honest message');
    expect(b.client.lines.some((l) => l.endsWith('spoofed'))).toBe(false);
    // A 05 to an unknown dst is discarded.
    await a.client.write(z05(a.id, pad(1, 13), TS, 'void') + '\n');
    await a.client.write(z05(a.id, b.id, TS, 'still fine') + '\n');
    await b.client.waitLine((l) => l.endsWith('still fine'), 'message after the attacks');
    expect(b.client.lines.filter((l) => l.startsWith('06') && l.includes('x'.repeat(10)))).toHaveLength(1);
  });

  it('accepts 05 on a connection that never sent 03 (one connection per operation)', async () => {
    const a = await registered();
    const b = await registered();
    const oneShot = await zap();
    await oneShot.write(z05(a.id, b.id, TS, 'fire and forget') + '\n');
    await b.client.waitLine((l) => l.endsWith('fire and forget'), 'one-shot message');
    expect(oneShot.lines).toEqual([]);
  });

  it('lets a native client and a zap client message each other, with receipts', async () => {
    const z = await registered();
    const native = await NativeTestClient.connect(server.ports.native!);
    open.push(native);
    const welcome = await native.register({ username: 'nat', acks: true });
    const nid = pad(welcome.id as number, 13);

    await native.send({ type: 'msg', to: Number(z.id), text: 'from native\nline 2', cid: 'n1' });
    const six = await z.client.waitLine((l) => l.startsWith('06'), '06 from native');
    expect(six.slice(0, 28)).toBe(`06${nid}${z.id}`);
    expect(six.slice(38)).toBe('from native\\nline 2');
    const sentTs = Number(six.slice(28, 38));
    expect(
      await native.waitFor((f) => f.type === 'receipt' && f.status === 'delivered', 'delivered'),
    ).toMatchObject({
      by: Number(z.id),
    });
    await z.client.write(z08(nid, sentTs));
    expect(await native.waitFor((f) => f.type === 'receipt' && f.status === 'read', 'read')).toMatchObject({
      by: Number(z.id),
      ts: sentTs,
    });

    await z.client.write(z05(z.id, nid, TS, 'from zap') + '\n');
    const got = await native.waitFor((f) => f.type === 'msg' && f.text === 'from zap', 'msg from zap');
    expect(got).toMatchObject({ id: Number(z.id), ts: TS });
    await native.send({ type: 'ack', seq: got.seq });
    expect(await z.client.waitLine((l) => l.startsWith('07'), '07 from native ack')).toBe(`07${nid}${TS}`);
    await native.send({ type: 'read', conv: Number(z.id), mid: got.mid });
    expect(await z.client.waitLine((l) => l.startsWith('09'), '09 from native read')).toBe(`09${nid}${TS}`);
    expect(native.frames.filter(ofType('error'))).toEqual([]);
  });
});

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeLobbyInput } from '../src/dialects/lobby/codec.js';
import { encodeNative } from '../src/dialects/native/codec.js';
import { encodeZap } from '../src/dialects/zap/codec.js';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID: Record<string, Buffer[]> = {
  native: [
    encodeNative({ type: 'new', id: 77 }),
    encodeNative({ type: 'msg', to: 77, text: 'x', cid: 1 }),
    encodeNative({ type: 'register' }, true),
  ],
  zap: [
    encodeZap({ code: '01' }),
    encodeZap({ code: '05', src: 1, dst: 2, ts: 3, data: 'oi' }),
    encodeZap({ code: '10', creator: 1, ts: 1, members: [2] }),
  ],
  mm: [Buffer.from('alice\n@bob oi\n')],
  p2p: [Buffer.from('USER fuzz:1\r\nLIST\r\nADDR x\r\n')],
  lobby: [encodeLobbyInput('oi'), encodeLobbyInput(':D')],
};

function garbage(next: () => number, port: string): Buffer {
  if (next() < 0.5) {
    return Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256)));
  }
  const valid = VALID[port]!;
  const bytes = [...valid[Math.floor(next() * valid.length)]!];
  for (let edits = 1 + Math.floor(next() * 4); edits > 0; edits--)
    bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
  return Buffer.from(bytes);
}

let server: TestServer;
afterEach(async () => {
  await server.close();
});

describe('network fuzz', () => {
  it('random and mutated bytes on every port never cost two honest clients a message', async () => {
    server = await startTestServer({ messageBurst: 0, users: null });
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    console.log(`network fuzz seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    const sender = await NativeTestClient.connect(server.ports.native!);
    const receiver = await NativeTestClient.connect(server.ports.native!);
    await sender.register({ acks: true });
    const rw = await receiver.register({ acks: true });

    const ports = ['native', 'zap', 'mm', 'p2p', 'lobby'] as const;
    let attacks = 0;
    const fuzzOne = async (port: (typeof ports)[number]) => {
      const socket = net.connect({ port: server.ports[port]!, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      for (let chunks = 1 + Math.floor(next() * 4); chunks > 0; chunks--) socket.write(garbage(next, port));
      attacks++;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 20)));
      socket.destroy();
    };
    const fuzzing = (async () => {
      for (let round = 0; round < 60; round++) await Promise.all(ports.map(fuzzOne));
    })();

    const total = 200;
    for (let n = 0; n < total; n++) {
      await sender.send({ type: 'msg', to: rw.id, text: `honest ${n}`, cid: `h${n}` });
      if (n % 20 === 19) await sender.waitForCount(ofType('sent'), n + 1, 'acks');
    }
    await fuzzing;
    const got = await receiver.waitForCount(ofType('msg'), total, 'every honest message');
    expect(got.map((f) => f.text)).toEqual(Array.from({ length: total }, (_, n) => `honest ${n}`));
    expect(attacks).toBe(300);

    // Still up on every port.
    const mm = await LineTestClient.connect(server.ports.mm!);
    await mm.write('nobody-at-all\n');
    await mm.raw.waitClosed();
    expect(mm.lines).toEqual(['@mensageiro unknown user nobody-at-all']);
    await sender.send({ type: 'ping' });
    await sender.waitFor(ofType('pong'), 'native alive');
    sender.close();
    receiver.close();
  });
});

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient, frame, ofType, parseFrames } from './helpers/native-client.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

let server: TestServer;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await server.close();
});

/** Every byte a socket receives until it closes. */
function collect(socket: net.Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { bytes: () => Buffer.concat(chunks), ended };
}

describe('a seed-000 client (no acks) that stops reading', () => {
  it('gets, after reconnecting, everything that was still in the server`s buffer when it was dropped', async () => {
    server = await startTestServer({ writeStallTimeout: 300, messageBurst: 0 });
    const port = server.ports.native!;
    const readerId = 5_000_000_000_001;
    const stalled = net.connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.pause();
    const first = collect(stalled);
    stalled.write(frame({ type: 'new', id: readerId }));
    await new Promise<void>((resolve) => {
      const check = () => (server.hub.presence.isOnline(readerId) ? resolve() : setTimeout(check, 10));
      check();
    });

    const sender = await NativeTestClient.connect(port);
    open.push(sender);
    await sender.register({ acks: true });
    const total = 300;
    const body = 'x'.repeat(100 * 1024);
    for (let n = 0; n < total; n++)
      await sender.send({ type: 'msg', to: readerId, text: `${n}:${body}`, cid: n });
    await sender.waitForCount(ofType('sent'), total, 'every message stored');
    // Dropped as a slow consumer once its buffer stays full past the stall timeout.
    await new Promise<void>((resolve) => {
      const check = () => (server.hub.presence.isOnline(readerId) ? setTimeout(check, 20) : resolve());
      check();
    });

    // What the kernel had taken still arrives on the old socket; the rest must come on the new one.
    stalled.resume();
    await first.ended;
    const fromFirst = parseFrames(first.bytes()).filter(ofType('msg'));
    const again = await NativeTestClient.connect(port);
    open.push(again);
    await again.send({ type: 'new', id: readerId });
    const seen = new Set(fromFirst.map((f) => String(f.text).split(':')[0]));
    await again.raw.until(
      () => {
        for (const f of again.frames.filter(ofType('msg'))) seen.add(String(f.text).split(':')[0]);
        return seen.size === total || undefined;
      },
      'every message, across both connections',
      45_000,
    );
    const fromSecond = again.frames.filter(ofType('msg')).length;
    console.log(
      `stalled seed-000 reader: ${fromFirst.length} messages (${(first.bytes().length / 1048576).toFixed(1)} MiB) came from the kernel's buffers after the drop, ${fromSecond} were sent again, ${fromFirst.length + fromSecond - total} twice`,
    );
    expect(fromFirst.length).toBeLessThan(total);
    expect(seen.size).toBe(total);
  }, 60_000);
});

describe('what one sender can make the server hold', () => {
  it('stops reading a sender whose frames wait on a slow disk, and loses none of them', async () => {
    // A slow disk: every message waits 20 ms before the store takes it.
    const store = new SqliteStore({ dataDir: tempDir() });
    const append = store.appendMessage.bind(store);
    let waiting = 0;
    let mostWaiting = 0;
    store.appendMessage = async (message) => {
      mostWaiting = Math.max(mostWaiting, ++waiting);
      await new Promise((resolve) => setTimeout(resolve, 20));
      waiting--;
      return append(message);
    };
    server = await startTestServer({ messageBurst: 0 }, { store });
    const sender = await NativeTestClient.connect(server.ports.native!);
    const reader = await NativeTestClient.connect(server.ports.native!);
    open.push(sender, reader);
    await sender.register({ acks: true });
    const { id } = await reader.register({ acks: true });
    const total = 150;
    const text = 'y'.repeat(100 * 1024);
    // 15 MB in one write, as a client that does not wait for acks would send it.
    await sender.raw.write(
      Array.from({ length: total }, (_, n) => frame({ type: 'msg', to: id, text, cid: n })).join(''),
    );
    await sender.waitForCount(ofType('sent'), total, 'every message stored');
    console.log(`one sender, 15 MB at once, slow disk: at most ${mostWaiting} of its messages in hand`);
    // 1 MiB in hand (each 100 KB text weighs 200 KB as a string), plus one read chunk's frames.
    expect(mostWaiting).toBeLessThanOrEqual(8);
    expect((await reader.waitForCount(ofType('msg'), total, 'every message delivered')).length).toBe(total);
  }, 60_000);
});

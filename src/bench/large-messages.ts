import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectTcp } from '../client/tcp.js';
import { encodeNative } from '../dialects/native/codec.js';
import { freePort } from './free-port.js';
import { NativeWireReader, readWireFrame } from './native-wire.js';

/**
 * What large messages cost the server: one sender pushes `mib` MiB as `size`-byte messages to
 * one reader, which either reads and acks (healthy) or never reads (stuck), while a third
 * client pings. Reports the server's peak RSS over its RSS before, per MiB in flight, and the
 * slowest ping. `node dist/bench/large-messages.js [mib] [size] [server flags...]`.
 */

export interface LargeMessagesResult {
  reader: 'healthy' | 'stuck';
  mib: number;
  size: number;
  rssBeforeMib: number;
  peakRssMib: number;
  peakPerMibInFlight: number;
  slowestPingMs: number;
}

const CLI = path.resolve(import.meta.dirname, '../cli/main.js');
const rssKib = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** A native connection that signs in as `id` and hands every frame to `onFrame`. */
async function nativeSession(
  port: number,
  id: number,
  onFrame: (type: string, seq: number | undefined, socket: net.Socket) => void,
): Promise<net.Socket> {
  const socket = await connectTcp('127.0.0.1', port);
  const reader = new NativeWireReader();
  let welcomed: () => void;
  const welcome = new Promise<void>((resolve) => (welcomed = resolve));
  socket.on('data', (chunk: Buffer) =>
    reader.push(chunk, (json) => {
      const frame = readWireFrame(json);
      if (frame.type === 'welcome') welcomed();
      else onFrame(frame.type, frame.seq, socket);
    }),
  );
  socket.write(encodeNative({ type: 'new', id, acks: true }));
  await welcome;
  return socket;
}

export async function runLargeMessages(
  reader: 'healthy' | 'stuck',
  mib = 50,
  size = 100 * 1024,
  serverFlags: string[] = [],
): Promise<LargeMessagesResult> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mensageiro-large-'));
  const args = ['server', '--host', '127.0.0.1', '--data', dir, '--native-port', String(port)];
  for (const off of ['mm', 'zap', 'p2p', 'lobby', 'metrics', 'web']) args.push(`--${off}-port`, 'off');
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, ...args, '--message-burst', '0', ...serverFlags],
    {
      stdio: 'ignore',
    },
  );
  const sockets: net.Socket[] = [];
  try {
    for (let tries = 0; ; tries++) {
      try {
        (await connectTcp('127.0.0.1', port)).destroy();
        break;
      } catch (error) {
        if (tries > 200) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const count = Math.ceil((mib * 1024 * 1024) / size);
    let delivered = 0;
    let acked = 0;
    const done = { resolve: () => {} };
    const finished = new Promise<void>((resolve) => (done.resolve = resolve));
    const check = () => {
      if (acked === count && (reader === 'stuck' || delivered === count)) done.resolve();
    };
    const readerSocket = await nativeSession(port, 1_000_000_000_001, (type, seq, socket) => {
      if (type !== 'msg') return;
      delivered++;
      socket.write(encodeNative({ type: 'ack', seq }));
      check();
    });
    if (reader === 'stuck') readerSocket.pause();
    let pingSent = 0;
    let slowestPingMs = 0;
    const pinger = await nativeSession(port, 1_000_000_000_003, (type, _seq, socket) => {
      if (type !== 'pong') return;
      slowestPingMs = Math.max(slowestPingMs, performance.now() - pingSent);
      setTimeout(() => {
        pingSent = performance.now();
        socket.write(encodeNative({ type: 'ping' }));
      }, 20);
    });
    const sender = await nativeSession(port, 1_000_000_000_002, (type) => {
      if (type !== 'sent') return;
      acked++;
      check();
    });
    sockets.push(readerSocket, pinger, sender);
    const rssBefore = rssKib(child.pid!, 'VmRSS');
    pingSent = performance.now();
    pinger.write(encodeNative({ type: 'ping' }));
    const text = 'x'.repeat(size);
    // As fast as the server takes them, but no faster: the generator's own loop must stay free
    // to time the pings.
    for (let n = 0; n < count; n++) {
      if (!sender.write(encodeNative({ type: 'msg', to: 1_000_000_000_001, text, cid: n }))) {
        await new Promise((resolve) => sender.once('drain', resolve));
      }
    }
    await finished;
    const peak = rssKib(child.pid!, 'VmHWM');
    return {
      reader,
      mib,
      size,
      rssBeforeMib: Math.round(rssBefore / 1024),
      peakRssMib: Math.round(peak / 1024),
      peakPerMibInFlight: Number(((peak - rssBefore) / 1024 / mib).toFixed(2)),
      slowestPingMs: Math.round(slowestPingMs),
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const mib = Number(process.argv[2] ?? 50);
  const size = Number(process.argv[3] ?? 100 * 1024);
  for (const reader of ['stuck', 'healthy'] as const) {
    console.log(JSON.stringify(await runLargeMessages(reader, mib, size, process.argv.slice(4))));
  }
}

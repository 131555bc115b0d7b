import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/server/connection.js';
import { createLogger } from '../src/server/logger.js';

/** A socket whose kernel takes every write whole: write returns true and no 'drain' follows. */
class EagerSocket extends EventEmitter {
  readonly remoteAddress = '::ffff:127.0.0.1';
  readonly remotePort = 40000;
  readonly writableLength = 0;
  readonly written: Buffer[] = [];
  write(bytes: Buffer): boolean {
    this.written.push(bytes);
    return true;
  }
  end(): void {}
  destroy(): void {}
}

const connectionOn = (socket: EagerSocket, highWaterMark: number) =>
  new Connection(
    socket as unknown as net.Socket,
    { maxWriteBuffer: 1 << 20, highWaterMark },
    createLogger('silent'),
  );

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('connection write batching', () => {
  it('joins a turn of frames into one write, in order', async () => {
    const socket = new EagerSocket();
    const connection = connectionOn(socket, 1 << 16);
    connection.send(Buffer.from('3,{a}'));
    connection.send(Buffer.from('3,{b}'));
    await nextTurn();
    expect(socket.written.map((b) => b.toString())).toEqual(['3,{a}3,{b}']);
  });

  it('keeps text frames and buffers in the order they were sent, and counts their bytes', async () => {
    const socket = new EagerSocket();
    const connection = connectionOn(socket, 8);
    connection.sendText('4,"ç"', 6);
    expect(connection.bufferedBytes).toBe(6);
    connection.send(Buffer.from('3,{b}'));
    connection.sendText('3,{c}', 5);
    expect(connection.bufferedBytes).toBe(16);
    expect(connection.writable()).toBe(false);
    await nextTurn();
    expect(socket.written.map((b) => b.toString())).toEqual(['4,"ç"3,{b}3,{c}']);
    expect(connection.bufferedBytes).toBe(0);
  });

  it('clears the stall mark once a write taken whole brings it under the high-water mark', async () => {
    // The listener's sweep drops a connection whose mark is older than the stall timeout. A
    // mark left over from an earlier backlog once dropped healthy readers in the middle of a drain.
    const socket = new EagerSocket();
    const connection = connectionOn(socket, 1024);
    connection.send(Buffer.alloc(4096));
    expect(connection.writable()).toBe(false);
    expect(connection.blockedSince).not.toBeNull();
    await nextTurn();
    expect(connection.writable()).toBe(true);
    expect(connection.blockedSince).toBeNull();
  });
});

import { EventEmitter } from 'node:events';
import type net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/server/connection.js';
import { createLogger } from '../src/server/logger.js';

/** A socket whose kernel takes every write whole: write returns true and no 'drain' follows. */
class EagerSocket extends EventEmitter {
  readonly remoteAddress = '::ffff:127.0.0.1';
  readonly remotePort = 40000;
  get writableLength(): number {
    return 0;
  }
  readonly written: Buffer[] = [];
  write(bytes: Buffer | string): boolean {
    // A turn of text alone is written as a string, encoded by the socket.
    this.written.push(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    return true;
  }
  end(): void {}
  destroy(): void {}
}

/**
 * A socket whose peer reads nothing: writes stay queued, and `writableLength` counts them as
 * Node's net.Socket does, a string by its length in characters and a Buffer by its bytes.
 */
class StuckSocket extends EagerSocket {
  private held = 0;
  override get writableLength(): number {
    return this.held;
  }
  override write(chunk: Buffer | string): boolean {
    this.held += chunk.length;
    return super.write(chunk) && false;
  }
}

const connectionOn = (socket: EagerSocket, highWaterMark: number) =>
  new Connection(
    socket as unknown as net.Socket,
    { maxWriteBuffer: 1 << 20, highWaterMark, maxHeld: 1 << 20 },
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

  it('counts what the socket holds in bytes, also for text that is not ASCII', async () => {
    // The slow-consumer bound is in bytes; a string queued in the socket counts by characters.
    const socket = new StuckSocket();
    const connection = connectionOn(socket, 1 << 16);
    const text = `2000,"${'é'.repeat(997)}"`;
    connection.sendText(text, Buffer.byteLength(text));
    await nextTurn();
    expect(connection.bufferedBytes).toBe(Buffer.byteLength(text));
    const ascii = new StuckSocket();
    const plain = connectionOn(ascii, 1 << 16);
    plain.sendText('5,"abc"', 7);
    await nextTurn();
    expect(plain.bufferedBytes).toBe(7);
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

  it('writes each turn once, with every byte sent in it, text and buffers in the order sent', async () => {
    const frame = fc.oneof(
      fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => ({ kind: 'buffer' as const, bytes: Buffer.from(bytes) })),
      fc
        .string({ maxLength: 40 })
        .map((text) => ({ kind: 'text' as const, bytes: Buffer.from(text, 'utf8') })),
      fc
        .integer({ min: 0, max: 5000 })
        .map((size) => ({ kind: 'buffer' as const, bytes: Buffer.alloc(size, size % 251) })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(frame, { maxLength: 30 }), { minLength: 1, maxLength: 6 }),
        async (turns) => {
          const socket = new EagerSocket();
          const connection = connectionOn(socket, 1 << 20);
          for (const turn of turns) {
            for (const { kind, bytes } of turn) {
              if (kind === 'buffer') connection.send(bytes);
              else connection.sendText(bytes.toString('utf8'), bytes.length);
            }
            await nextTurn();
          }
          const nonEmpty = turns
            .map((turn) => Buffer.concat(turn.map((f) => f.bytes)))
            .filter((b) => b.length > 0);
          expect(socket.written.map((b) => b.toString('hex'))).toEqual(
            nonEmpty.map((b) => b.toString('hex')),
          );
          expect(connection.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

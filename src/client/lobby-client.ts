import net from 'node:net';
import { EventEmitter } from 'node:events';
import { LineDecoder } from '../dialects/line-decoder.js';
import { DISCONNECT, encodeLobbyInput } from '../dialects/lobby/codec.js';
import { connectTcp } from './tcp.js';

/** A seed-004 lobby client: headed messages out, the server's text lines in. */
export class LobbyClient extends EventEmitter<{ line: [text: string]; close: [] }> {
  private socket: net.Socket | null = null;
  private readonly lines = new LineDecoder(1024 * 1024);

  async connect(host: string, port: number): Promise<void> {
    const socket = await connectTcp(host, port);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const result of this.lines.push(chunk)) if (result.ok) this.emit('line', result.line);
    });
    socket.on('close', () => this.emit('close'));
  }

  say(text: string): void {
    this.socket?.write(encodeLobbyInput(text));
  }

  /** Sends `:D`, the seed's way to leave. */
  leave(): void {
    this.socket?.end(encodeLobbyInput(DISCONNECT));
  }
}

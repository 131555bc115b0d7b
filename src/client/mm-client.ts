import net from 'node:net';
import { EventEmitter } from 'node:events';
import { LineDecoder } from '../dialects/line-decoder.js';
import { SERVER_NAME, parseServerLine } from '../dialects/mm/codec.js';
import { connectTcp } from './tcp.js';

export interface MmClientEvents {
  message: [from: string, text: string];
  notice: [text: string];
  /** The server's `f`: the reply to one line is complete. */
  end: [];
  close: [];
}

/**
 * A seed-001 client: it works against any server that follows the seed, so it assumes nothing
 * beyond `@from text` lines and the `f` that ends each reply.
 */
export class MmClient extends EventEmitter<MmClientEvents> {
  private readonly decoder = new LineDecoder(1024 * 1024);
  private socket: net.Socket | null = null;

  async connect(host: string, port: number, user: string): Promise<void> {
    const socket = await connectTcp(host, port);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.emit('close'));
    socket.write(`${user}\n`);
  }

  /** Sends `@dest text`; the server answers with new messages and `f`. */
  send(dest: string, text: string): void {
    this.socket?.write(`@${dest} ${text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`);
  }

  /** A blank line: only asks for new messages. */
  fetch(): void {
    this.socket?.write('\n');
  }

  close(): void {
    this.socket?.end();
  }

  private onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      if (!result.ok) continue;
      const line = result.line;
      if (line === 'f') {
        this.emit('end');
        continue;
      }
      const parsed = parseServerLine(line);
      if (!parsed) this.emit('notice', line);
      else if (parsed.from === SERVER_NAME) this.emit('notice', parsed.text);
      else this.emit('message', parsed.from, parsed.text);
    }
  }
}

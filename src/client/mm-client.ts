import net from 'node:net';
import { EventEmitter } from 'node:events';
import { SERVER_NAME, parseServerLine } from '../dialects/mm/codec.js';
import { DEFAULT_IDLE_MS, readLines } from './idle-lines.js';
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
 * beyond `@from text` lines and the `f` that ends each reply. Lines may end in LF, CRLF, or
 * nothing at all (a server that sends each message with one send()): a line with no end is
 * taken once no byte has followed for the idle interval.
 */
export class MmClient extends EventEmitter<MmClientEvents> {
  private socket: net.Socket | null = null;

  constructor(private readonly idleMs = DEFAULT_IDLE_MS) {
    super();
  }

  async connect(host: string, port: number, user: string): Promise<void> {
    const socket = await connectTcp(host, port);
    this.socket = socket;
    readLines(socket, (line) => this.onLine(line), this.idleMs);
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

  private onLine(line: string): void {
    if (line.trim() === '') return;
    if (line.trim() === 'f') {
      this.emit('end');
      return;
    }
    const parsed = parseServerLine(line);
    if (!parsed) this.emit('notice', line);
    else if (parsed.from === SERVER_NAME) this.emit('notice', parsed.text);
    else this.emit('message', parsed.from, parsed.text);
  }
}

import net from 'node:net';
import { EventEmitter } from 'node:events';
import { DISCONNECT, encodeLobbyInput } from '../dialects/lobby/codec.js';
import { DEFAULT_IDLE_MS, readLines } from './idle-lines.js';
import { connectTcp } from './tcp.js';

/**
 * Where a broadcast in the course server's form begins: `[<ctime>][('<ip>', <port>)]: `. That
 * server sends each one with a bare send() and no LF, so two that arrive together are cut here.
 */
const BROADCAST_START =
  /(?=\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\]\[\()/;

/**
 * A seed-004 lobby client: headed messages out; the server's text in, shown at each LF or once no
 * byte has followed for the idle interval, since the course's own server ends nothing with LF.
 */
export class LobbyClient extends EventEmitter<{ line: [text: string]; close: [] }> {
  private socket: net.Socket | null = null;

  constructor(private readonly idleMs = DEFAULT_IDLE_MS) {
    super();
  }

  async connect(host: string, port: number): Promise<void> {
    const socket = await connectTcp(host, port);
    this.socket = socket;
    readLines(
      socket,
      (text) => {
        for (const line of text.split(BROADCAST_START)) if (line.length > 0) this.emit('line', line);
      },
      this.idleMs,
    );
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

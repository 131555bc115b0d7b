import net from 'node:net';
import { RawSocket } from './raw-socket.js';

/**
 * A classmate's server in miniature, for testing our seed clients against it: every connection
 * is a RawSocket (its `chunks` are what each recv() returned), handed to `onConnection`.
 */
export class SeedServer {
  readonly peers: RawSocket[] = [];

  private constructor(private readonly server: net.Server) {}

  static async start(onConnection: (peer: RawSocket) => void): Promise<SeedServer> {
    let seed: SeedServer | null = null;
    const server = net.createServer((socket) => {
      const peer = RawSocket.wrap(socket);
      seed!.peers.push(peer);
      onConnection(peer);
    });
    seed = new SeedServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return seed;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    for (const peer of this.peers) peer.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes each piece with its own write, waiting for it to drain, as a server's loop of send() calls. */
export async function sendEach(peer: RawSocket, pieces: Array<string | Buffer>): Promise<void> {
  for (const piece of pieces) await peer.write(piece);
}

/** Every byte in its own write: the harshest split TCP can deliver. */
export function bytesOf(text: string): Buffer[] {
  return [...Buffer.from(text, 'utf8')].map((byte) => Buffer.of(byte));
}

/** Resolves with `check()`'s value once it is truthy (bounded); the error shows `state()`. */
export async function eventually<T>(
  check: () => T | undefined | false,
  what: string,
  state: () => unknown = () => undefined,
): Promise<T> {
  for (let tries = 0; tries < 200 && !check(); tries++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const value = check();
  if (!value) throw new Error(`waiting for ${what}; so far ${JSON.stringify(state())}`);
  return value;
}

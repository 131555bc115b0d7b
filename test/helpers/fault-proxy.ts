import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'reset';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  swallowed: boolean;
}

/**
 * A TCP proxy on loopback in front of a service, to make it unreachable on demand:
 * `pass` forwards, `blackhole` swallows every byte both ways (a half-open network: nothing is
 * refused, nothing answers), `reset` closes every connection with a TCP RST and refuses new
 * ones the same way. Leaving `blackhole` resets the connections it swallowed.
 */
export class FaultProxy {
  private mode: FaultMode = 'pass';
  private readonly pairs = new Set<Pair>();
  private readonly server: net.Server;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const proxy = new FaultProxy({ host: targetHost, port: targetPort });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  set(mode: FaultMode): void {
    this.mode = mode;
    for (const pair of [...this.pairs]) {
      if (mode === 'blackhole') pair.swallowed = true;
      else if (mode === 'reset' || pair.swallowed) this.reset(pair);
    }
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.reset(pair);
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, swallowed: this.mode === 'blackhole' };
    this.pairs.add(pair);
    client.on('data', (chunk) => {
      if (!pair.swallowed) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.swallowed) client.write(chunk);
    });
    const end = () => this.reset(pair);
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  }

  private reset(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (!pair.upstream.destroyed) pair.upstream.destroy();
  }
}

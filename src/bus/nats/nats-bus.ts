import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { BUS_RESYNC, type Bus, type BusHandler } from '../../core/ports.js';
import { LocalBus } from '../local/local-bus.js';

export interface NatsBusOptions {
  /** nats://host:port, or several, comma-separated. */
  url: string;
  /** Every subject is `<prefix>.<subject>`: one prefix per cluster, so clusters never mix. */
  prefix?: string;
  /** The node's name, as NATS shows the connection. */
  name?: string;
  /** Connection changes (disconnect, reconnect, slow consumer...), for the log. */
  onEvent?: (event: string, detail?: unknown) => void;
  /** The connection closed for good without close() being called: the node cannot route. */
  onFatal?: (error: Error | undefined) => void;
}

const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The Bus over NATS core, for many nodes. Handlers on this node are called directly, as on the
 * LocalBus; every publish also goes to NATS for the other nodes (the connection has `noEcho`,
 * so this node never gets its own back). A subject has one NATS subscription per node, made
 * with the first handler and dropped with the last.
 *
 * NATS is never the record: while it is down, publishes to other nodes are dropped rather than
 * buffered, and once it is back every handler gets BUS_RESYNC, so inbox streams read from the
 * store what they missed.
 */
export class NatsBus implements Bus {
  private readonly local = new LocalBus();
  private readonly remote = new Map<string, Subscription>();
  private readonly prefix: string;
  private connected = true;
  private closing = false;
  /** Subjects newly subscribed this turn: they get BUS_RESYNC once NATS has the subscription. */
  private fresh: string[] = [];
  /** Publishes dropped while disconnected. */
  dropped = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsBusOptions,
  ) {
    this.prefix = options.prefix ?? 'mensageiro';
    void this.watchStatus();
    void nc.closed().then((error) => {
      if (!this.closing) options.onFatal?.(error ?? undefined);
    });
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const prefix = options.prefix ?? 'mensageiro';
    if (!PREFIX.test(prefix))
      throw new Error(`a bus prefix is dot-separated words of A-Z a-z 0-9 _ -, got ${prefix}`);
    const url = new URL(options.url.split(',')[0]!);
    const fromUrl = url.searchParams.get('prefix');
    const nc = await connect({
      servers: options.url.split(',').map((server) => server.replace(/\?.*$/, '')),
      name: options.name ?? 'mensageiro',
      noEcho: true,
      // The default (10) closes the connection for good after a few seconds of outage.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
      maxPingOut: 2,
    });
    return new NatsBus(nc, { ...options, prefix: options.prefix ?? fromUrl ?? prefix });
  }

  /** False while NATS is out of reach (the node is not ready for new clients then). */
  get isConnected(): boolean {
    return this.connected && !this.closing;
  }

  publish(subject: string, payload: unknown): void {
    this.local.publish(subject, payload);
    if (!this.connected || this.closing) {
      this.dropped++;
      return;
    }
    this.nc.publish(`${this.prefix}.${subject}`, JSON.stringify(payload));
  }

  subscribe(subject: string, handler: BusHandler): void {
    this.local.subscribe(subject, handler);
    if (this.remote.has(subject) || this.closing) return;
    const full = `${this.prefix}.${subject}`;
    const subscription = this.nc.subscribe(full, {
      callback: (error, message) => {
        if (error) {
          this.options.onEvent?.('subscription_error', error.message);
          return;
        }
        let payload: unknown;
        try {
          payload = message.json();
        } catch {
          this.options.onEvent?.('bad_payload', full);
          return;
        }
        this.local.publish(subject, payload);
      },
    });
    this.remote.set(subject, subscription);
    if (this.fresh.length === 0) setImmediate(() => this.resyncFresh());
    this.fresh.push(subject);
  }

  unsubscribe(subject: string, handler: BusHandler): void {
    this.local.unsubscribe(subject, handler);
    if (this.local.has(subject)) return;
    this.remote.get(subject)?.unsubscribe();
    this.remote.delete(subject);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.nc.close();
    await this.local.close();
    this.remote.clear();
  }

  /**
   * A publish from another node that reached NATS before this node's SUB did was not routed
   * here: once a round trip shows NATS has the subscriptions, their handlers catch up.
   */
  private resyncFresh(): void {
    const subjects = this.fresh;
    this.fresh = [];
    this.nc.flush().then(
      () => this.resync(subjects),
      // Not connected: the reconnect resyncs every subject.
      () => {},
    );
  }

  private resync(subjects: Iterable<string>): void {
    for (const subject of [...subjects]) {
      if (this.remote.has(subject)) this.local.publish(subject, BUS_RESYNC);
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'ping') continue;
      const detail =
        'server' in status ? status.server : 'error' in status ? status.error.message : undefined;
      this.options.onEvent?.(status.type, detail);
      if (status.type === 'disconnect') this.connected = false;
      if (status.type === 'reconnect') {
        this.connected = true;
        // The client sent its subscriptions again on reconnecting; once NATS has them, every
        // handler here catches up on what was published while the node was cut off.
        await this.nc.flush().catch(() => {});
        this.resync(this.remote.keys());
      }
    }
  }
}

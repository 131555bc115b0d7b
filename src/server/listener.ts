import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { MensageiroError } from '../core/errors.js';
import type { ServerConfig } from './config.js';
import { Connection, type ConnectionOptions, type ConnectionOwner } from './connection.js';
import type { Dialect, DialectContext, Session } from './dialect.js';

/** Shared across every listener, so the limits hold for the server as a whole. */
export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly config: ServerConfig) {}

  /** Returns an error when the connection must be refused, or null after counting it. */
  admit(ip: string): MensageiroError | null {
    if (this.total >= this.config.maxConnections) {
      return new MensageiroError('too_many_connections', 'the server is full, try again later', true);
    }
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.config.maxConnectionsPerIp) {
      return new MensageiroError('too_many_connections', 'too many connections from your address', true);
    }
    this.total++;
    this.perIp.set(ip, fromIp + 1);
    return null;
  }

  release(ip: string): void {
    this.total--;
    const fromIp = (this.perIp.get(ip) ?? 1) - 1;
    if (fromIp <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, fromIp);
  }

  get count(): number {
    return this.total;
  }
}

const SWEEP_INTERVAL_MS = 250;

/** Listens, and resolves with the bound port (the one asked for, or the one port 0 got). */
export async function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/** What the sweep reads of a connection: a TCP Connection, or a browser's WebSocket link. */
export type SweptConnection = Pick<
  Connection,
  | 'id'
  | 'remoteAddress'
  | 'connectedAt'
  | 'lastActivity'
  | 'established'
  | 'blockedSince'
  | 'isClosed'
  | 'bufferedBytes'
  | 'writable'
  | 'destroy'
>;

export interface SweepLimits {
  handshake: number | null;
  idle: number | null;
  stall: number;
}

/** One timer for every connection of a port, instead of one per connection. */
export class ConnectionSweep {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connections: () => Iterable<SweptConnection>,
    private readonly limits: () => SweepLimits,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private sweep(): void {
    const now = Date.now();
    const { handshake, idle, stall } = this.limits();
    for (const connection of this.connections()) {
      if (connection.isClosed) continue;
      if (!connection.established && handshake !== null && now - connection.connectedAt > handshake) {
        this.log.info({ conn: connection.id, ip: connection.remoteAddress }, 'handshake timeout');
        connection.destroy();
      } else if (idle !== null && now - connection.lastActivity > idle) {
        this.log.info({ conn: connection.id, ip: connection.remoteAddress }, 'idle timeout');
        connection.destroy();
      } else if (
        connection.blockedSince !== null &&
        now - connection.blockedSince > stall &&
        !connection.writable()
      ) {
        // It stopped reading: drop it; it resumes from the store when it comes back.
        this.log.warn(
          { conn: connection.id, ip: connection.remoteAddress, buffered: connection.bufferedBytes },
          'slow consumer disconnected',
        );
        connection.destroy();
      }
    }
  }
}

/** One TCP port speaking one dialect, with its connections' lifecycle and timeouts. */
export class DialectListener implements ConnectionOwner {
  private readonly server: net.Server;
  private readonly sessions = new Map<Connection, Session>();
  private readonly connectionOptions: ConnectionOptions;
  private readonly sweep: ConnectionSweep;
  private readonly log: Logger;

  constructor(
    readonly dialect: Dialect,
    private readonly context: DialectContext,
    private readonly limits: ConnectionLimits,
    /** With a certificate and key, the port speaks TLS; the session sees a plain stream. */
    secure?: tls.TlsOptions,
  ) {
    this.log = context.log.child({ dialect: dialect.name, ...(secure ? { tls: true } : {}) });
    this.sweep = new ConnectionSweep(
      () => this.sessions.keys(),
      () => ({
        handshake: dialect.handshakeTimeoutMs(context.config),
        idle: dialect.idleTimeoutMs(context.config),
        stall: context.config.writeStallTimeout,
      }),
      this.log,
    );
    this.connectionOptions = { maxWriteBuffer: context.config.maxWriteBuffer, highWaterMark: 256 * 1024 };
    this.server = secure
      ? tls.createServer({ ...secure, noDelay: true }, (socket) => this.accept(socket))
      : net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    if (secure) {
      this.server.on('tlsClientError', (error, socket) => {
        this.log.info({ ip: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
      });
    }
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await listenOn(this.server, port, host);
    this.sweep.start();
    return bound;
  }

  /** Stops accepting, then closes every connection. */
  async close(): Promise<void> {
    this.sweep.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.sessions.keys()) connection.close();
    await closed;
  }

  private accept(socket: net.Socket): void {
    const connection = new Connection(socket, this.connectionOptions, this.log, this);
    const refusal = this.limits.admit(connection.remoteAddress);
    if (refusal) {
      this.log.warn({ ip: connection.remoteAddress, reason: refusal.message }, 'connection refused');
      if (this.dialect.refuse) this.dialect.refuse(connection, refusal);
      connection.close();
      return;
    }
    this.sessions.set(connection, this.dialect.createSession(connection, this.context));
  }

  onData(connection: Connection, chunk: Buffer): void {
    const session = this.sessions.get(connection);
    if (session === undefined) return;
    connection.lastActivity = Date.now();
    try {
      session.onData(chunk);
    } catch (error) {
      this.log.error({ conn: connection.id, err: error }, 'session failed; closing its connection');
      connection.destroy();
    }
  }

  onError(connection: Connection, error: Error): void {
    this.log.debug({ conn: connection.id, err: error.message }, 'socket error');
  }

  onClose(connection: Connection): void {
    const session = this.sessions.get(connection);
    // A refused connection has no session, and was never counted against the limits.
    if (session === undefined) return;
    this.sessions.delete(connection);
    this.limits.release(connection.remoteAddress);
    try {
      session.onClose();
    } catch (error) {
      this.log.error({ conn: connection.id, err: error }, 'session cleanup failed');
    }
  }
}

import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { MensageiroError } from '../core/errors.js';
import type { ServerConfig } from './config.js';
import { Connection, type ConnectionOptions, type ConnectionOwner } from './connection.js';
import type { Dialect, DialectContext, Session } from './dialect.js';

/** Files the server keeps besides its connections: the store, listeners, logs, Node's own. */
const RESERVED_FILES = 128;
/** One warning per window for refusals, with how many were left unlogged before it. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** The soft open-file limit (Node raises it to the hard one at start), or null where /proc has none. */
export function openFileLimit(limits = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = fs.readFileSync(limits, 'utf8');
  } catch {
    return null;
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
  return soft === undefined ? null : Number(soft);
}

/** A connection slot a listener can free when the server is full: its longest-idle one. */
export interface Evictable {
  evictIdlest(): boolean;
}

/** Shared across every listener, so the limits hold for the server as a whole. */
export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  /** The configured total, lowered to fit under the open-file limit. */
  readonly max: number;
  private readonly evictable: Evictable[] = [];
  private refusalsUnlogged = 0;
  private refusalLogUntil = 0;

  constructor(
    private readonly config: ServerConfig,
    private readonly log: Logger,
    files = openFileLimit(),
  ) {
    const fit = files === null ? Infinity : Math.max(1, files - RESERVED_FILES);
    this.max = Math.min(config.maxConnections, fit);
    const fields = { maxConnections: this.max, perIp: config.maxConnectionsPerIp, openFiles: files };
    if (this.max < config.maxConnections) {
      log.warn(
        { ...fields, configured: config.maxConnections },
        'connection limit lowered to fit the open-file limit (raise the hard limit, ulimit -Hn, for more)',
      );
    } else log.info(fields, 'connection limits');
  }

  /** Listeners whose idle connections may give their slot up when the server is full. */
  addEvictable(listener: Evictable): void {
    this.evictable.push(listener);
  }

  /** Returns an error when the connection must be refused, or null after counting it. */
  admit(ip: string): MensageiroError | null {
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.config.maxConnectionsPerIp) {
      return this.refused(ip, 'too many connections from your address');
    }
    if (this.total >= this.max && !this.evictable.some((listener) => listener.evictIdlest())) {
      return this.refused(ip, 'the server is full, try again later');
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

  /** Logged, but at most once a window: a flood of refusals must not become a flood of logs. */
  problem(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now < this.refusalLogUntil) {
      this.refusalsUnlogged++;
      return;
    }
    this.log.warn({ ...fields, unloggedBefore: this.refusalsUnlogged }, message);
    this.refusalsUnlogged = 0;
    this.refusalLogUntil = now + REFUSAL_LOG_WINDOW_MS;
  }

  private refused(ip: string, reason: string): MensageiroError {
    this.problem({ ip, reason, connections: this.total }, 'connection refused');
    return new MensageiroError('too_many_connections', reason, true);
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
export class DialectListener implements ConnectionOwner, Evictable {
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
    this.connectionOptions = {
      maxWriteBuffer: context.config.maxWriteBuffer,
      highWaterMark: 256 * 1024,
      // At least one frame of the largest size, so any frame can be taken in.
      maxHeld: Math.max(1024 * 1024, context.config.maxFrame),
    };
    this.server = secure
      ? tls.createServer({ ...secure, noDelay: true }, (socket) => this.accept(socket))
      : net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    // Out of file descriptors, accept fails; libuv closes the pending connection. Say so.
    this.server.on('error', (error) =>
      limits.problem({ dialect: dialect.name, err: error.message }, 'accept failed'),
    );
    if (dialect.evictIdleWhenFull) limits.addEvictable(this);
    if (secure) {
      this.server.on('tlsClientError', (error, socket) => {
        this.log.info({ ip: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
      });
    }
  }

  get isListening(): boolean {
    return this.server.listening;
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
      if (this.dialect.refuse) this.dialect.refuse(connection, refusal);
      connection.close();
      return;
    }
    this.sessions.set(connection, this.dialect.createSession(connection, this.context));
  }

  /** Closes the connection that has been idle longest, to give its slot to a newcomer. */
  evictIdlest(): boolean {
    let idlest: Connection | null = null;
    for (const connection of this.sessions.keys()) {
      if (!connection.isClosed && (idlest === null || connection.lastActivity < idlest.lastActivity))
        idlest = connection;
    }
    if (idlest === null) return false;
    this.limits.problem(
      { dialect: this.dialect.name, ip: idlest.remoteAddress, idleMs: Date.now() - idlest.lastActivity },
      'server full: the longest-idle connection closed for a newcomer',
    );
    idlest.destroy();
    return true;
  }

  onData(connection: Connection, chunk: Buffer): void {
    const session = this.sessions.get(connection);
    if (session === undefined) return;
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
    this.log.info(
      {
        conn: connection.id,
        ip: connection.remoteAddress,
        reason: connection.isClosed ? 'closed by the server' : 'closed by the client',
        seconds: Math.round((Date.now() - connection.connectedAt) / 1000),
      },
      'disconnected',
    );
    try {
      session.onClose();
    } catch (error) {
      this.log.error({ conn: connection.id, err: error }, 'session cleanup failed');
    }
  }
}

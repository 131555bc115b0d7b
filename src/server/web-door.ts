import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { MensageiroError, isMensageiroError } from '../core/errors.js';
import { parseNativeObject } from '../dialects/native/codec.js';
import { NativeSession, type NativeFramer, type NativeLink } from '../dialects/native/session.js';
import { plainAddress } from './connection.js';
import type { DialectContext } from './dialect.js';
import { ConnectionSweep, listenOn, type ConnectionLimits } from './listener.js';
import { defaultAppDir, loadApp, serveApp } from './web-static.js';

const HIGH_WATER_MARK = 256 * 1024;
let nextLinkId = 1;

/**
 * One browser's socket as the native session sees it: one JSON text message per object, the
 * writes of one event-loop turn corked into one socket write, and the same bounded buffer as a
 * TCP connection (past it the browser is dropped and resumes from the store).
 */
class WebLink implements NativeLink, NativeFramer {
  readonly id = nextLinkId++;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  lastActivity = Date.now();
  established = false;
  blockedSince: number | null = null;
  private closed = false;
  private corked = false;
  private drainWaiters: Array<() => void> | null = null;
  /** Sends begun and finished (the kernel took their bytes), for whenWritten. */
  private writesStarted = 0;
  private writesDone = 0;
  private writtenWaiters: Array<{ write: number; callback: () => void }> | null = null;
  private held = 0;
  private readingPaused = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: net.Socket,
    private readonly maxWriteBuffer: number,
    private readonly maxHeld: number,
    readonly log: Logger,
  ) {
    this.remoteAddress = plainAddress(socket.remoteAddress);
    socket.on('drain', () => this.notifyDrain());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  writeJson(json: string): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.writesStarted++;
    this.ws.send(json, this.sent);
    if (this.ws.bufferedAmount > this.maxWriteBuffer) {
      this.log.warn({ conn: this.id, buffered: this.ws.bufferedAmount }, 'slow consumer disconnected');
      this.destroy();
    }
  }

  private readonly sent = (error?: Error | null): void => {
    if (error) return;
    this.writesDone++;
    const waiters = this.writtenWaiters;
    while (waiters !== null && waiters.length > 0 && waiters[0]!.write <= this.writesDone) {
      waiters.shift()!.callback();
    }
  };

  /** Calls back once the kernel has taken every message sent so far; never, if the socket drops first. */
  whenWritten(callback: () => void): void {
    if (this.closed) return;
    if (this.writesStarted <= this.writesDone) callback();
    else (this.writtenWaiters ??= []).push({ write: this.writesStarted, callback });
  }

  /** As on TCP: past the bound on requests taken in and not yet done, the socket is not read. */
  hold(bytes: number): void {
    this.held += bytes;
    if (this.held > this.maxHeld && !this.readingPaused) {
      this.readingPaused = true;
      this.ws.pause();
    }
  }

  release(bytes: number): void {
    this.held -= bytes;
    if (this.readingPaused && this.held <= this.maxHeld / 2) {
      this.readingPaused = false;
      if (!this.closed) this.ws.resume();
    }
  }

  /** permessage-deflate would be the WebSocket's way; the door does not offer it. */
  compress(): void {}

  writable(): boolean {
    const writable = !this.closed && this.ws.bufferedAmount < HIGH_WATER_MARK;
    if (writable) this.blockedSince = null;
    else if (this.blockedSince === null) this.blockedSince = Date.now();
    return writable;
  }

  onDrain(callback: () => void): void {
    if (this.closed) return;
    if (this.writable()) callback();
    else (this.drainWaiters ??= []).push(callback);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writtenWaiters = null;
    this.ws.close(1000);
    // A peer that never answers the close would hold the socket forever.
    setTimeout(() => this.ws.terminate(), 2000).unref();
    this.drainWaiters = null;
  }

  destroy(): void {
    this.closed = true;
    this.writtenWaiters = null;
    this.drainWaiters = null;
    this.ws.terminate();
  }

  private notifyDrain(): void {
    if (this.closed || !this.writable()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = null;
    for (const resolve of waiters ?? []) resolve();
  }
}

/**
 * The web door (PROTOCOLS.md, "web"): one HTTP(S) server that serves the app and upgrades `/ws`
 * to a WebSocket carrying native objects to and from a NativeSession. Every TCP connection to it,
 * page load or socket, counts against the server's connection limits.
 */
export class WebDoor {
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly links = new Map<WebLink, NativeSession>();
  private readonly app: ReturnType<typeof loadApp>;
  private readonly log: Logger;
  private readonly allowedOrigins: Set<string> | 'any';
  private readonly sweep: ConnectionSweep;

  constructor(
    private readonly context: DialectContext,
    private readonly limits: ConnectionLimits,
    secure?: tls.SecureContextOptions,
    appDir = defaultAppDir(),
  ) {
    const { config } = context;
    this.log = context.log.child({ dialect: 'web', ...(secure ? { tls: true } : {}) });
    // Handshake timeouts and stuck readers; a browser may sit idle as long as it likes.
    this.sweep = new ConnectionSweep(
      () => this.links.keys(),
      () => ({ handshake: config.handshakeTimeout, idle: null, stall: config.writeStallTimeout }),
      this.log,
    );
    this.app = loadApp(appDir);
    if (this.app.size === 0) this.log.warn({ dir: appDir }, 'the web app is not built; serving only /ws');
    const origins = (config.webOrigin ?? '').split(',').map((origin) => origin.trim());
    this.allowedOrigins = origins.includes('*') ? 'any' : new Set(origins.filter(Boolean));
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) =>
      serveApp(this.app, request, response);
    this.server = secure ? https.createServer(secure, handler) : http.createServer(handler);
    this.server.headersTimeout = config.handshakeTimeout;
    this.server.requestTimeout = config.handshakeTimeout;
    this.server.on('connection', (socket: net.Socket) => this.admit(socket));
    this.server.on('clientError', (error: Error, socket: net.Socket) => {
      this.log.debug({ ip: socket.remoteAddress, err: error.message }, 'bad HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    this.server.on('upgrade', (request, socket, head) => this.upgrade(request, socket as net.Socket, head));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxFrame,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  get isListening(): boolean {
    return this.server.listening;
  }

  get connectionCount(): number {
    return this.links.size;
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await listenOn(this.server, port, host);
    this.sweep.start();
    return bound;
  }

  async close(): Promise<void> {
    this.sweep.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of this.links.keys()) link.close();
    this.server.closeIdleConnections();
    await closed;
  }

  private admit(socket: net.Socket): void {
    const ip = plainAddress(socket.remoteAddress);
    const refusal = this.limits.admit(ip);
    if (refusal) {
      // The limits log refusals themselves, a few per window.
      socket.destroy();
      return;
    }
    socket.once('close', () => this.limits.release(ip));
  }

  private upgrade(request: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const refuse = (status: string, why: string) => {
      this.log.info(
        { ip: plainAddress(socket.remoteAddress), origin: request.headers.origin, why },
        'upgrade refused',
      );
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
    };
    if ((request.url ?? '').split('?')[0] !== '/ws') return refuse('404 Not Found', 'the socket is at /ws');
    if (!this.originAllowed(request)) return refuse('403 Forbidden', 'origin not allowed');
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket));
  }

  /**
   * Same origin by default, or one listed in --web-origin. A request with no Origin is not a
   * browser's, so no other site can be riding on a user's cookies; programs may connect.
   */
  private originAllowed(request: http.IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined || this.allowedOrigins === 'any' || this.allowedOrigins.has(origin)) return true;
    try {
      const url = new URL(origin);
      const scheme = this.server instanceof https.Server ? 'https:' : 'http:';
      return url.protocol === scheme && url.host === request.headers.host;
    } catch {
      return false;
    }
  }

  private accept(ws: WebSocket, socket: net.Socket): void {
    const { maxWriteBuffer, maxFrame } = this.context.config;
    // The TCP listeners' bound: at least one frame of the largest size can be taken in.
    const link = new WebLink(ws, socket, maxWriteBuffer, Math.max(1024 * 1024, maxFrame), this.log);
    const session = new NativeSession(link, this.context, link);
    this.links.set(link, session);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      link.lastActivity = Date.now();
      if (isBinary) {
        session.receiveError(new MensageiroError('bad_frame', 'send each native object as one text message'));
        return;
      }
      let message;
      try {
        message = parseNativeObject((data as Buffer).toString('utf8'));
      } catch (error) {
        if (!isMensageiroError(error)) throw error;
        session.receiveError(error);
        return;
      }
      session.receive(message);
    });
    // ws closes the socket itself on a protocol error (an oversized message: 1009).
    ws.on('error', (error) => this.log.info({ conn: link.id, err: error.message }, 'socket error'));
    ws.on('close', () => {
      if (!this.links.delete(link)) return;
      try {
        session.onClose();
      } catch (error) {
        this.log.error({ conn: link.id, err: error }, 'session cleanup failed');
      }
    });
  }
}

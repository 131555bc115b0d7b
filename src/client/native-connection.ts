import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MensageiroError } from '../core/errors.js';
import { NativeDecoder, encodeNative, type NativeObject } from '../dialects/native/codec.js';
import type { ClientEvents, ClientOptions } from './client-types.js';
import { RequestTable } from './requests.js';
import { ServerRotation } from './server-rotation.js';
import { parseServers, type ServerAddress } from './servers.js';

/** Sign-in answers that no retry can fix. */
const SIGN_IN_FINAL: ReadonlySet<string> = new Set([
  'auth_failed',
  'auth_required',
  'username_taken',
  'bad_request',
  'unknown_account',
  'conflict',
]);

/**
 * One signed-in native connection that stays up: it signs in (or registers), fails over through
 * the server list, resumes from the last seq, and acks once per turn after the handlers ran. The
 * Client on top of it is the API; this part is the connection's life.
 */
export abstract class NativeConnection extends EventEmitter<ClientEvents> {
  id: number | null = null;
  username: string | null = null;
  token: string | null = null;
  displayName: string | null = null;
  /** This device's number within the account; 0 for an account without devices. */
  device = 0;
  lastSeq: number;
  protected readonly requests = new RequestTable<NativeObject>();
  private readonly rotation: ServerRotation;
  private socket: net.Socket | null = null;
  private decoder = new NativeDecoder();
  private closedByUser = false;
  protected online = false;
  private everOnline = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private ackTimer: NodeJS.Immediate | null = null;
  private acked: number;
  private firstConnect: { resolve: () => void; reject: (error: MensageiroError) => void } | null = null;
  /** Why the current connection failed, when it did before closing. */
  private failure: { reason: string; foreign: boolean } | null = null;
  private tcpUp = false;
  private answered = false;
  private signInWith: { username?: string; secret?: string } | null = null;

  constructor(protected readonly options: ClientOptions) {
    super();
    const servers =
      typeof options.servers === 'string'
        ? parseServers(options.servers, options.port ?? 7333, options.host)
        : (options.servers ?? [{ host: options.host ?? '127.0.0.1', port: options.port ?? 7333 }]);
    this.rotation = new ServerRotation(
      servers,
      options.minReconnectDelayMs ?? 200,
      options.maxReconnectDelayMs ?? 5000,
    );
    this.lastSeq = options.resumeFrom ?? 0;
    this.acked = this.lastSeq;
    if (options.identity?.id !== undefined) this.id = options.identity.id;
    if (options.identity?.token !== undefined) this.token = options.identity.token;
  }

  /** The server this client is on, or tries next. */
  get server(): ServerAddress {
    return this.rotation.current;
  }

  /** The servers this client fails over through, in order. */
  get servers(): ServerAddress[] {
    return this.rotation.servers;
  }

  get connected(): boolean {
    return this.online;
  }

  /** Connects and signs in (or registers); with reconnect on, keeps trying until it works. */
  connect(): Promise<void> {
    this.closedByUser = false;
    return new Promise((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.flushAck();
    if (this.socket) {
      this.socket.end(encodeNative({ type: 'out' }));
      this.socket.destroySoon();
    }
    this.online = false;
  }

  private open(): void {
    const { host, port } = this.server;
    const tlsOptions = this.options.tls;
    const socket = tlsOptions
      ? tls.connect({ host, port, servername: host, ...(typeof tlsOptions === 'object' ? tlsOptions : {}) })
      : net.connect({ host, port });
    this.socket = socket;
    this.decoder = new NativeDecoder();
    this.failure = null;
    this.tcpUp = false;
    this.answered = false;
    const seconds = (this.options.handshakeTimeoutMs ?? 5000) / 1000;
    this.handshakeTimer = setTimeout(() => {
      this.failure = this.tcpUp
        ? {
            reason: `no answer to the sign-in within ${seconds} s`,
            foreign: !this.answered && !this.everOnline,
          }
        : { reason: `no connection within ${seconds} s`, foreign: false };
      socket.destroy();
    }, this.options.handshakeTimeoutMs ?? 5000);
    socket.setNoDelay(true);
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      this.tcpUp = true;
      this.signIn();
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.onData(chunk);
    });
    socket.on('error', (error) => (this.failure ??= { reason: error.message, foreign: false }));
    socket.once('close', () => this.onClose(socket));
  }

  private signIn(): void {
    const identity = this.options.identity ?? {};
    // Without a position of its own, the device starts where the server keeps its cursor.
    const common = { acks: true, ...(this.lastSeq > 0 ? { resume: this.lastSeq } : {}) };
    const newDevice = { device_name: this.options.deviceName };
    if (this.token) this.writeRaw({ type: 'login', token: this.token, ...common });
    else if (this.signInWith) this.writeRaw({ type: 'login', ...this.signInWith, ...newDevice, ...common });
    else if (this.id !== null || identity.username !== undefined) {
      this.writeRaw({
        type: 'login',
        id: this.id ?? undefined,
        username: identity.username,
        secret: identity.secret,
        device: identity.device,
        ...newDevice,
        ...common,
      });
    } else {
      const { username, secret } = this.options.register ?? {};
      this.writeRaw({ type: 'register', username, secret, ...newDevice, acks: true });
    }
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    const wasOnline = this.online;
    this.online = false;
    this.socket = null;
    this.requests.failAll(new MensageiroError('timeout', 'connection lost'));
    if (wasOnline) this.emit('disconnected', { reason: this.failure?.reason ?? 'connection closed' });
    if (this.closedByUser) return;
    if (!wasOnline && this.tcpUp && !this.answered && !this.everOnline && !this.failure)
      this.failure = { reason: 'it closed the connection without a native answer', foreign: true };
    const reason = this.failure?.reason ?? 'connection closed';
    const failed = this.server;
    const next = this.rotation.failed(
      reason,
      this.failure?.foreign ?? false,
      this.options.reconnect === false,
    );
    if (!next) return this.giveUp();
    this.emit('retrying', { server: failed, reason, next: next.next, delayMs: next.delayMs });
    this.reconnectTimer = setTimeout(() => this.open(), next.delayMs);
  }

  /** Every server failed (or spoke another protocol): says why, per server, and stops. */
  private giveUp(): void {
    this.closedByUser = true;
    const error = this.rotation.whyNone();
    if (this.firstConnect) {
      this.firstConnect.reject(error);
      this.firstConnect = null;
    } else this.emitError(error);
    this.abandon(error);
  }

  private onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      if (!result.ok) {
        if (!this.answered) {
          // The first bytes are not a native frame: another protocol is on this port.
          this.failure = { reason: 'its answer is not a native frame', foreign: true };
          this.socket?.destroy();
          return;
        }
        this.emitError(result.error);
        continue;
      }
      this.answered = true;
      this.dispatch(result.message);
    }
  }

  /** An 'error' event with no listener would throw; the SDK never crashes its host for that. */
  protected emitError(error: MensageiroError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  protected onWelcome(frame: NativeObject): void {
    this.id = frame.id as number;
    this.username = (frame.username as string | null) ?? null;
    this.displayName = (frame.display_name as string | null) ?? null;
    this.device = typeof frame.device === 'number' ? frame.device : 0;
    if (typeof frame.token === 'string') this.token = frame.token;
    if (this.lastSeq === 0 && typeof frame.resume === 'number') this.lastSeq = this.acked = frame.resume;
    this.online = true;
    this.everOnline = true;
    this.rotation.succeeded();
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    const { id, username, displayName, token, device, server } = this;
    this.emit('connected', { id, username, displayName, token, device, server });
    this.firstConnect?.resolve();
    this.firstConnect = null;
    this.afterSignIn();
  }

  /** The server refused the sign-in or the registration. */
  protected onSignInError(error: MensageiroError): void {
    const register = this.options.register;
    if (error.code === 'username_taken' && register?.orSignIn && !this.signInWith) {
      // The name exists: this is another device of that account, so sign in to it.
      this.signInWith = { username: register.username, secret: register.secret };
      this.signIn();
      return;
    }
    if (!SIGN_IN_FINAL.has(error.code)) {
      // Busy, rate-limited or shutting down: this server failed; the next attempt may work.
      this.failure = { reason: error.message, foreign: false };
      this.socket?.destroy();
      return;
    }
    // Wrong credentials or a bad name do not get better with retries.
    this.closedByUser = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.firstConnect) this.firstConnect.reject(error);
    else this.emitError(error);
    this.firstConnect = null;
    this.socket?.destroy();
  }

  /** Sends a request with a fresh `cid` and resolves with the answer that carries it back. */
  protected request(frame: NativeObject): Promise<NativeObject> {
    if (!this.online) return Promise.reject(new MensageiroError('timeout', 'not connected'));
    const cid = crypto.randomUUID();
    const answer = this.requests.add(cid);
    this.write({ ...frame, cid });
    return answer;
  }

  /** Moves the position; false for an item at or before it (already seen: dropped). */
  protected advance(seq: unknown): boolean {
    if (typeof seq !== 'number') return true;
    if (seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    return true;
  }

  /** Acks after the handlers ran, once per turn for everything received in it. */
  protected scheduleAck(): void {
    if (this.lastSeq > this.acked) this.ackTimer ??= setImmediate(() => this.flushAck());
  }

  protected flushAck(): void {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = null;
    if (this.lastSeq > this.acked && this.online) {
      this.acked = this.lastSeq;
      this.write({ type: 'ack', seq: this.lastSeq });
    }
  }

  protected write(frame: NativeObject): void {
    if (this.online) this.writeRaw(frame);
  }

  protected writeRaw(frame: NativeObject): void {
    this.socket?.write(encodeNative(frame));
  }
  /** A frame from the server, once signed-in framing is known to be native. */
  protected abstract dispatch(frame: NativeObject): void;

  /** After every sign-in: what must be sent again (outbox, subscriptions). */
  protected abstract afterSignIn(): void;

  /** The client gave up for good: pending work fails with `error`. */
  protected abstract abandon(error: MensageiroError): void;
}

import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MensageiroError, type ErrorCode } from '../core/errors.js';
import { NativeDecoder, encodeNative, type NativeObject } from '../dialects/native/codec.js';
import type {
  ClientEvent,
  ClientEvents,
  ClientOptions,
  IncomingGroup,
  IncomingReceipt,
  SentAck,
} from './client-types.js';
import { RequestTable, eventsOf } from './requests.js';
import { parseServers, serverLabel, type ServerAddress } from './servers.js';

export type * from './client-types.js';
export type { ServerAddress } from './servers.js';

interface OutboxEntry {
  frame: NativeObject;
  resolve: (ack: SentAck) => void;
  reject: (error: MensageiroError) => void;
}

const EVENT_NAMES = [
  'connected',
  'disconnected',
  'retrying',
  'message',
  'receipt',
  'group',
  'presence',
  'lobby',
  'sent',
  'error',
] as const;

/** Sign-in answers that no retry can fix. */
const SIGN_IN_FINAL: ReadonlySet<string> = new Set([
  'auth_failed',
  'auth_required',
  'username_taken',
  'bad_request',
  'unknown_account',
  'conflict',
]);

/** Errors that no resend can fix: the message is dropped from the outbox and the caller told. */
const FINAL: ReadonlySet<string> = new Set([
  'unknown_recipient',
  'bad_request',
  'spoofed_sender',
  'too_large',
]);

/**
 * The native-protocol SDK. Sends carry client ids and stay in an outbox until the server's
 * durable ack, so a resend after a reconnect is safe: the server recognises it. Received items
 * are acked after the application's handlers ran, and reconnects resume from the last seq.
 */
export class Client extends EventEmitter<ClientEvents> {
  id: number | null = null;
  username: string | null = null;
  token: string | null = null;
  lastSeq: number;
  /** The servers this client fails over through, in order. */
  readonly servers: ServerAddress[];
  private current = 0;
  private socket: net.Socket | null = null;
  private decoder = new NativeDecoder();
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly requests = new RequestTable<NativeObject>();
  private closedByUser = false;
  private online = false;
  private everOnline = false;
  /** Failed attempts since the last sign-in; a whole round of the list fails before backing off. */
  private failures = 0;
  private readonly failedThisRound = new Map<number, string>();
  /** Servers that answered in another protocol: never tried again. */
  private readonly foreign = new Map<number, string>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private ackTimer: NodeJS.Immediate | null = null;
  private acked: number;
  private firstConnect: { resolve: () => void; reject: (error: MensageiroError) => void } | null = null;
  private lobbyJoined = false;
  /** Why the current connection failed, when it did before closing. */
  private failure: { reason: string; foreign: boolean } | null = null;
  private tcpUp = false;
  private answered = false;
  private signInWith: { username?: string; secret?: string } | null = null;
  private watched = new Set<number>();

  constructor(private readonly options: ClientOptions) {
    super();
    this.servers =
      typeof options.servers === 'string'
        ? parseServers(options.servers, options.port ?? 7333, options.host)
        : (options.servers ?? [{ host: options.host ?? '127.0.0.1', port: options.port ?? 7333 }]);
    if (this.servers.length === 0) throw new MensageiroError('bad_request', 'no server given');
    this.lastSeq = options.resumeFrom ?? 0;
    this.acked = this.lastSeq;
    if (options.identity?.id !== undefined) this.id = options.identity.id;
    if (options.identity?.token !== undefined) this.token = options.identity.token;
  }

  /** The server this client is on, or tries next. */
  get server(): ServerAddress {
    return this.servers[this.current]!;
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

  /** Sends `text` to a user or group (id or username). Resolves on the server's durable ack. */
  send(to: number | string, text: string, cid: string = crypto.randomUUID()): Promise<SentAck> {
    return new Promise((resolve, reject) => {
      const frame: NativeObject = { type: 'msg', to, text, cid, ts: Math.floor(Date.now() / 1000) };
      this.outbox.set(cid, { frame, resolve, reject });
      if (this.online) this.write(frame);
    });
  }

  /** Messages not yet acknowledged by the server, in the order they were sent. */
  get unacknowledged(): string[] {
    return [...this.outbox.keys()];
  }

  markRead(conv: number, mid: number): void {
    // What was read was received first: the delivered receipt should not trail the read one.
    this.flushAck();
    this.write({ type: 'read', conv, mid });
  }

  async createGroup(name: string, members: Array<number | string>): Promise<number> {
    const cid = crypto.randomUUID();
    const reply = await this.request('group.created', cid, { type: 'group', name, members, cid });
    return reply.gid as number;
  }

  async lookup(
    name: string | number,
  ): Promise<{ id: number; username: string | null; kind: 'user' | 'group' }> {
    const cid = crypto.randomUUID();
    const reply = await this.request('lookup', cid, { type: 'lookup', name, cid });
    return {
      id: reply.id as number,
      username: (reply.username as string | null) ?? null,
      kind: reply.kind as 'user' | 'group',
    };
  }

  /** Presence of these ids now, and 'presence' events when it changes. */
  who(ids: number[]): void {
    for (const id of ids) this.watched.add(id);
    this.write({ type: 'who', ids });
  }

  joinLobby(): void {
    this.lobbyJoined = true;
    this.write({ type: 'lobby.join' });
  }

  postLobby(text: string): void {
    this.write({ type: 'lobby', text });
  }

  /** Every event as an async iterator, for `for await` consumers. */
  events(signal?: AbortSignal): AsyncGenerator<ClientEvent> {
    // The typed overloads cannot express "any event"; the untyped view can.
    return eventsOf<ClientEvent>(this as unknown as EventEmitter, EVENT_NAMES, signal);
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
    const common = { acks: true, resume: this.lastSeq };
    if (this.token) this.writeRaw({ type: 'login', token: this.token, ...common });
    else if (this.signInWith) this.writeRaw({ type: 'login', ...this.signInWith, ...common });
    else if (this.id !== null || identity.username !== undefined) {
      this.writeRaw({
        type: 'login',
        id: this.id ?? undefined,
        username: identity.username,
        secret: identity.secret,
        ...common,
      });
    } else {
      const { username, secret } = this.options.register ?? {};
      this.writeRaw({ type: 'register', username, secret, acks: true });
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
    const failed = this.current;
    if (!wasOnline && this.tcpUp && !this.answered && !this.everOnline && !this.failure)
      this.failure = { reason: 'it closed the connection without a native answer', foreign: true };
    const reason = this.failure?.reason ?? 'connection closed';
    if (this.failure?.foreign) this.foreign.set(failed, `does not speak native (${reason})`);
    this.failedThisRound.set(failed, this.foreign.get(failed) ?? reason);
    const usable = this.servers.map((_, index) => index).filter((index) => !this.foreign.has(index));
    this.failures++;
    const roundOver = this.failures % Math.max(1, usable.length) === 0;
    if (usable.length === 0 || (this.options.reconnect === false && roundOver)) {
      this.giveUp();
      return;
    }
    this.current = usable.find((index) => index > failed) ?? usable[0]!;
    const min = this.options.minReconnectDelayMs ?? 200;
    const max = this.options.maxReconnectDelayMs ?? 5000;
    const round = this.failures / usable.length - 1;
    const delay = roundOver ? Math.min(max, min * 2 ** round) * (0.5 + Math.random() / 2) : 0;
    if (roundOver) this.failedThisRound.clear();
    this.emit('retrying', { server: this.servers[failed]!, reason, next: this.server, delayMs: delay });
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** Every server failed (or spoke another protocol): says why, per server, and stops. */
  private giveUp(): void {
    this.closedByUser = true;
    const reasons = [...this.failedThisRound].map(([index, why]) => {
      const label = serverLabel(this.servers[index]!);
      return why.startsWith('does not speak') ? `${label} ${why}` : `cannot reach ${label} (${why})`;
    });
    const foreignOnly = this.foreign.size === this.servers.length;
    const error = new MensageiroError(foreignOnly ? 'bad_frame' : 'timeout', reasons.join('; '));
    if (this.firstConnect) {
      this.firstConnect.reject(error);
      this.firstConnect = null;
    } else this.emitError(error);
    for (const entry of this.outbox.values()) entry.reject(error);
    this.outbox.clear();
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
  private emitError(error: MensageiroError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private dispatch(frame: NativeObject): void {
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame);
      case 'msg':
        if (!this.advance(frame.seq)) return;
        this.emit('message', {
          mid: frame.mid as number,
          seq: frame.seq as number,
          from: frame.id as number,
          to: frame.to as number,
          text: frame.text as string,
          ts: frame.ts as number,
          at: frame.at as number,
        });
        return this.scheduleAck();
      case 'receipt':
        if (!this.advance(frame.seq)) return;
        this.emit('receipt', frame as unknown as IncomingReceipt);
        return this.scheduleAck();
      case 'group':
        if (!this.advance(frame.seq)) return;
        this.emit('group', frame as unknown as IncomingGroup);
        return this.scheduleAck();
      case 'sent': {
        const ack = frame as unknown as SentAck;
        ack.cid = String(frame.cid);
        const entry = this.outbox.get(ack.cid);
        this.outbox.delete(ack.cid);
        this.emit('sent', ack);
        entry?.resolve(ack);
        return;
      }
      case 'presence':
        this.emit('presence', { id: frame.id as number, online: frame.online === true });
        return;
      case 'lobby':
        this.emit('lobby', frame as unknown as ClientEvents['lobby'][0]);
        return;
      case 'group.created':
        return this.requests.settle('group.created', String(frame.cid), frame);
      case 'lookup':
        return this.requests.settle('lookup', String(frame.cid), frame);
      case 'error':
        return this.onError(frame);
    }
  }

  private onWelcome(frame: NativeObject): void {
    this.id = frame.id as number;
    this.username = (frame.username as string | null) ?? null;
    if (typeof frame.token === 'string') this.token = frame.token;
    this.online = true;
    this.everOnline = true;
    this.failures = 0;
    this.failedThisRound.clear();
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.emit('connected', { id: this.id, username: this.username, token: this.token, server: this.server });
    this.firstConnect?.resolve();
    this.firstConnect = null;
    // Everything not acknowledged goes again, in order; the server drops what it already has.
    for (const entry of this.outbox.values()) this.write(entry.frame);
    if (this.lobbyJoined) this.write({ type: 'lobby.join' });
    if (this.watched.size > 0) this.write({ type: 'who', ids: [...this.watched] });
  }

  private onError(frame: NativeObject): void {
    const error = new MensageiroError((frame.code as ErrorCode) ?? 'internal', String(frame.text ?? 'error'));
    if (frame.cid !== undefined) {
      const cid = String(frame.cid);
      const entry = this.outbox.get(cid);
      if (entry && FINAL.has(error.code)) {
        this.outbox.delete(cid);
        entry.reject(error);
        return;
      }
      for (const kind of ['group.created', 'lookup']) {
        if (this.requests.has(kind, cid)) return this.requests.fail(kind, cid, error);
      }
    }
    if (!this.online) return this.onSignInError(error);
    this.emitError(error);
  }

  /** The server refused the sign-in or the registration. */
  private onSignInError(error: MensageiroError): void {
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

  private request(kind: string, key: string, frame: NativeObject): Promise<NativeObject> {
    if (!this.online) return Promise.reject(new MensageiroError('timeout', 'not connected'));
    const answer = this.requests.add(kind, key);
    this.write(frame);
    return answer;
  }

  /** Moves the position; false for an item at or before it (already seen: dropped). */
  private advance(seq: unknown): boolean {
    if (typeof seq !== 'number') return true;
    if (seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    return true;
  }

  /** Acks after the handlers ran, once per turn for everything received in it. */
  private scheduleAck(): void {
    if (this.lastSeq > this.acked) this.ackTimer ??= setImmediate(() => this.flushAck());
  }

  private flushAck(): void {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = null;
    if (this.lastSeq > this.acked && this.online) {
      this.acked = this.lastSeq;
      this.write({ type: 'ack', seq: this.lastSeq });
    }
  }

  private write(frame: NativeObject): void {
    if (this.online) this.writeRaw(frame);
  }

  private writeRaw(frame: NativeObject): void {
    this.socket?.write(encodeNative(frame));
  }
}

import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MensageiroError, type ErrorCode } from '../core/errors.js';
import { NativeDecoder, encodeNative, type NativeObject } from '../dialects/native/codec.js';

export interface Identity {
  id?: number;
  username?: string;
  secret?: string;
  token?: string;
}

export interface ClientOptions {
  host: string;
  port: number;
  /** Who to sign in as; without it the client registers a new account on first connect. */
  identity?: Identity;
  /** For a new account: an optional username and secret. */
  register?: { username?: string; secret?: string };
  /** The last inbox seq the application has stored; the server resends everything after it. */
  resumeFrom?: number;
  /** Reconnect with backoff after a drop (default true). */
  reconnect?: boolean;
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Use TLS; `ca` pins the certificate authority (for a self-signed server). */
  tls?: boolean | { ca?: string | Buffer; servername?: string };
}

export interface IncomingMessage {
  mid: number;
  seq: number;
  from: number;
  /** You, or the group the message was sent to. */
  to: number;
  text: string;
  ts: number;
  at: number;
}

export interface IncomingReceipt {
  status: 'delivered' | 'read';
  by: number;
  conv: number;
  mid: number;
  ts: number;
  at: number;
  seq: number;
}

export interface IncomingGroup {
  gid: number;
  name: string;
  creator: number;
  members: number[];
  ts: number;
  at: number;
  seq: number;
}

export interface SentAck {
  cid: string;
  mid: number;
  to: number;
  at: number;
  ts: number;
  duplicate: boolean;
}

export interface ClientEvents {
  connected: [{ id: number; username: string | null; token: string | null }];
  disconnected: [{ reason: string }];
  message: [IncomingMessage];
  receipt: [IncomingReceipt];
  group: [IncomingGroup];
  presence: [{ id: number; online: boolean }];
  lobby: [{ author: string; id: number | null; text: string; at: number }];
  sent: [SentAck];
  error: [MensageiroError];
}

export type ClientEvent = {
  [K in keyof ClientEvents]: { type: K; data: ClientEvents[K][0] };
}[keyof ClientEvents];

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: MensageiroError) => void;
}

interface OutboxEntry extends Pending<SentAck> {
  frame: NativeObject;
}

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
  private socket: net.Socket | null = null;
  private decoder = new NativeDecoder();
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly waiting = new Map<string, Array<Pending<NativeObject>>>();
  private closedByUser = false;
  private online = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private ackTimer: NodeJS.Immediate | null = null;
  private acked: number;
  private firstConnect: Pending<void> | null = null;
  private lobbyJoined = false;
  private lastError: string | null = null;
  private watched = new Set<number>();

  constructor(private readonly options: ClientOptions) {
    super();
    this.lastSeq = options.resumeFrom ?? 0;
    this.acked = this.lastSeq;
    if (options.identity?.id !== undefined) this.id = options.identity.id;
    if (options.identity?.token !== undefined) this.token = options.identity.token;
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
  async *events(signal?: AbortSignal): AsyncGenerator<ClientEvent> {
    const names = [
      'connected',
      'disconnected',
      'message',
      'receipt',
      'group',
      'presence',
      'lobby',
      'sent',
      'error',
    ] as const;
    const queue: ClientEvent[] = [];
    let wake: (() => void) | null = null;
    // The typed overloads cannot express "any event"; the untyped view can.
    const emitter = this as unknown as EventEmitter;
    const handlers = names.map((type) => {
      const handler = (data: unknown) => {
        queue.push({ type, data } as ClientEvent);
        wake?.();
      };
      emitter.on(type, handler);
      return [type, handler] as const;
    });
    try {
      while (!signal?.aborted) {
        if (queue.length > 0) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        wake = null;
      }
    } finally {
      for (const [type, handler] of handlers) emitter.off(type, handler);
    }
  }

  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.flushAck();
    if (this.socket) {
      this.socket.end(encodeNative({ type: 'out' }));
      this.socket.destroySoon();
    }
    this.online = false;
  }

  private open(): void {
    const { host, port } = this.options;
    const tlsOptions = this.options.tls;
    const socket = tlsOptions
      ? tls.connect({ host, port, servername: host, ...(typeof tlsOptions === 'object' ? tlsOptions : {}) })
      : net.connect({ host, port });
    this.socket = socket;
    this.decoder = new NativeDecoder();
    socket.setNoDelay(true);
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => this.signIn());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => (this.lastError = error.message));
    socket.once('close', () => this.onClose(socket));
  }

  private signIn(): void {
    const identity = this.options.identity ?? {};
    const common = { acks: true, resume: this.lastSeq };
    if (this.token) this.writeRaw({ type: 'login', token: this.token, ...common });
    else if (this.id !== null || identity.username !== undefined) {
      this.writeRaw({
        type: 'login',
        id: this.id ?? undefined,
        username: identity.username,
        secret: identity.secret,
        ...common,
      });
    } else this.writeRaw({ type: 'register', ...this.options.register, acks: true });
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    const wasOnline = this.online;
    this.online = false;
    this.socket = null;
    for (const [, waiters] of this.waiting)
      for (const waiter of waiters) waiter.reject(new MensageiroError('timeout', 'connection lost'));
    this.waiting.clear();
    if (wasOnline) this.emit('disconnected', { reason: 'connection closed' });
    if (this.closedByUser) return;
    if (this.options.reconnect === false) {
      const why = this.lastError ? ` (${this.lastError})` : '';
      this.firstConnect?.reject(
        new MensageiroError('timeout', `cannot reach ${this.options.host}:${this.options.port}${why}`),
      );
      this.firstConnect = null;
      return;
    }
    const min = this.options.minReconnectDelayMs ?? 200;
    const max = this.options.maxReconnectDelayMs ?? 5000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      if (!result.ok) {
        this.emit('error', result.error);
        continue;
      }
      this.dispatch(result.message);
    }
  }

  private dispatch(frame: NativeObject): void {
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame);
      case 'msg':
        this.advance(frame.seq);
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
        this.advance(frame.seq);
        this.emit('receipt', frame as unknown as IncomingReceipt);
        return this.scheduleAck();
      case 'group':
        this.advance(frame.seq);
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
        return this.settle('group.created', String(frame.cid), frame);
      case 'lookup':
        return this.settle('lookup', String(frame.cid), frame);
      case 'error':
        return this.onError(frame);
    }
  }

  private onWelcome(frame: NativeObject): void {
    this.id = frame.id as number;
    this.username = (frame.username as string | null) ?? null;
    if (typeof frame.token === 'string') this.token = frame.token;
    this.online = true;
    this.attempt = 0;
    this.emit('connected', { id: this.id, username: this.username, token: this.token });
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
        if (this.waiting.has(`${kind}:${cid}`)) return this.fail(kind, cid, error);
      }
    }
    if (!this.online && (error.code === 'auth_failed' || error.code === 'auth_required')) {
      // Wrong credentials do not get better with retries.
      this.closedByUser = true;
      this.firstConnect?.reject(error);
      this.firstConnect = null;
      this.socket?.destroy();
      return;
    }
    this.emit('error', error);
  }

  private request(kind: string, key: string, frame: NativeObject): Promise<NativeObject> {
    if (!this.online) return Promise.reject(new MensageiroError('timeout', 'not connected'));
    return new Promise((resolve, reject) => {
      const id = `${kind}:${key}`;
      const list = this.waiting.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(id, list);
      this.write(frame);
    });
  }

  private settle(kind: string, key: string, frame: NativeObject): void {
    const id = `${kind}:${key}`;
    const waiter = this.waiting.get(id)?.shift();
    if (this.waiting.get(id)?.length === 0) this.waiting.delete(id);
    waiter?.resolve(frame);
  }

  private fail(kind: string, key: string, error: MensageiroError): void {
    const id = `${kind}:${key}`;
    const waiter = this.waiting.get(id)?.shift();
    if (this.waiting.get(id)?.length === 0) this.waiting.delete(id);
    waiter?.reject(error);
  }

  private advance(seq: unknown): void {
    if (typeof seq === 'number' && seq > this.lastSeq) this.lastSeq = seq;
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

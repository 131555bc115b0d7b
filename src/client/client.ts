import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { MensageiroError, type ErrorCode } from '../core/errors.js';
import type { NativeObject } from '../dialects/native/codec.js';
import type { ClientEvent, ClientEvents, IncomingGroup, IncomingReceipt, SentAck } from './client-types.js';
import { NativeConnection } from './native-connection.js';
import { eventsOf } from './requests.js';

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
export class Client extends NativeConnection {
  private readonly outbox = new Map<string, OutboxEntry>();
  private lobbyJoined = false;
  private watched = new Set<number>();

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

  protected dispatch(frame: NativeObject): void {
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

  protected afterSignIn(): void {
    // Everything not acknowledged goes again, in order; the server drops what it already has.
    for (const entry of this.outbox.values()) this.write(entry.frame);
    if (this.lobbyJoined) this.write({ type: 'lobby.join' });
    if (this.watched.size > 0) this.write({ type: 'who', ids: [...this.watched] });
  }

  protected abandon(error: MensageiroError): void {
    for (const entry of this.outbox.values()) entry.reject(error);
    this.outbox.clear();
  }
}

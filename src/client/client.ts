import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { MensageiroError, type ErrorCode } from '../core/errors.js';
import type { NativeObject } from '../dialects/native/codec.js';
import type {
  ClientEvent,
  ClientEvents,
  Conversation,
  DeviceInfo,
  GroupInfo,
  HistoryMessage,
  IncomingGroup,
  IncomingReceipt,
  SentAck,
} from './client-types.js';
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
  'read',
  'group',
  'presence',
  'lobby',
  'sent',
  'error',
] as const;

function historyMessageOf(frame: NativeObject): HistoryMessage {
  const { from_name: fromName, ...rest } = frame;
  return { ...(rest as unknown as HistoryMessage), ...(typeof fromName === 'string' ? { fromName } : {}) };
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
    const reply = await this.request({ type: 'group', name, members });
    return reply.gid as number;
  }

  /** Adds members (ids or usernames); the creator and admins may. */
  async addMembers(gid: number, members: Array<number | string>): Promise<void> {
    await this.request({ type: 'group.add', gid, members });
  }

  /** Removes members; they get the notice, then nothing more from the group. */
  async removeMembers(gid: number, members: Array<number | string>): Promise<void> {
    await this.request({ type: 'group.remove', gid, members });
  }

  async leaveGroup(gid: number): Promise<void> {
    await this.request({ type: 'group.leave', gid });
  }

  async renameGroup(gid: number, name: string): Promise<void> {
    await this.request({ type: 'group.rename', gid, name });
  }

  /** The full list of admins besides the creator (the creator only). */
  async setAdmins(gid: number, admins: Array<number | string>): Promise<void> {
    await this.request({ type: 'group.admins', gid, admins });
  }

  async groupInfo(gid: number): Promise<GroupInfo> {
    return (await this.request({ type: 'group.info', gid })) as unknown as GroupInfo;
  }

  /** One page of a conversation, newest first; the next page is `before` its last `mid`. */
  async history(
    conv: number | string,
    page: { before?: number; limit?: number } = {},
  ): Promise<{ conv: number; messages: HistoryMessage[]; more: boolean }> {
    const reply = await this.request({ type: 'history', conv, ...page });
    const messages = (reply.messages as NativeObject[]).map(historyMessageOf);
    return { conv: reply.conv as number, messages, more: reply.more === true };
  }

  /** Every conversation, newest activity first, with its last message and unread count. */
  async conversations(limit?: number): Promise<Conversation[]> {
    const reply = await this.request({ type: 'conversations', limit });
    return (reply.conversations as NativeObject[]).map((c) => ({
      ...(c as unknown as Conversation),
      last: c.last ? historyMessageOf(c.last as NativeObject) : null,
    }));
  }

  /** Sets your username and/or display name (null clears it). */
  async setProfile(profile: {
    username?: string;
    displayName?: string | null;
  }): Promise<{ id: number; username: string | null; displayName: string | null }> {
    const reply = await this.request({
      type: 'profile',
      username: profile.username,
      display_name: profile.displayName,
    });
    this.username = (reply.username as string | null) ?? null;
    this.displayName = (reply.display_name as string | null) ?? null;
    return { id: reply.id as number, username: this.username, displayName: this.displayName };
  }

  /**
   * Changes the secret. With `revokeAll`, every other device is signed out and this one gets a
   * fresh token, which the client then signs in with.
   */
  async changeSecret(
    current: string,
    next: string,
    options: { revokeAll?: boolean } = {},
  ): Promise<{ token: string | null; revoked: number[] }> {
    const reply = await this.request({
      type: 'secret',
      secret: current,
      new_secret: next,
      revoke_all: options.revokeAll,
    });
    if (typeof reply.token === 'string') this.token = reply.token;
    return { token: (reply.token as string | null) ?? null, revoked: (reply.revoked as number[]) ?? [] };
  }

  async devices(): Promise<DeviceInfo[]> {
    return (await this.request({ type: 'devices' })).devices as DeviceInfo[];
  }

  /** Signs another device of this account out; its token stops working. */
  async revokeDevice(device: number): Promise<void> {
    await this.request({ type: 'device.revoke', device });
  }

  /** Signs this device out for good (its token is revoked) and closes. */
  async logout(): Promise<void> {
    await this.request({ type: 'logout' });
    this.token = null;
    this.close();
  }

  async lookup(
    name: string | number,
  ): Promise<{ id: number; username: string | null; displayName: string | null; kind: 'user' | 'group' }> {
    const reply = await this.request({ type: 'lookup', name });
    return {
      id: reply.id as number,
      username: (reply.username as string | null) ?? null,
      displayName: (reply.display_name as string | null) ?? null,
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
          ...(typeof frame.from_name === 'string' ? { fromName: frame.from_name } : {}),
          ts: frame.ts as number,
          at: frame.at as number,
        });
        return this.scheduleAck();
      case 'read':
        if (!this.advance(frame.seq)) return;
        this.emit('read', { conv: frame.conv as number, mid: frame.mid as number, seq: frame.seq as number });
        return this.scheduleAck();
      case 'receipt':
        if (!this.advance(frame.seq)) return;
        this.emit('receipt', frame as unknown as IncomingReceipt);
        return this.scheduleAck();
      case 'group':
        if (frame.seq === undefined) break;
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
      case 'error':
        return this.onError(frame);
    }
    // Every other answer carries its request's cid.
    if (frame.cid !== undefined) this.requests.settle(String(frame.cid), frame);
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
      if (this.requests.has(cid)) return this.requests.fail(cid, error);
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

import { EventEmitter } from 'node:events';
import { Client, type ClientOptions } from './client.js';
import { serverLabel } from './servers.js';

export type Feature =
  | 'usernames'
  | 'presence'
  | 'lobby'
  | 'groups'
  | 'receipts'
  | 'durable-ack'
  /** The server keeps conversations, groups change, profiles and devices (native only). */
  | 'account';

export interface LinkMessage {
  mid: number | null;
  from: number;
  /** The peer for a 1:1 chat, the group for a group message. */
  conv: number;
  text: string;
  ts: number;
  /** The sender's name as the server sent it with the message. */
  fromName?: string;
}

export interface ChatLinkEvents {
  connected: [{ id: number; username: string | null; token: string | null; device?: number }];
  disconnected: [];
  /** A connection attempt failed and another follows: `reason` says which server and why. */
  retrying: [{ reason: string }];
  /** The link stopped for good (say, the port speaks another protocol). */
  failed: [Error];
  message: [LinkMessage];
  receipt: [{ status: 'delivered' | 'read'; conv: number; by: number; mid: number | null; ts: number }];
  group: [
    {
      id: number;
      name: string;
      members: number[];
      names?: Array<string | null>;
      change?: string;
      by?: number;
      affected?: number[];
    },
  ];
  /** A conversation was read on another device of this account, up to `mid`. */
  read: [{ conv: number; mid: number }];
  presence: [{ id: number; online: boolean }];
  lobby: [{ author: string; text: string }];
  /** The inbox position reached, to be stored so the next run resumes after it. */
  position: [number];
}

/** What the chat UI needs from a connection, whatever dialect carries it. */
export interface ChatLink extends EventEmitter<ChatLinkEvents> {
  readonly dialect: string;
  readonly features: ReadonlySet<Feature>;
  readonly connected: boolean;
  /** The SDK client, where the link is native: what only the native protocol can do. */
  readonly client?: Client;
  start(): Promise<void>;
  /** Resolves once the server has the message (durably, where the dialect can say so). */
  send(to: number | string, text: string, cid: string): Promise<{ mid: number | null; conv: number }>;
  markRead(conv: number, upTo: { mid: number | null; ts: number }): void;
  /** Resolves with the group's id where the dialect answers with one. */
  createGroup(name: string, members: Array<number | string>): Promise<number | void>;
  lookup(name: string): Promise<{ id: number; username: string | null }>;
  who(ids: number[]): void;
  joinLobby(): void;
  postLobby(text: string): void;
  close(): void;
}

/** The full-featured link: the native protocol through the SDK. */
export class NativeLink extends EventEmitter<ChatLinkEvents> implements ChatLink {
  readonly dialect = 'native';
  readonly features: ReadonlySet<Feature> = new Set([
    'usernames',
    'presence',
    'lobby',
    'groups',
    'receipts',
    'durable-ack',
    'account',
  ]);
  readonly client: Client;

  constructor(options: ClientOptions) {
    super();
    this.client = new Client({ maxReconnectDelayMs: 2000, ...options });
    const client = this.client;
    client.on('connected', (info) => this.emit('connected', info));
    client.on('disconnected', () => this.emit('disconnected'));
    client.on('retrying', (r) =>
      this.emit('retrying', {
        reason: `${serverLabel(r.server)}: ${r.reason}; ${r.delayMs > 0 ? 'retrying' : `trying ${serverLabel(r.next)}`}`,
      }),
    );
    client.on('message', (m) => {
      const conv = m.to === client.id ? m.from : m.to;
      const named = m.fromName === undefined ? {} : { fromName: m.fromName };
      this.emit('message', { mid: m.mid, from: m.from, conv, text: m.text, ts: m.ts, ...named });
      this.emit('position', m.seq);
    });
    client.on('receipt', (r) => {
      this.emit('receipt', { status: r.status, conv: r.conv, by: r.by, mid: r.mid, ts: r.ts });
      this.emit('position', r.seq);
    });
    client.on('group', (g) => {
      const { gid: id, name, members, names, change, by, affected } = g;
      this.emit('group', { id, name, members, names, change, by, affected });
      this.emit('position', g.seq);
    });
    client.on('read', (r) => {
      this.emit('read', { conv: r.conv, mid: r.mid });
      this.emit('position', r.seq);
    });
    client.on('presence', (p) => this.emit('presence', p));
    client.on('lobby', (post) => this.emit('lobby', { author: post.author, text: post.text }));
    client.on('error', () => undefined);
  }

  get connected(): boolean {
    return this.client.connected;
  }

  start(): Promise<void> {
    return this.client.connect();
  }

  async send(to: number | string, text: string, cid: string): Promise<{ mid: number | null; conv: number }> {
    const ack = await this.client.send(to, text, cid);
    return { mid: ack.mid, conv: ack.to };
  }

  markRead(conv: number, upTo: { mid: number | null; ts: number }): void {
    if (upTo.mid !== null) this.client.markRead(conv, upTo.mid);
  }

  createGroup(name: string, members: Array<number | string>): Promise<number> {
    return this.client.createGroup(name, members);
  }

  lookup(name: string): Promise<{ id: number; username: string | null }> {
    return this.client.lookup(/^\d{1,13}$/.test(name) ? Number(name) : name);
  }

  who(ids: number[]): void {
    this.client.who(ids);
  }

  joinLobby(): void {
    this.client.joinLobby();
  }

  postLobby(text: string): void {
    this.client.postLobby(text);
  }

  close(): void {
    this.client.close();
  }
}

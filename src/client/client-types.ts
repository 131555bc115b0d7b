import type { MensageiroError } from '../core/errors.js';
import type { ServerAddress } from './servers.js';

export interface Identity {
  id?: number;
  username?: string;
  secret?: string;
  token?: string;
  /** With a secret: sign in as this device of the account again, instead of a new one. */
  device?: number;
}

export interface ClientOptions {
  /** One server. Give `servers` instead for a list to fail over through. */
  host?: string;
  port?: number;
  /** Servers tried in order: `"a:7333,b:7333"` or a list. A failed one hands over to the next. */
  servers?: string | ServerAddress[];
  /** Who to sign in as; without it the client registers a new account on first connect. */
  identity?: Identity;
  /**
   * For a new account: an optional username and secret. With `orSignIn`, a username that is
   * already taken is signed in to with the secret instead (a new device of an existing account).
   */
  register?: { username?: string; secret?: string; orSignIn?: boolean };
  /**
   * The last inbox seq the application has stored; the server resends everything after it. Left
   * out (or 0), a device starts where the server keeps its cursor: a new device, where the
   * account's devices have got to.
   */
  resumeFrom?: number;
  /** A label for a new device, shown in `devices()` (say, "laptop"). */
  deviceName?: string;
  /** Reconnect with backoff after a drop (default true). */
  reconnect?: boolean;
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long a server has to answer the sign-in before it counts as failed (default 5000). */
  handshakeTimeoutMs?: number;
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
  /** The sender's display name, else username, where the server sends it. */
  fromName?: string;
  ts: number;
  at: number;
}

/** One message of a history page, or a conversation's last one. */
export interface HistoryMessage {
  mid: number;
  from: number;
  fromName?: string;
  to: number;
  text: string;
  at: number;
  ts: number;
  /** Yours: sent, delivered or read (a group's, by every member); received: delivered or read. */
  status: 'sent' | 'delivered' | 'read';
}

export interface Conversation {
  conv: number;
  kind: 'user' | 'group';
  name: string | null;
  members?: number[];
  last: HistoryMessage | null;
  unread: number;
}

export interface GroupInfo {
  gid: number;
  name: string;
  creator: number;
  admins: number[];
  members: number[];
  /** Parallel to `members`: display name or username, null where there is none. */
  names: Array<string | null>;
}

export interface DeviceInfo {
  device: number;
  name: string | null;
  created_at: number;
  current: boolean;
}

export interface IncomingRead {
  conv: number;
  mid: number;
  seq: number;
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
  admins?: number[];
  names?: Array<string | null>;
  /** What changed: create, add, remove, leave, rename or admins. */
  change?: string;
  /** Who made the change, and who was added, removed or left, or made admin. */
  by?: number;
  affected?: number[];
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
  connected: [
    {
      id: number;
      username: string | null;
      displayName: string | null;
      token: string | null;
      device: number;
      server: ServerAddress;
    },
  ];
  disconnected: [{ reason: string }];
  /** A connection attempt failed; the next one goes to `next` after `delayMs`. */
  retrying: [{ server: ServerAddress; reason: string; next: ServerAddress; delayMs: number }];
  message: [IncomingMessage];
  receipt: [IncomingReceipt];
  /** You read a conversation on another device, up to `mid`. */
  read: [IncomingRead];
  group: [IncomingGroup];
  presence: [{ id: number; online: boolean }];
  lobby: [{ author: string; id: number | null; text: string; at: number }];
  sent: [SentAck];
  error: [MensageiroError];
}

export type ClientEvent = {
  [K in keyof ClientEvents]: { type: K; data: ClientEvents[K][0] };
}[keyof ClientEvents];

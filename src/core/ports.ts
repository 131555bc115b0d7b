import type { Account, AccountId, Delivery, Group, InboxItem, StoredMessage } from './types.js';

export interface NewAccount {
  id: AccountId;
  username?: string | null;
  secretHash?: string | null;
}

export interface NewMessage {
  from: AccountId;
  to: AccountId;
  cid: string | null;
  text: string;
  ts: number;
  at: number;
  /** Everyone who gets the message: the recipient, or the group's members but the sender. */
  recipients: AccountId[];
}

export interface AppendResult {
  message: StoredMessage;
  /** True when (from, cid) was already stored: nothing new was written or delivered. */
  duplicate: boolean;
  deliveries: Delivery[];
}

export interface NewGroup {
  id: AccountId;
  name: string;
  creator: AccountId;
  members: AccountId[];
  ts: number;
  at: number;
}

export type ReadMark = { mid: number } | { ts: number };

/**
 * The system of record. Every write resolves only once it is durable, and every backend
 * passes the shared suite in test/store-suite.ts.
 */
export interface Store {
  /** Throws MensageiroError 'conflict' when the id exists, 'username_taken' for the name. */
  createAccount(account: NewAccount): Promise<Account>;
  getAccount(id: AccountId): Promise<Account | null>;
  findAccountByUsername(username: string): Promise<Account | null>;
  /** Whether the id is taken by a user or a group. */
  idExists(id: AccountId): Promise<boolean>;

  saveToken(tokenHash: string, account: AccountId, at: number): Promise<void>;
  accountForToken(tokenHash: string): Promise<AccountId | null>;

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }>;
  getGroup(id: AccountId): Promise<Group | null>;

  appendMessage(message: NewMessage): Promise<AppendResult>;

  /** Items after `afterSeq`, in order, at most `limit`. */
  readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]>;
  /** The delivered watermark and the last seq of a user's inbox. */
  inboxState(user: AccountId): Promise<{ delivered: number; last: number }>;
  /** Moves the delivered watermark; returns the delivery receipts it produces for senders. */
  ackDelivered(user: AccountId, upToSeq: number, at: number): Promise<Delivery[]>;
  /** `reader` has read `conv` (a peer or a group) up to the mark; returns read receipts. */
  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number): Promise<Delivery[]>;

  close(): Promise<void>;
}

export type BusHandler = (payload: unknown) => void;

/**
 * What a bus hands every handler of a subject, in place of a payload, when live delivery may
 * have skipped publishes: the subscription has just reached the other nodes, or the bus has
 * reconnected. Whoever keeps a record (an inbox stream) catches up from the store; others
 * ignore it. The in-process bus never skips, so it never sends it.
 */
export const BUS_RESYNC: unique symbol = Symbol('bus resync');

/** Live routing between sessions (and, in cluster mode, between nodes). Never the record. */
export interface Bus {
  publish(subject: string, payload: unknown): void;
  subscribe(subject: string, handler: BusHandler): void;
  /**
   * Removes that subscription; a second call does nothing. A pair of calls rather than a
   * returned closure, which every connection's inbox would hold.
   */
  unsubscribe(subject: string, handler: BusHandler): void;
  close(): Promise<void>;
}

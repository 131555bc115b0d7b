import type { ErrorCode } from './errors.js';
import type {
  Account,
  AccountId,
  ConversationSummary,
  Delivery,
  DeviceInfo,
  Group,
  GroupAction,
  HistoryMessage,
  InboxItem,
  MessageReceipts,
  StoredMessage,
} from './types.js';

export interface NewAccount {
  id: AccountId;
  username?: string | null;
  secretHash?: string | null;
  displayName?: string | null;
}

/** Fields of an account to change; absent ones stay. */
export interface AccountChange {
  username?: string;
  /** Null clears it. */
  displayName?: string | null;
  secretHash?: string;
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
  /**
   * The sending device. When the sender has two or more devices, the message is also put in
   * the sender's own inbox as a `sent` item for the others. Absent or 0: no device.
   */
  device?: number;
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

/** A change to a group, checked by the hub; the store applies it atomically. */
export interface GroupChangeRequest {
  gid: AccountId;
  action: Exclude<GroupAction, 'create'>;
  by: AccountId;
  /** add: members to add; remove: members to remove; leave: [by]; admins: the new admin list. */
  members: AccountId[];
  /** rename: the new name. */
  name?: string;
  /** add: the group may not grow past this many members ('group_too_large'). */
  maxMembers: number;
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
  /**
   * A secret-less account, its id from `newId`, for each username no account has, all in one
   * transaction; returns how many it created. Optional: without it, users are created one by one.
   */
  ensureUsernames?(usernames: string[], newId: () => AccountId): Promise<number>;

  /**
   * Changes names or the secret; the account cache follows. Throws 'username_taken'. Returns
   * the account after the change.
   */
  updateAccount(id: AccountId, change: AccountChange): Promise<Account>;

  /**
   * A new device of `account`, holding the token (by its hash). Its cursor starts at the
   * account's delivered watermark. Device ids start at 1 and are never reused within an account.
   */
  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): Promise<DeviceInfo>;
  /** Gives an existing device a new token; the old one stops working. False: no such device. */
  replaceDeviceToken(account: AccountId, device: number, tokenHash: string, at: number): Promise<boolean>;
  /** The device a token signs in as; null when unknown, revoked or replaced. */
  deviceForToken(tokenHash: string): Promise<{ account: AccountId; device: number } | null>;
  listDevices(account: AccountId): Promise<DeviceInfo[]>;
  /**
   * Removes devices and their tokens and cursors: `device`, or every device but `keep` when
   * `device` is 'all'. Returns the ids removed.
   */
  revokeDevices(account: AccountId, device: number | 'all', keep?: number): Promise<number[]>;

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }>;
  getGroup(id: AccountId): Promise<Group | null>;
  /**
   * Applies a change and appends its notice to every member after it and every member it
   * removed, in one transaction. Members added see only later messages; removed members get
   * nothing later. Throws 'group_too_large' past `maxMembers`, 'unknown_recipient' for a
   * group that does not exist.
   */
  changeGroup(change: GroupChangeRequest): Promise<{ group: Group; deliveries: Delivery[] }>;

  appendMessage(message: NewMessage): Promise<AppendResult>;

  /** Items after `afterSeq`, in order, at most `limit`. Messages carry `fromName`. */
  readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]>;
  /**
   * The last seq of a user's inbox and a cursor: the device's own acked seq, or with no device
   * (0, or absent) the account's delivered watermark, which is the highest device cursor.
   */
  inboxState(user: AccountId, device?: number): Promise<{ delivered: number; last: number }>;
  /**
   * Moves the device's cursor (and the account's delivered watermark when it passes it);
   * returns the delivery receipts for senders, made when the first device has a message.
   */
  ackDelivered(user: AccountId, upToSeq: number, at: number, device?: number): Promise<Delivery[]>;
  /**
   * `reader` has read `conv` (a peer or a group) up to the mark: records the reader's read mark
   * for unread counts, returns read receipts, and, when the reader has two or more devices, a
   * `read` item in the reader's own inbox for the devices other than `device`.
   */
  markRead(
    reader: AccountId,
    conv: AccountId,
    mark: ReadMark,
    at: number,
    device?: number,
  ): Promise<Delivery[]>;

  /**
   * One page of `user`'s conversation with `conv` (a peer, or a group `user` is or was in),
   * both directions, newest first, mids below `before` (null: from the newest), at most
   * `limit`; `more` when older ones exist. Served from an index, not a scan.
   */
  history(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }>;
  /**
   * Each other participant's state of `mid` (sent, delivered or read), for a message `user`
   * sent; members who joined after it are left out. Null for a message `user` did not send.
   */
  messageReceipts(user: AccountId, mid: number): Promise<MessageReceipts | null>;
  /** `user`'s conversations, most recent activity first, at most `limit`. */
  conversations(user: AccountId, limit: number): Promise<ConversationSummary[]>;

  close(): Promise<void>;
}

export type BusHandler = (payload: unknown) => void;

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

/** How a registration or sign-in ended, for the log and the metrics. Never a secret or a token. */
export interface SignInEvent {
  dialect: string;
  kind: 'registration' | 'sign-in';
  ip: string | null;
  /** Who signed in or was registered; null when it failed. */
  account: Account | null;
  /** Why it failed; null when it succeeded. */
  error: { code: ErrorCode; message: string } | null;
}

/**
 * What the hub reports as it works, for metrics and the log; the server implements it. Calls
 * are synchronous and must stay cheap: some are on the path of every message.
 */
export interface HubObserver {
  /** A message from a client of `dialect` was stored; a duplicate was recognised, not stored again. */
  accepted(dialect: string, duplicate: boolean): void;
  /** A message item was handed to a client of `dialect`. */
  delivered(dialect: string): void;
  /** Acks and reads produced this many receipts. */
  receipts(count: number): void;
  signIn(event: SignInEvent): void;
  /** A request from a client of `dialect` failed; `key` is what a rate limit was counted against. */
  failed(dialect: string, code: ErrorCode, key: string | number | null): void;
}

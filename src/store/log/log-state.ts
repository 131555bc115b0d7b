import { MensageiroError } from '../../core/errors.js';
import type { AccountChange, GroupChangeRequest, NewGroup, NewMessage } from '../../core/ports.js';
import type {
  Account,
  AccountId,
  DeliveredMessage,
  Delivery,
  DeviceInfo,
  Group,
  GroupChange,
  InboxItem,
  Receipt,
  ReceiptStatus,
  StoredMessage,
} from '../../core/types.js';
import { MAX_DEVICES } from '../sqlite/devices.js';
import { creation } from '../sqlite/inbox-rows.js';
import { planGroupChange } from '../group-change.js';
import { MessageColumns, type StoredEntry } from './message-columns.js';

/** One inbox item without its seq (its index + 1): a message by mid, or the item itself. */
export type Entry = number | WithoutSeq<Exclude<InboxItem, { kind: 'msg' } | { kind: 'sent' }>> | SentEntry;
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;
interface SentEntry {
  kind: 'sent';
  mid: number;
  device: number;
}

interface DeviceRow {
  info: DeviceInfo;
  cursor: number;
  token: string | null;
}

export interface GroupState {
  group: Group;
  /** Each member's, or past member's, window of messages: after `from`, up to `to` once out. */
  access: Map<AccountId, { from: number; to: number | null }>;
  /** How far each member has received the group's messages (acked mid). */
  delivered: Map<AccountId, number>;
  /** The group's mids, rising; and each sender's. */
  mids: number[];
  bySender: Map<AccountId, number[]>;
}

export interface Row {
  kind: 'user' | 'group';
  account: Account;
  group: GroupState | null;
  inbox: Entry[];
  delivered: number;
  nextDevice: number;
  devices: Map<number, DeviceRow>;
  /** 1:1 peers, each with the last mid exchanged. */
  peers: Map<AccountId, number>;
  /** Every 1:1 message this account sent or got, rising. */
  direct: number[];
  /**
   * The mids of 1:1 conversations whose history was asked for, rising, kept up from then on.
   * An array per conversation for every pair that ever wrote was most of the heap with 1,000
   * users writing to each other at random, and every major collection marked it.
   */
  conversations: Map<AccountId, number[]>;
  /** Groups this account is or was in. */
  groups: Set<AccountId>;
}

/**
 * Everything the store holds, in memory: the state the log's records rebuild. Each write method
 * checks everything that can fail before it changes anything, so a throw leaves the state as it
 * was, and the write is neither applied nor logged.
 */
export class LogState {
  readonly rows = new Map<AccountId, Row>();
  readonly usernames = new Map<string, AccountId>();
  readonly tokens = new Map<string, { account: AccountId; device: number }>();
  readonly messages = new MessageColumns();
  readonly cids = new Map<AccountId, Map<string, number>>();
  /** Receipts already sent, by `${sender}:${conv}:${by}:${status}`. */
  readonly receiptMarks = new Map<string, number>();
  /** Each owner's read mark per conversation. */
  readonly readMarks = new Map<AccountId, Map<AccountId, number>>();

  user(id: AccountId): Row | null {
    const row = this.rows.get(id);
    return row && row.kind === 'user' ? row : null;
  }

  groupOf(id: AccountId): GroupState | null {
    return this.rows.get(id)?.group ?? null;
  }

  name(id: AccountId): string | null {
    const account = this.user(id)?.account;
    return account ? (account.displayName ?? account.username) : null;
  }

  message(mid: number): StoredEntry | undefined {
    return this.messages.get(mid);
  }

  receiptMark(sender: AccountId, conv: AccountId, by: AccountId, status: ReceiptStatus): number {
    return this.receiptMarks.get(`${sender}:${conv}:${by}:${status}`) ?? 0;
  }

  readMark(owner: AccountId, conv: AccountId): number {
    return this.readMarks.get(owner)?.get(conv) ?? 0;
  }

  createAccount(account: Account): Account {
    this.checkNewAccount(account.id, account.username);
    this.addRow('user', { ...account }, null);
    return account;
  }

  ensureUsernames(accounts: Array<[AccountId, string]>, createdAt: number): number {
    for (const [id, username] of accounts) {
      this.createAccount({ id, username, secretHash: null, displayName: null, createdAt });
    }
    return accounts.length;
  }

  updateAccount(id: AccountId, change: AccountChange): Account {
    const row = this.user(id);
    if (!row) throw new MensageiroError('unknown_account', `no account ${id}`);
    const current = row.account;
    const next: Account = {
      ...current,
      ...(change.username !== undefined && { username: change.username }),
      ...(change.displayName !== undefined && { displayName: change.displayName }),
      ...(change.secretHash !== undefined && { secretHash: change.secretHash }),
    };
    const key = next.username?.toLowerCase() ?? null;
    const holder = key === null ? undefined : this.usernames.get(key);
    if (holder !== undefined && holder !== id) {
      throw new MensageiroError('username_taken', `username ${change.username} is taken`);
    }
    if (current.username !== null) this.usernames.delete(current.username.toLowerCase());
    if (key !== null) this.usernames.set(key, id);
    row.account = next;
    return next;
  }

  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): DeviceInfo {
    const row = this.user(account);
    if (!row) throw new MensageiroError('unknown_account', `no account ${account}`);
    if (row.devices.size >= MAX_DEVICES) {
      throw new MensageiroError(
        'forbidden',
        `${MAX_DEVICES} devices are signed in: sign one out, or sign in again as one of them`,
      );
    }
    const info: DeviceInfo = { account, device: row.nextDevice++, name, createdAt: at };
    row.devices.set(info.device, { info, cursor: row.delivered, token: tokenHash });
    this.tokens.set(tokenHash, { account, device: info.device });
    return info;
  }

  replaceDeviceToken(account: AccountId, device: number, tokenHash: string): boolean {
    const entry = this.user(account)?.devices.get(device);
    if (!entry) return false;
    if (entry.token !== null) this.tokens.delete(entry.token);
    entry.token = tokenHash;
    this.tokens.set(tokenHash, { account, device });
    return true;
  }

  revokeDevices(account: AccountId, device: number | 'all', keep?: number): number[] {
    const row = this.user(account);
    if (!row) return [];
    const targets = device === 'all' ? [...row.devices.keys()].filter((d) => d !== keep) : [device];
    const removed: number[] = [];
    for (const target of targets.sort((a, b) => a - b)) {
      const entry = row.devices.get(target);
      if (!entry) continue;
      if (entry.token !== null) this.tokens.delete(entry.token);
      row.devices.delete(target);
      removed.push(target);
    }
    return removed;
  }

  createGroup(input: NewGroup): { group: Group; deliveries: Delivery[] } {
    this.checkNewAccount(input.id, null);
    this.checkAccounts(input.members);
    const group: Group = { ...input, members: [...input.members], admins: [] };
    const state: GroupState = {
      group,
      access: new Map(),
      delivered: new Map(),
      mids: [],
      bySender: new Map(),
    };
    const account = {
      id: group.id,
      username: null,
      secretHash: null,
      displayName: null,
      createdAt: group.at,
    };
    this.addRow('group', account, state);
    for (const member of group.members) this.grantAccess(state, member);
    return { group, deliveries: this.appendNotice(group, creation(group), group.members) };
  }

  changeGroup(change: GroupChangeRequest): { group: Group; deliveries: Delivery[] } {
    const state = this.groupOf(change.gid);
    if (!state) throw new MensageiroError('unknown_recipient', `unknown group ${change.gid}`);
    const { group, affected, removed } = planGroupChange(state.group, change);
    if (change.action === 'add') this.checkAccounts(affected);
    const now = this.messages.count;
    if (change.action === 'add') for (const member of affected) this.grantAccess(state, member);
    for (const member of removed) state.access.get(member)!.to = now;
    state.group = group;
    const notice: GroupChange = {
      action: change.action,
      by: change.by,
      affected,
      ts: change.ts,
      at: change.at,
    };
    return { group, deliveries: this.appendNotice(group, notice, [...group.members, ...removed]) };
  }

  /** The message, or the original when (from, cid) is stored already. */
  appendMessage(input: NewMessage): { message: StoredMessage; duplicate: boolean; deliveries: Delivery[] } {
    const direct = input.recipients.length === 1 && input.recipients[0] === input.to;
    // The members as of this write: a change applied after the send was prepared wins.
    const recipients = direct ? input.recipients : this.groupRecipients(input.from, input.to);
    const sent = input.cid === null ? undefined : this.cids.get(input.from)?.get(input.cid);
    if (sent !== undefined) {
      const { group: _group, ...message } = this.message(sent)!;
      return { message, duplicate: true, deliveries: [] };
    }
    this.checkAccounts(recipients);
    const mid = this.messages.count + 1;
    const message: StoredMessage = {
      mid,
      from: input.from,
      to: input.to,
      cid: input.cid,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    this.messages.push(message, !direct);
    if (input.cid !== null) {
      let cids = this.cids.get(input.from);
      if (!cids) this.cids.set(input.from, (cids = new Map()));
      cids.set(input.cid, mid);
    }
    this.index(message, !direct);
    const delivered: DeliveredMessage = {
      mid,
      from: input.from,
      to: input.to,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    const fromName = this.name(input.from);
    if (fromName !== null) delivered.fromName = fromName;
    const deliveries = recipients.map((user) =>
      this.appendItem(user, mid, (seq) => ({ seq, kind: 'msg', msg: delivered })),
    );
    const device = input.device ?? 0;
    const sender = this.user(input.from);
    if (device > 0 && sender && sender.devices.size > 1 && !recipients.includes(input.from)) {
      const entry: SentEntry = { kind: 'sent', mid, device };
      deliveries.push(
        this.appendItem(input.from, entry, (seq) => ({ seq, kind: 'sent', msg: delivered, device })),
      );
    }
    return { message, duplicate: false, deliveries };
  }

  /** The item at `seq` of `row`'s inbox, built afresh (senders' names are the caller's). */
  item(seq: number, entry: Entry): InboxItem {
    if (typeof entry === 'number') {
      const { mid, from, to, text, ts, at } = this.message(entry)!;
      return { seq, kind: 'msg', msg: { mid, from, to, text, ts, at } };
    }
    if (entry.kind === 'sent') {
      const { mid, from, to, text, ts, at } = this.message(entry.mid)!;
      return { seq, kind: 'sent', msg: { mid, from, to, text, ts, at }, device: entry.device };
    }
    return { ...entry, seq } as InboxItem;
  }

  private checkNewAccount(id: AccountId, username: string | null): void {
    if (this.rows.has(id)) throw new MensageiroError('conflict', `id ${id} exists`);
    if (username !== null && this.usernames.has(username.toLowerCase())) {
      throw new MensageiroError('username_taken', `username ${username} is taken`);
    }
  }

  private checkAccounts(ids: AccountId[]): void {
    for (const id of ids)
      if (!this.rows.has(id)) throw new MensageiroError('unknown_account', `no account ${id}`);
  }

  private addRow(kind: 'user' | 'group', account: Account, group: GroupState | null): void {
    this.rows.set(account.id, {
      kind,
      account,
      group,
      inbox: [],
      delivered: 0,
      nextDevice: 1,
      devices: new Map(),
      peers: new Map(),
      direct: [],
      conversations: new Map(),
      groups: new Set(),
    });
    if (account.username !== null) this.usernames.set(account.username.toLowerCase(), account.id);
  }

  /** Members see what follows from now on (again, if they were in before). */
  private grantAccess(state: GroupState, member: AccountId): void {
    state.access.set(member, { from: this.messages.count, to: null });
    this.rows.get(member)?.groups.add(state.group.id);
  }

  private index(message: StoredMessage, inGroup: boolean): void {
    if (inGroup) {
      const state = this.groupOf(message.to);
      if (!state) return;
      state.mids.push(message.mid);
      let mids = state.bySender.get(message.from);
      if (!mids) state.bySender.set(message.from, (mids = []));
      mids.push(message.mid);
      return;
    }
    const sender = this.rows.get(message.from);
    const recipient = this.rows.get(message.to);
    if (sender) addDirect(sender, message.to, message.mid);
    if (recipient && recipient !== sender) addDirect(recipient, message.from, message.mid);
  }

  /** The mids of `user`'s 1:1 conversation with `peer`, rising (indexed at the first call). */
  directWith(user: AccountId, peer: AccountId): number[] {
    const row = this.rows.get(user);
    if (!row) return [];
    let mids = row.conversations.get(peer);
    if (!mids) {
      const { messages } = this;
      mids = row.direct.filter(
        (mid) => (messages.from(mid) === user ? messages.to(mid) : messages.from(mid)) === peer,
      );
      row.conversations.set(peer, mids);
    }
    return mids;
  }

  private groupRecipients(from: AccountId, gid: AccountId): AccountId[] {
    const group = this.groupOf(gid)?.group;
    if (!group || !group.members.includes(from)) {
      throw new MensageiroError('forbidden', `you are not in group ${gid}`);
    }
    return group.members.filter((member) => member !== from);
  }

  private appendNotice(group: Group, change: GroupChange, audience: AccountId[]): Delivery[] {
    const notice = { group, change, names: group.members.map((m) => this.name(m)) };
    const entry: Entry = { kind: 'group', ...notice };
    return audience.map((member) =>
      this.appendItem(member, entry, (seq) => ({ seq, kind: 'group', ...notice })),
    );
  }

  appendReceipt(to: AccountId, receipt: Receipt): Delivery {
    const entry: Entry = { kind: 'receipt', receipt };
    return this.appendItem(to, entry, (seq) => ({ seq, kind: 'receipt', receipt }));
  }

  appendItem(to: AccountId, entry: Entry, build: (seq: number) => InboxItem): Delivery {
    const row = this.rows.get(to);
    if (!row) throw new MensageiroError('unknown_account', `no account ${to}`);
    row.inbox.push(entry);
    return { to, item: build(row.inbox.length) };
  }
}

function addDirect(row: Row, peer: AccountId, mid: number): void {
  row.peers.set(peer, mid);
  row.direct.push(mid);
  row.conversations.get(peer)?.push(mid);
}

/** How many of the rising `values` are at most `limit`. */
export function upperBound(values: number[], limit: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! <= limit) low = middle + 1;
    else high = middle;
  }
  return low;
}

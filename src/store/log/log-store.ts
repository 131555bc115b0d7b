import fs from 'node:fs';
import path from 'node:path';
import { MensageiroError } from '../../core/errors.js';
import type {
  AccountChange,
  AppendResult,
  GroupChangeRequest,
  NewAccount,
  NewGroup,
  NewMessage,
  ReadMark,
  Store,
} from '../../core/ports.js';
import type {
  Account,
  AccountId,
  ConversationSummary,
  Delivery,
  DeviceInfo,
  Group,
  HistoryMessage,
  InboxItem,
  MessageReceipts,
} from '../../core/types.js';
import { LogReceipts } from './log-receipts.js';
import { LogState } from './log-state.js';
import { LogViews } from './log-views.js';
import { RecordFile } from './record-file.js';

export interface LogStoreOptions {
  /** The directory of the log; the file is `mensageiro.log` in it. */
  dataDir: string;
}

/**
 * One record per write that succeeded, in the order the writes were made: replaying them on an
 * empty state rebuilds the state. Whatever a write draws (a time, an id) is in its record.
 */
type LogRecord =
  | { t: 'account'; account: Account }
  | { t: 'usernames'; accounts: Array<[AccountId, string]>; createdAt: number }
  | { t: 'update'; id: AccountId; change: AccountChange }
  | { t: 'device'; account: AccountId; tokenHash: string; name: string | null; at: number }
  | { t: 'token'; account: AccountId; device: number; tokenHash: string }
  | { t: 'revoke'; account: AccountId; device: number | 'all'; keep: number | null }
  | { t: 'group'; group: NewGroup }
  | { t: 'change'; change: GroupChangeRequest }
  | { t: 'message'; message: NewMessage }
  | { t: 'ack'; user: AccountId; upTo: number; at: number; device: number; commit: number }
  | {
      t: 'read';
      reader: AccountId;
      conv: AccountId;
      mark: ReadMark;
      at: number;
      device: number;
      commit: number;
    };

function unavailable(error: Error): never {
  throw new MensageiroError('unavailable', `the log cannot be written: ${error.message}`);
}

/** The inbox items a write appended. */
function deliveriesOf(record: LogRecord, result: unknown): Delivery[] {
  if (record.t === 'ack' || record.t === 'read') return result as Delivery[];
  if (record.t === 'group' || record.t === 'change' || record.t === 'message') {
    return (result as { deliveries: Delivery[] }).deliveries;
  }
  return [];
}

interface Model {
  state: LogState;
  receipts: LogReceipts;
}

function apply({ state, receipts }: Model, record: LogRecord): unknown {
  switch (record.t) {
    case 'account':
      return state.createAccount(record.account);
    case 'usernames':
      return state.ensureUsernames(record.accounts, record.createdAt);
    case 'update':
      return state.updateAccount(record.id, record.change);
    case 'device':
      return state.createDevice(record.account, record.tokenHash, record.name, record.at);
    case 'token':
      return state.replaceDeviceToken(record.account, record.device, record.tokenHash);
    case 'revoke':
      return state.revokeDevices(record.account, record.device, record.keep ?? undefined);
    case 'group':
      return state.createGroup(record.group);
    case 'change':
      return state.changeGroup(record.change);
    case 'message':
      return state.appendMessage(record.message);
    case 'ack':
      receipts.startWrite(record.commit);
      return receipts.ackDelivered(record.user, record.upTo, record.at, record.device);
    case 'read':
      receipts.startWrite(record.commit);
      return receipts.markRead(record.reader, record.conv, record.mark, record.at, record.device);
  }
}

/**
 * The embedded store as an append-only log of writes (docs/architecture.md, "The log store").
 * A write is checked and applied to the state in memory at once, in call order, and its record
 * is appended to the file; its promise settles after the fdatasync that covers it, one per batch
 * of the turns gathered meanwhile. Reads first wait for every write made before them to be on
 * disk, so nothing a client is shown can be lost to a crash.
 */
export class LogStore implements Store {
  private readonly state = new LogState();
  private readonly model = { state: this.state, receipts: new LogReceipts(this.state) };
  private readonly views = new LogViews(this.state);
  private readonly file: RecordFile;
  /**
   * Receipts are merged per commit (one per conversation, peer and status), so acks and reads
   * log the commit they land in: the replay merges the same ones. Numbers go on from the log's.
   */
  private commitBase = 0;
  /** Per batch not yet on disk: each user's first inbox seq it holds. */
  private readonly unsynced = new Map<Promise<void>, Map<AccountId, number>>();
  /** How many records the log held at open, and how long reading them took (ms). */
  readonly recovery: { records: number; truncatedBytes: number; ms: number };

  constructor(options: LogStoreOptions) {
    const started = performance.now();
    fs.mkdirSync(options.dataDir, { recursive: true });
    const { file, recovered } = RecordFile.open(path.join(options.dataDir, 'mensageiro.log'));
    this.file = file;
    for (const payload of recovered.records)
      apply(this.model, JSON.parse(payload.toString('utf8')) as LogRecord);
    this.recovery = {
      records: recovered.records.length,
      truncatedBytes: recovered.truncated,
      ms: performance.now() - started,
    };
  }

  /** The log's length in bytes. */
  get logBytes(): number {
    return this.file.bytes;
  }

  private nextCommit(): number {
    return this.commitBase + this.file.nextBatch;
  }

  private write<T>(record: LogRecord): Promise<T> {
    let result: T;
    try {
      result = apply(this.model, record) as T;
    } catch (error) {
      return Promise.reject(error);
    }
    const synced = this.file.append(Buffer.from(JSON.stringify(record), 'utf8'));
    const deliveries = deliveriesOf(record, result);
    if (deliveries.length > 0) this.holdBack(synced, deliveries);
    return synced.then(() => result, unavailable);
  }

  /**
   * Inbox items stay unread until their record is on disk: a seq a client has seen must survive
   * a crash, or it would be handed out again to another item.
   */
  private holdBack(synced: Promise<void>, deliveries: Delivery[]): void {
    let firsts = this.unsynced.get(synced);
    if (!firsts) {
      const batch = new Map<AccountId, number>();
      firsts = batch;
      this.unsynced.set(synced, batch);
      const release = () => this.unsynced.delete(synced);
      synced.then(release, release);
    }
    for (const { to, item } of deliveries) if (!firsts.has(to)) firsts.set(to, item.seq);
  }

  /** The first seq of `user`'s inbox that is not on disk yet. */
  private readableBefore(user: AccountId): number {
    let first = Number.MAX_SAFE_INTEGER;
    for (const firsts of this.unsynced.values()) first = Math.min(first, firsts.get(user) ?? first);
    return first;
  }

  /**
   * Reads that clients see as they are (history, conversations, receipts) wait for every write
   * before them to be on disk. The hub's lookups (accounts, groups, tokens) do not: whatever a
   * write makes of them is logged after the write they saw, and acknowledged only once both are
   * on disk.
   */
  private durable(): Promise<void> {
    return this.file.settled().catch(unavailable);
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.write({
      t: 'account',
      account: {
        id: account.id,
        username: account.username ?? null,
        secretHash: account.secretHash ?? null,
        displayName: account.displayName ?? null,
        createdAt: Date.now(),
      },
    });
  }

  ensureUsernames(usernames: string[], newId: () => AccountId): Promise<number> {
    const accounts: Array<[AccountId, string]> = [];
    const taken = new Set<string>();
    for (const username of usernames) {
      const key = username.toLowerCase();
      if (this.state.usernames.has(key) || taken.has(key)) continue;
      taken.add(key);
      for (let attempt = 0; ; attempt++) {
        const id = newId();
        if (!this.state.rows.has(id) && !accounts.some(([other]) => other === id)) {
          accounts.push([id, username]);
          break;
        }
        // A random id that is taken: draw again, as register does.
        if (attempt >= 8) return Promise.reject(new MensageiroError('conflict', `id ${id} exists`));
      }
    }
    return this.write({ t: 'usernames', accounts, createdAt: Date.now() });
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    return this.state.user(id)?.account ?? null;
  }

  async findAccountByUsername(username: string): Promise<Account | null> {
    const id = this.state.usernames.get(username.toLowerCase());
    return id === undefined ? null : (this.state.user(id)?.account ?? null);
  }

  async idExists(id: AccountId): Promise<boolean> {
    return this.state.rows.has(id);
  }

  updateAccount(id: AccountId, change: AccountChange): Promise<Account> {
    return this.write({ t: 'update', id, change });
  }

  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): Promise<DeviceInfo> {
    return this.write({ t: 'device', account, tokenHash, name, at });
  }

  replaceDeviceToken(account: AccountId, device: number, tokenHash: string): Promise<boolean> {
    return this.write({ t: 'token', account, device, tokenHash });
  }

  async deviceForToken(tokenHash: string): Promise<{ account: AccountId; device: number } | null> {
    const found = this.state.tokens.get(tokenHash);
    return found ? { ...found } : null;
  }

  async listDevices(account: AccountId): Promise<DeviceInfo[]> {
    await this.durable();
    const devices = [...(this.state.user(account)?.devices.values() ?? [])].map((d) => ({ ...d.info }));
    return devices.sort((a, b) => a.device - b.device);
  }

  revokeDevices(account: AccountId, device: number | 'all', keep?: number): Promise<number[]> {
    return this.write({ t: 'revoke', account, device, keep: keep ?? null });
  }

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.write({ t: 'group', group });
  }

  async getGroup(id: AccountId): Promise<Group | null> {
    return this.state.groupOf(id)?.group ?? null;
  }

  changeGroup(change: GroupChangeRequest): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.write({ t: 'change', change });
  }

  appendMessage(message: NewMessage): Promise<AppendResult> {
    return this.write({ t: 'message', message });
  }

  async readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]> {
    const inbox = this.state.rows.get(user)?.inbox ?? [];
    const items: InboxItem[] = [];
    const upTo = Math.min(afterSeq + limit, inbox.length, this.readableBefore(user) - 1);
    for (let seq = Math.max(afterSeq, 0) + 1; seq <= upTo; seq++) {
      const item = this.state.item(seq, inbox[seq - 1]!);
      if (item.kind === 'msg' || item.kind === 'sent') {
        // Senders' names as they are now.
        const name = this.state.name(item.msg.from);
        if (name !== null) item.msg.fromName = name;
      }
      items.push(item);
    }
    return items;
  }

  async inboxState(user: AccountId, device = 0): Promise<{ delivered: number; last: number }> {
    const row = this.state.user(user);
    const delivered = device > 0 ? row?.devices.get(device)?.cursor : row?.delivered;
    return delivered === undefined ? { delivered: 0, last: 0 } : { delivered, last: row!.inbox.length };
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number, device = 0): Promise<Delivery[]> {
    return this.write({ t: 'ack', user, upTo: upToSeq, at, device, commit: this.nextCommit() });
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number, device = 0): Promise<Delivery[]> {
    return this.write({ t: 'read', reader, conv, mark, at, device, commit: this.nextCommit() });
  }

  async history(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }> {
    await this.durable();
    return this.views.page(user, conv, before, limit);
  }

  async messageReceipts(user: AccountId, mid: number): Promise<MessageReceipts | null> {
    await this.durable();
    return this.views.receiptsOf(user, mid);
  }

  async conversations(user: AccountId, limit: number): Promise<ConversationSummary[]> {
    await this.durable();
    return this.views.conversations(user, limit);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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
  GroupChange,
  HistoryMessage,
  InboxItem,
  MessageReceipts,
} from '../../core/types.js';
import { SqliteAccounts } from './accounts.js';
import { KIND_GROUP, KIND_READ, creation } from './inbox-rows.js';
import { SqliteDevices } from './devices.js';
import { SqliteGroups } from './groups.js';
import { SqliteHistory } from './history.js';
import { GroupCommit, type CommitObserver } from '../group-commit.js';
import { Checkpointer } from './checkpointer.js';
import { migrate } from './schema.js';
import { SqliteInbox, cache } from './inbox.js';
import { SqliteMessages } from './messages.js';
import { SqliteReceipts } from './receipts.js';
import { UnsyncedRows } from './unsynced-rows.js';
import { WalSync } from './wal-sync.js';

export interface SqliteStoreOptions {
  /** A directory (the file is `mensageiro.db` in it) or ':memory:'. */
  dataDir: string;
  /** FULL (default) fsyncs every commit; NORMAL trades the last commits on power loss for speed. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Memory for the inbox tail (see inbox-tail.ts); 0 turns it off. Default 64 MiB. */
  inboxTailBytes?: number;
  /** Where background problems (a failed checkpoint) are reported. */
  onWarning?: (message: string) => void;
  /** Told of every group commit, for the metrics. */
  commitObserver?: CommitObserver;
}

const PAGE_CACHE_MIB = 64;
const CHECKPOINT_INTERVAL_MS = 200;
const WAL_BACKSTOP_PAGES = 16_384;
/** How often the conversation index catches up while the server is quiet. */
const INDEX_INTERVAL_MS = 1_000;
/** Fewer new messages than this in an interval is quiet: a catch-up then costs no one. */
const QUIET_APPENDS = 1_000;

/**
 * The embedded store: better-sqlite3 in WAL mode, every write in the group commit. The inbox
 * streams live in inbox.ts, receipts in receipts.ts, and what was committed without an fsync in
 * unsynced-rows.ts; this class wires them to the Store port.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly commits: GroupCommit;
  private readonly checkpointer: Checkpointer | null = null;
  private readonly warn: (message: string) => void;
  private readonly unsynced: UnsyncedRows;
  private readonly accounts: SqliteAccounts;
  private readonly inbox: SqliteInbox;
  private readonly receipts: SqliteReceipts;
  private readonly messages: SqliteMessages;
  private readonly devices: SqliteDevices;
  private readonly groupRows: SqliteGroups;
  /** Groups, read on every group send; a change updates the entry in its transaction. */
  private readonly groups = new Map<AccountId, Group>();
  private readonly historyIndex: SqliteHistory;
  private readonly indexTimer: NodeJS.Timeout;
  /** Messages appended since the index timer last ran: the server is quiet under one chunk. */
  private appendedSinceTick = 0;

  constructor(options: SqliteStoreOptions) {
    let file = ':memory:';
    if (options.dataDir !== ':memory:') {
      fs.mkdirSync(options.dataDir, { recursive: true });
      file = path.join(options.dataDir, 'mensageiro.db');
    }
    this.warn = options.onWarning ?? console.warn;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('foreign_keys = OFF');
    // Every user's hot inbox and index pages stay in memory; the 2 MiB default thrashed at 1,000 users.
    this.db.pragma(`cache_size = -${PAGE_CACHE_MIB * 1024}`);
    let walSync: WalSync | null = null;
    if (file !== ':memory:') {
      // Under steady writes the worker never quite reaches the WAL's end, and SQLite starts the
      // WAL over only after a checkpoint that does. The commit that crosses this size runs that
      // one, with at most one interval's pages left to copy.
      this.db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
      this.checkpointer = new Checkpointer(file, CHECKPOINT_INTERVAL_MS, this.warn);
      if ((options.synchronous ?? 'FULL') === 'FULL') walSync = new WalSync(`${file}-wal`);
    }
    migrate(this.db);
    const db = this.db;
    this.unsynced = new UnsyncedRows(db, walSync, this.warn);
    this.accounts = new SqliteAccounts(db);
    this.inbox = new SqliteInbox(db, this.accounts, this.unsynced, options.inboxTailBytes);
    this.receipts = new SqliteReceipts(db, this.inbox, this.accounts, (id) => this.groupOf(id));
    this.devices = new SqliteDevices(db);
    this.messages = new SqliteMessages(db, this.inbox, this.accounts, this.devices);
    this.groupRows = new SqliteGroups(db);
    this.historyIndex = new SqliteHistory(db, {
      nameOf: (id) => this.accounts.name(id),
      group: (id) => this.groupOf(id),
      isUser: (id) => this.accounts.user(id) !== null,
      deliveredSeqOf: (id) => this.inbox.deliveredSeqOf(id),
    });
    this.commits = new GroupCommit(
      {
        transaction: (body, durable) => {
          this.receipts.beginCommit();
          try {
            this.unsynced.transaction(body, durable);
          } finally {
            this.receipts.endCommit();
          }
        },
        savepoint: (op) => {
          // A batch replayed op by op: a rolled-back op must leave its neighbours' receipts alone.
          this.receipts.endCommit();
          return this.db.transaction(op)();
        },
        onRollback: () => {
          this.inbox.clear();
          this.accounts.clear();
          this.groups.clear();
          this.devices.clear();
          this.historyIndex.reload();
        },
        ...(this.unsynced.syncs && { sync: (done) => this.unsynced.sync(done) }),
      },
      options.commitObserver ?? null,
    );
    this.indexTimer = setInterval(() => this.indexWhenQuiet(), INDEX_INTERVAL_MS).unref();
    this.inbox.warm();
  }

  /** Keeps the conversation index close behind the messages, but only while writes are few. */
  private indexWhenQuiet(): void {
    const quiet = this.appendedSinceTick < QUIET_APPENDS;
    this.appendedSinceTick = 0;
    if (quiet && this.historyIndex.behind()) {
      this.commits
        .submit(() => this.historyIndex.catchUp(), { lazy: true })
        .catch((error: unknown) => {
          this.warn(`indexing history failed: ${(error as Error).message}`);
        });
    }
  }

  /** Catches the index up with every message committed so far, a chunk per transaction. */
  private async indexHistory(): Promise<void> {
    // Up to what was committed when asked: a steady stream of sends must not keep it going.
    const target = this.historyIndex.lastMid();
    while (this.historyIndex.behind(target))
      await this.commits.submit(() => this.historyIndex.catchUp(), { lazy: true });
  }

  /** The open database, for backup.ts, admin-queries.ts and retention.ts. */
  get database(): Database.Database {
    return this.db;
  }

  /** Runs `op` in the next group commit, in order with every other write. */
  write<T>(op: () => T): Promise<T> {
    return this.commits.submit(op);
  }

  /** Drops what is cached of an account or group that an operator changed or removed. */
  forget(id: AccountId): void {
    this.accounts.forget(id);
    this.groups.delete(id);
    this.inbox.forget(id);
  }

  get committedBatches(): number {
    return this.commits.committedBatches;
  }

  /** How many inbox pages were read from the file, not from the tail in memory. */
  get inboxPagesFromFile(): number {
    return this.inbox.pagesFromFile;
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.commits.submit(() => this.accounts.create(account));
  }

  ensureUsernames(usernames: string[], newId: () => AccountId): Promise<number> {
    return this.commits.submit(() => this.accounts.ensureUsernames(usernames, newId));
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    return this.accounts.user(id);
  }

  updateAccount(id: AccountId, change: AccountChange): Promise<Account> {
    return this.commits.submit(() => this.accounts.update(id, change));
  }

  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): Promise<DeviceInfo> {
    return this.commits.submit(() =>
      this.devices.create(account, tokenHash, name, at, this.inbox.deliveredSeqOf(account) ?? 0),
    );
  }

  replaceDeviceToken(account: AccountId, device: number, tokenHash: string, at: number): Promise<boolean> {
    return this.commits.submit(() => this.devices.replaceToken(account, device, tokenHash, at));
  }

  async deviceForToken(tokenHash: string): Promise<{ account: AccountId; device: number } | null> {
    return this.devices.forToken(tokenHash);
  }

  async listDevices(account: AccountId): Promise<DeviceInfo[]> {
    return this.devices.list(account);
  }

  revokeDevices(account: AccountId, device: number | 'all', keep?: number): Promise<number[]> {
    return this.commits.submit(() => this.devices.revoke(account, device, keep));
  }

  async findAccountByUsername(username: string): Promise<Account | null> {
    return this.accounts.byUsername(username);
  }

  async idExists(id: AccountId): Promise<boolean> {
    return this.accounts.kindOf(id) !== undefined;
  }

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.commits.submit(() => {
      this.accounts.insert({
        id: group.id,
        kind: 'group',
        username: null,
        secretHash: null,
        displayName: null,
        groupName: group.name,
        creator: group.creator,
        clientTs: group.ts,
        createdAt: group.at,
      });
      const stored: Group = { ...group, members: [...group.members], admins: [] };
      this.groupRows.addFounders(stored);
      this.groups.set(stored.id, stored);
      return { group: stored, deliveries: this.appendNotice(stored, creation(stored), stored.members) };
    });
  }

  async getGroup(id: AccountId): Promise<Group | null> {
    return this.groupOf(id);
  }

  private groupOf(id: AccountId): Group | null {
    const cached = this.groups.get(id);
    if (cached) return cached;
    const group = this.groupRows.load(id);
    return group ? cache(this.groups, id, group) : null;
  }

  changeGroup(change: GroupChangeRequest): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.commits.submit(() => {
      const current = this.groupOf(change.gid);
      if (!current) throw new MensageiroError('unknown_recipient', `unknown group ${change.gid}`);
      const applied = this.groupRows.apply(current, change);
      this.groups.set(change.gid, applied.group);
      const notice: GroupChange = {
        action: change.action,
        by: change.by,
        affected: applied.affected,
        ts: change.ts,
        at: change.at,
      };
      const audience = [...applied.group.members, ...applied.removed];
      return { group: applied.group, deliveries: this.appendNotice(applied.group, notice, audience) };
    });
  }

  /** The group notice, stored and forwarded in each of `audience`'s inboxes. */
  private appendNotice(group: Group, change: GroupChange, audience: AccountId[]): Delivery[] {
    const notice = { group, change, names: group.members.map((m) => this.accounts.name(m)) };
    const body = JSON.stringify(notice);
    return audience.map((member) =>
      this.inbox.append(member, KIND_GROUP, group.id, body, (seq) => ({ seq, kind: 'group', ...notice })),
    );
  }

  appendMessage(input: NewMessage): Promise<AppendResult> {
    this.appendedSinceTick++;
    return this.commits.submit(() => {
      const direct = input.recipients.length === 1 && input.recipients[0] === input.to;
      // The members as of this commit: a change committed after the send was prepared wins,
      // so a member removed in between gets nothing.
      const recipients = direct ? input.recipients : this.groupRecipients(input.from, input.to);
      return this.messages.append(input, recipients, direct);
    });
  }

  readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]> {
    return this.inbox.read(user, afterSeq, limit);
  }

  async inboxState(user: AccountId, device = 0): Promise<{ delivered: number; last: number }> {
    const delivered = device > 0 ? this.devices.cursor(user, device) : this.inbox.deliveredSeqOf(user);
    return delivered === undefined
      ? { delivered: 0, last: 0 }
      : { delivered, last: this.inbox.lastSeqOf(user) };
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number, device = 0): Promise<Delivery[]> {
    // Lazy: a drain acks every turn, and an fsync each time held the loop off the socket. The
    // receipts still reach no one before the sync, and a lost ack only repeats a delivery.
    return this.commits.submit(
      () => {
        const delivered = this.inbox.deliveredSeqOf(user);
        if (delivered === undefined) return [];
        const upTo = Math.min(upToSeq, this.inbox.lastSeqOf(user));
        if (device > 0) {
          // The device's own cursor; the account's watermark below moves only past every device.
          const cursor = this.devices.cursor(user, device);
          if (cursor !== undefined && upTo > cursor) this.devices.setCursor(user, device, upTo);
        }
        if (upTo <= delivered) return [];
        return this.receipts.delivered(user, this.inbox.deliver(user, delivered, upTo), at);
      },
      { lazy: true },
    );
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number, device = 0): Promise<Delivery[]> {
    return this.commits.submit(() => {
      const deliveries = this.receipts.read(reader, conv, mark, at);
      if (deliveries === null) return [];
      // The reader's own mark: what `mid` says, or the newest message the receipts found.
      let readMid = 'mid' in mark ? mark.mid : 0;
      for (const { item } of deliveries)
        if (item.kind === 'receipt') readMid = Math.max(readMid, item.receipt.mid);
      if (
        readMid > 0 &&
        this.historyIndex.raiseReadMark(reader, conv, readMid) &&
        this.devices.count(reader) > 1
      ) {
        const body = JSON.stringify([conv, device]);
        deliveries.push(
          this.inbox.append(reader, KIND_READ, readMid, body, (seq) => ({
            seq,
            kind: 'read',
            conv,
            mid: readMid,
            device,
          })),
        );
      }
      return deliveries;
    });
  }

  async history(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }> {
    await this.indexHistory();
    return this.historyIndex.page(user, conv, before, limit);
  }

  async messageReceipts(user: AccountId, mid: number): Promise<MessageReceipts | null> {
    return this.historyIndex.receiptsOf(user, mid);
  }

  async conversations(user: AccountId, limit: number): Promise<ConversationSummary[]> {
    await this.indexHistory();
    return this.historyIndex.conversations(user, limit);
  }

  /** A group message goes to the group's members now, but its sender, who must be one. */
  private groupRecipients(from: AccountId, gid: AccountId): AccountId[] {
    const group = this.groupOf(gid);
    if (!group || !group.members.includes(from)) {
      throw new MensageiroError('forbidden', `you are not in group ${gid}`);
    }
    return group.members.filter((member) => member !== from);
  }

  async close(): Promise<void> {
    clearInterval(this.indexTimer);
    await this.commits.drained();
    this.unsynced.close();
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }
}

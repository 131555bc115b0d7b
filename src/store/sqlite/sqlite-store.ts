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
  DeliveredMessage,
  DeviceInfo,
  Group,
  GroupChange,
  HistoryMessage,
  InboxItem,
  MessageReceipts,
  Receipt,
  StoredMessage,
} from '../../core/types.js';
import { SqliteAccounts } from './accounts.js';
import {
  KIND_GROUP,
  KIND_MSG,
  KIND_READ,
  KIND_RECEIPT,
  KIND_SENT,
  creation,
  toInboxItem,
  type InboxRow,
  type UnackedRow,
} from './inbox-rows.js';
import { SqliteDevices } from './devices.js';
import { SqliteGroups } from './groups.js';
import { SqliteHistory } from './history.js';
import { GroupCommit, type CommitObserver } from '../group-commit.js';
import { Checkpointer } from './checkpointer.js';
import { RECEIPT_STATUS_CODES, packReceipt } from './receipt-body.js';
import { migrate } from './schema.js';
import { InboxTail, type RangeRow } from './inbox-tail.js';
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

/** Items handed to the tail at a time while it is warmed at open. */
const WARM_PAGE = 512;

/** How often the conversation index catches up while the server is quiet. */
const INDEX_INTERVAL_MS = 1_000;
/** Fewer new messages than this in an interval is quiet: a catch-up then costs no one. */
const QUIET_APPENDS = 1_000;
/**
 * How many of a reader's newest 1:1 messages a read receipt looks through for the peer's last
 * one. It bounds what one `read` frame can cost (a zap 08 may name a peer who never wrote); a
 * mark further back than this many newer messages gives no receipt.
 */
const READ_RECEIPT_WALK = 10_000;

export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly commits: GroupCommit;
  private readonly sql;
  private readonly checkpointer: Checkpointer | null = null;
  private readonly warn: (message: string) => void;
  /** Syncs commits made without an fsync (delivery acks); null when none are made so. */
  private readonly walSync: WalSync | null = null;
  /**
   * Inbox rows committed without an fsync, as each user's first such seq: readers stop short of
   * it until a sync, because a seq a client has seen must survive a power cut, or it would be
   * handed out again to another item.
   */
  private readonly unsyncedFrom = new Map<AccountId, number>();
  /** The same, for the rows the sync in flight covers. */
  private readonly syncingFrom = new Map<AccountId, number>();
  /** Rows of the open transaction, when it commits without an fsync. */
  private lazyRows: Map<AccountId, number> | null = null;
  private readonly devices: SqliteDevices;
  private readonly groupRows: SqliteGroups;
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
    this.tail = new InboxTail(options.inboxTailBytes);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('foreign_keys = OFF');
    // Every user's hot inbox and index pages stay in memory; the 2 MiB default thrashed at 1,000 users.
    this.db.pragma(`cache_size = -${PAGE_CACHE_MIB * 1024}`);
    if (file !== ':memory:') {
      // Under steady writes the worker never quite reaches the WAL's end, and SQLite starts the
      // WAL over only after a checkpoint that does. The commit that crosses this size runs that
      // one, with at most one interval's pages left to copy.
      this.db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
      this.checkpointer = new Checkpointer(file, CHECKPOINT_INTERVAL_MS, this.warn);
      if ((options.synchronous ?? 'FULL') === 'FULL') this.walSync = new WalSync(`${file}-wal`);
    }
    migrate(this.db);
    const db = this.db;
    this.sql = {
      members: db.prepare(`SELECT member FROM group_members WHERE group_id = ? ORDER BY position`).pluck(),
      lastSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) FROM inbox WHERE user = ?`).pluck(),
      deliveredSeq: db.prepare(`SELECT delivered_seq FROM accounts WHERE id = ?`).pluck(),
      setDelivered: db.prepare(`UPDATE accounts SET delivered_seq = ? WHERE id = ?`),
      // OR IGNORE with run() rather than ON CONFLICT ... RETURNING: the same dedup, at half the
      // cost, because RETURNING makes SQLite gather the rows before the statement completes.
      insertMessage: db.prepare(
        `INSERT OR IGNORE INTO messages (sender, conv, cid, text, ts, at, in_group) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      messageByCid: db.prepare(`SELECT * FROM messages WHERE sender = ? AND cid = ?`),
      insertInbox: db.prepare(`INSERT INTO inbox (user, seq, kind, mid, body) VALUES (?, ?, ?, ?, ?)`),
      readInbox: db
        .prepare(
          `SELECT i.seq, i.kind, i.body, i.mid, m.sender, m.conv, m.text, m.ts, m.at
         FROM inbox i LEFT JOIN messages m ON i.kind IN (${KIND_MSG}, ${KIND_SENT}) AND m.mid = i.mid
         WHERE i.user = ? AND i.seq > ? AND i.seq < ? ORDER BY i.seq LIMIT ?`,
        )
        .raw(),
      // Every user's items past the delivered watermark, user by user, in order: the inbox's
      // primary key is sought once per account, from its watermark on. CROSS JOIN keeps the
      // accounts as the outer loop, so acked history is never scanned.
      unackedItems: db
        .prepare(
          `SELECT i.seq, i.kind, i.body, i.mid, m.sender, m.conv, m.text, m.ts, m.at, a.id
         FROM accounts a CROSS JOIN inbox i ON i.user = a.id AND i.seq > a.delivered_seq
         LEFT JOIN messages m ON i.kind IN (${KIND_MSG}, ${KIND_SENT}) AND m.mid = i.mid
         WHERE a.kind = 'user' ORDER BY a.id, i.seq`,
        )
        .raw(),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
      // A bare column next to max() comes from the row holding the maximum (SQLite guarantees it).
      lastPerConversationInRange: db.prepare(
        `SELECT m.sender, m.conv, max(m.mid) AS mid, m.ts FROM inbox i JOIN messages m ON m.mid = i.mid
         WHERE i.user = ? AND i.seq > ? AND i.seq <= ? AND i.kind = ${KIND_MSG} GROUP BY m.sender, m.conv`,
      ),
      raiseGroupDelivered: db.prepare(
        `INSERT INTO group_delivered (group_id, member, mid) VALUES (?, ?, ?)
         ON CONFLICT (group_id, member) DO UPDATE SET mid = max(mid, excluded.mid)`,
      ),
      groupDelivered: db.prepare(`SELECT mid FROM group_delivered WHERE group_id = ? AND member = ?`).pluck(),
      // Group messages only: the partial index messages_group serves these.
      lastInGroupUpToMid: db.prepare(
        `SELECT mid, ts FROM messages WHERE conv = ? AND sender = ? AND mid <= ? AND in_group = 1
         ORDER BY mid DESC LIMIT 1`,
      ),
      lastInGroupUpToTs: db.prepare(
        `SELECT mid, ts FROM messages WHERE conv = ? AND sender = ? AND ts <= ? AND in_group = 1
         ORDER BY mid DESC LIMIT 1`,
      ),
      groupSendersUpToMid: db
        .prepare(
          `SELECT DISTINCT sender FROM messages WHERE conv = ? AND sender != ? AND mid <= ? AND in_group = 1`,
        )
        .pluck(),
      groupSendersUpToTs: db
        .prepare(
          `SELECT DISTINCT sender FROM messages WHERE conv = ? AND sender != ? AND ts <= ? AND in_group = 1`,
        )
        .pluck(),
      // 1:1 messages to a user, newest first; mids rise with seqs in every inbox.
      directMessagesNewestFirst: db
        .prepare(
          `SELECT m.mid, m.ts, m.sender FROM inbox i JOIN messages m ON m.mid = i.mid
           WHERE i.user = ? AND i.kind = ${KIND_MSG} AND m.conv = i.user ORDER BY i.seq DESC
           LIMIT ${READ_RECEIPT_WALK}`,
        )
        .raw(),
      directMessage: db
        .prepare(`SELECT ts FROM messages WHERE mid = ? AND sender = ? AND conv = ? AND in_group = 0`)
        .pluck(),
      receiptMark: db
        .prepare(`SELECT mid FROM receipt_marks WHERE sender = ? AND conv = ? AND by_id = ? AND status = ?`)
        .pluck(),
      setReceiptMark: db.prepare(
        `INSERT INTO receipt_marks (sender, conv, by_id, status, mid) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sender, conv, by_id, status) DO UPDATE SET mid = excluded.mid`,
      ),
    };
    const walSync = this.walSync;
    this.commits = new GroupCommit(
      {
        transaction: (body, durable) => this.transaction(body, durable),
        savepoint: (op) => this.db.transaction(op)(),
        onRollback: () => {
          this.lastSeqs.clear();
          this.deliveredSeqs.clear();
          this.tail.clear();
          this.accounts.clear();
          this.groups.clear();
          this.devices.clear();
          this.historyIndex.reload();
        },
        ...(walSync && { sync: (done) => this.syncWal(walSync, done) }),
      },
      options.commitObserver ?? null,
    );
    this.accounts = new SqliteAccounts(db);
    this.devices = new SqliteDevices(db);
    this.groupRows = new SqliteGroups(db);
    this.historyIndex = new SqliteHistory(db, {
      nameOf: (id) => this.accounts.name(id),
      group: (id) => this.groupOf(id),
      isUser: (id) => this.accounts.user(id) !== null,
      deliveredSeqOf: (id) => this.deliveredSeqOf(id),
    });
    this.indexTimer = setInterval(() => this.indexWhenQuiet(), INDEX_INTERVAL_MS).unref();
    this.warmTail();
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

  /**
   * Reads what every user has not acked into the tail, until it is half full, before the
   * server takes its first client: after a restart, the clients that reconnect to a backlog
   * get it from memory rather than from the file, page by page, on a cold page cache, which
   * made such a drain 2-3x as slow as one from memory. The other half is left for what
   * arrives next.
   */
  private warmTail(): void {
    if (this.tail.halfFull) return;
    let user = 0;
    let after = 0;
    let page: InboxItem[] = [];
    // False once the tail holds its share; the rows left come from the file when asked for.
    const flush = (): boolean => {
      this.tail.read(user, after, page);
      after += page.length;
      page = [];
      return !this.tail.halfFull;
    };
    for (const row of this.sql.unackedItems.iterate() as Iterable<UnackedRow>) {
      const owner = row[9];
      if (owner !== user) {
        if (!flush()) return;
        user = owner;
        after = row[0] - 1;
      }
      page.push(toInboxItem(row));
      if (page.length === WARM_PAGE && !flush()) return;
    }
    flush();
  }

  /**
   * Each user's last inbox seq, so appending costs no UPDATE. It is filled from the inbox's
   * primary key and dropped whenever a transaction rolls back, so it never runs ahead of the file.
   */
  private readonly lastSeqs = new Map<AccountId, number>();
  /** Each user's delivered watermark, under the same rule. */
  private readonly deliveredSeqs = new Map<AccountId, number>();
  /** What each user has not acked, so its pages and its acks' receipts cost no query. */
  private readonly tail: InboxTail;
  private pagesFromFile = 0;
  private readonly accounts: SqliteAccounts;
  /** Groups, read on every group send; a change updates the entry in its transaction. */
  private readonly groups = new Map<AccountId, Group>();

  private cache<K, V>(map: Map<K, V>, key: K, value: V): V {
    if (map.size >= 100_000) map.clear();
    map.set(key, value);
    return value;
  }

  private transaction(body: () => void, durable: boolean): void {
    if (durable || this.walSync === null) {
      this.db.transaction(body).immediate();
      // This commit's fsync brought every earlier one to disk too.
      this.unsyncedFrom.clear();
      this.syncingFrom.clear();
      return;
    }
    this.sql.syncNormal.run();
    const rows = new Map<AccountId, number>();
    this.lazyRows = rows;
    try {
      this.db.transaction(body).immediate();
    } finally {
      this.lazyRows = null;
      this.sql.syncFull.run();
    }
    for (const [user, seq] of rows) if (!this.unsyncedFrom.has(user)) this.unsyncedFrom.set(user, seq);
  }

  private syncWal(walSync: WalSync, done: (error: Error | null) => void): void {
    for (const [user, seq] of this.unsyncedFrom)
      if (!this.syncingFrom.has(user)) this.syncingFrom.set(user, seq);
    this.unsyncedFrom.clear();
    walSync.sync((error) => {
      if (error) this.warn(`syncing the WAL failed: ${error.message}`);
      else this.syncingFrom.clear();
      done(error);
    });
  }

  /** The first seq of a user's inbox that readers may not see yet. */
  private readableBefore(user: AccountId): number {
    const unsynced = this.unsyncedFrom.get(user) ?? Number.MAX_SAFE_INTEGER;
    return Math.min(unsynced, this.syncingFrom.get(user) ?? Number.MAX_SAFE_INTEGER);
  }

  /** Undefined when there is no such account. */
  private deliveredSeqOf(user: AccountId): number | undefined {
    let delivered = this.deliveredSeqs.get(user);
    if (delivered === undefined) {
      delivered = this.sql.deliveredSeq.get(user) as number | undefined;
      if (delivered !== undefined) this.cache(this.deliveredSeqs, user, delivered);
    }
    return delivered;
  }

  private lastSeqOf(user: AccountId): number {
    let last = this.lastSeqs.get(user);
    if (last === undefined) {
      last = this.sql.lastSeq.get(user) as number;
      this.cache(this.lastSeqs, user, last);
    }
    return last;
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
    this.lastSeqs.delete(id);
    this.deliveredSeqs.delete(id);
  }

  get committedBatches(): number {
    return this.commits.committedBatches;
  }

  /** How many inbox pages were read from the file, not from the tail in memory. */
  get inboxPagesFromFile(): number {
    return this.pagesFromFile;
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.commits.submit(() => {
      const row = {
        id: account.id,
        username: account.username ?? null,
        secretHash: account.secretHash ?? null,
        displayName: account.displayName ?? null,
        createdAt: Date.now(),
      };
      this.accounts.insert({ ...row, kind: 'user', groupName: null, creator: null, clientTs: null });
      return row;
    });
  }

  ensureUsernames(usernames: string[], newId: () => AccountId): Promise<number> {
    return this.commits.submit(() => {
      const createdAt = Date.now();
      let created = 0;
      for (const username of usernames) {
        if (this.accounts.byUsername(username)) continue;
        for (let attempt = 0; ; attempt++) {
          try {
            this.accounts.insert({
              id: newId(),
              kind: 'user',
              username,
              secretHash: null,
              displayName: null,
              groupName: null,
              creator: null,
              clientTs: null,
              createdAt,
            });
            created++;
            break;
          } catch (error) {
            // A random id that is taken: draw again, as register does.
            if (!(error instanceof MensageiroError && error.code === 'conflict') || attempt >= 8) throw error;
          }
        }
      }
      return created;
    });
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    return this.accounts.user(id);
  }

  updateAccount(id: AccountId, change: AccountChange): Promise<Account> {
    return this.commits.submit(() => this.accounts.update(id, change));
  }

  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): Promise<DeviceInfo> {
    return this.commits.submit(() =>
      this.devices.create(account, tokenHash, name, at, this.deliveredSeqOf(account) ?? 0),
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
    return group ? this.cache(this.groups, id, group) : null;
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
      this.appendItem(member, KIND_GROUP, group.id, body, (seq) => ({ seq, kind: 'group', ...notice })),
    );
  }

  appendMessage(input: NewMessage): Promise<AppendResult> {
    this.appendedSinceTick++;
    return this.commits.submit(() => {
      const direct = input.recipients.length === 1 && input.recipients[0] === input.to;
      // The members as of this commit: a change committed after the send was prepared wins,
      // so a member removed in between gets nothing.
      const recipients = direct ? input.recipients : this.groupRecipients(input.from, input.to);
      const inserted = this.sql.insertMessage.run(
        input.from,
        input.to,
        input.cid,
        input.text,
        input.ts,
        input.at,
        direct ? 0 : 1,
      );
      if (inserted.changes === 0) {
        // (sender, cid) is already stored: a resend. Acknowledge the original, deliver nothing.
        const existing = this.sql.messageByCid.get(input.from, input.cid) as Omit<
          StoredMessage,
          'from' | 'to'
        > & {
          sender: number;
          conv: number;
        };
        if (existing === undefined) throw new MensageiroError('internal', 'the message was not stored');
        const message: StoredMessage = {
          mid: existing.mid,
          from: existing.sender,
          to: existing.conv,
          cid: existing.cid,
          text: existing.text,
          ts: existing.ts,
          at: existing.at,
        };
        return { message, duplicate: true, deliveries: [] };
      }
      const mid = Number(inserted.lastInsertRowid);
      const message: StoredMessage = {
        mid,
        from: input.from,
        to: input.to,
        cid: input.cid,
        text: input.text,
        ts: input.ts,
        at: input.at,
      };
      // Without the cid, the sender's own: what a recipient reads back from the file is the same.
      const delivered: DeliveredMessage = {
        mid,
        from: input.from,
        to: input.to,
        text: input.text,
        ts: input.ts,
        at: input.at,
      };
      const fromName = this.accounts.name(input.from);
      if (fromName !== null) delivered.fromName = fromName;
      const deliveries = recipients.map((user) =>
        this.appendItem(user, KIND_MSG, mid, null, (seq) => ({ seq, kind: 'msg', msg: delivered })),
      );
      const device = input.device ?? 0;
      if (device > 0 && this.devices.count(input.from) > 1 && !recipients.includes(input.from)) {
        deliveries.push(
          this.appendItem(input.from, KIND_SENT, mid, device, (seq) => ({
            seq,
            kind: 'sent',
            msg: delivered,
            device,
          })),
        );
      }
      return { message, duplicate: false, deliveries };
    });
  }

  async readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]> {
    const readableBefore = this.readableBefore(user);
    const upTo = Math.min(afterSeq + limit, readableBefore - 1, this.lastSeqOf(user));
    if (upTo <= afterSeq) return [];
    const held = this.tail.page(user, afterSeq, upTo);
    if (held !== null) return this.withNames(held);
    this.pagesFromFile++;
    const rows = this.sql.readInbox.all(user, afterSeq, readableBefore, limit) as InboxRow[];
    const items = rows.map(toInboxItem);
    // A draining client acks these next: the tail answers those acks.
    this.tail.read(user, afterSeq, items);
    return this.withNames(items);
  }

  /** Senders' names as they are now, on the messages of a page. */
  private withNames(items: InboxItem[]): InboxItem[] {
    // A page mostly comes from a few senders: the last one's name is kept at hand.
    let sender = 0;
    let name: string | null = null;
    for (const item of items) {
      if (item.kind !== 'msg' && item.kind !== 'sent') continue;
      if (item.msg.from !== sender) {
        sender = item.msg.from;
        name = this.accounts.name(sender);
      }
      if (name !== null) item.msg.fromName = name;
    }
    return items;
  }

  async inboxState(user: AccountId, device = 0): Promise<{ delivered: number; last: number }> {
    const delivered = device > 0 ? this.devices.cursor(user, device) : this.deliveredSeqOf(user);
    return delivered === undefined ? { delivered: 0, last: 0 } : { delivered, last: this.lastSeqOf(user) };
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number, device = 0): Promise<Delivery[]> {
    // Lazy: a drain acks every turn, and an fsync each time held the loop off the socket. The
    // receipts still reach no one before the sync, and a lost ack only repeats a delivery.
    return this.commits.submit(
      () => {
        const delivered = this.deliveredSeqOf(user);
        if (delivered === undefined) return [];
        const state = { delivered, last: this.lastSeqOf(user) };
        const upTo = Math.min(upToSeq, state.last);
        if (device > 0) {
          // The device's own cursor; the account's watermark below moves only past every device.
          const cursor = this.devices.cursor(user, device);
          if (cursor !== undefined && upTo > cursor) this.devices.setCursor(user, device, upTo);
        }
        if (upTo <= state.delivered) return [];
        // Watermarks: one receipt per (sender, conversation) for the whole range, not one per
        // message. The query returns each pair once, with its last message.
        const rows =
          this.tail.lastPerConversation(user, state.delivered, upTo) ??
          (this.sql.lastPerConversationInRange.all(user, state.delivered, upTo) as RangeRow[]);
        this.sql.setDelivered.run(upTo, user);
        this.deliveredSeqs.set(user, upTo);
        this.tail.acked(user, upTo);
        const deliveries: Delivery[] = [];
        for (const row of rows) {
          if (row.conv === user) {
            deliveries.push(
              this.appendReceipt(row.sender, {
                status: 'delivered',
                by: user,
                conv: user,
                mid: row.mid,
                ts: row.ts,
                at,
              }),
            );
          } else {
            this.sql.raiseGroupDelivered.run(row.conv, user, row.mid);
          }
        }
        // Only once this member's group watermarks are all raised can the group receipts be known.
        for (const row of rows) {
          if (row.conv === user) continue;
          const receipt = this.groupDeliveryReceipt(row.conv, row.sender, at);
          if (receipt) deliveries.push(receipt);
        }
        return deliveries;
      },
      { lazy: true },
    );
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number, device = 0): Promise<Delivery[]> {
    return this.commits.submit(() => {
      const deliveries = this.readReceipts(reader, conv, mark, at);
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
          this.appendItem(reader, KIND_READ, readMid, body, (seq) => ({
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

  /** Null when `conv` is no conversation of the reader's (no such account, or not a member). */
  private readReceipts(reader: AccountId, conv: AccountId, mark: ReadMark, at: number): Delivery[] | null {
    const kind = this.accounts.kindOf(conv);
    if (!kind) return null;
    const deliveries: Delivery[] = [];
    if (kind === 'group') {
      const members = this.groupOf(conv)?.members ?? [];
      if (!members.includes(reader)) return null;
      const senders = (
        'mid' in mark
          ? this.sql.groupSendersUpToMid.all(conv, reader, mark.mid)
          : this.sql.groupSendersUpToTs.all(conv, reader, mark.ts)
      ) as number[];
      for (const sender of senders) {
        const delivery = this.readReceipt(reader, conv, sender, mark, at);
        if (delivery) deliveries.push(delivery);
      }
    } else {
      const delivery = this.readReceipt(reader, reader, conv, mark, at);
      if (delivery) deliveries.push(delivery);
    }
    return deliveries;
  }

  async close(): Promise<void> {
    clearInterval(this.indexTimer);
    await this.commits.drained();
    this.walSync?.close();
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  private readReceipt(
    reader: AccountId,
    receiptConv: AccountId,
    sender: AccountId,
    mark: ReadMark,
    at: number,
  ): Delivery | null {
    const already =
      (this.sql.receiptMark.get(sender, receiptConv, reader, RECEIPT_STATUS_CODES.read) as
        number | undefined) ?? 0;
    const last =
      receiptConv === reader
        ? this.lastDirectUpTo(reader, sender, mark, already)
        : (('mid' in mark
            ? this.sql.lastInGroupUpToMid.get(receiptConv, sender, mark.mid)
            : this.sql.lastInGroupUpToTs.get(receiptConv, sender, mark.ts)) as
            { mid: number; ts: number } | undefined);
    if (!last || last.mid <= already) return null;
    this.sql.setReceiptMark.run(sender, receiptConv, reader, RECEIPT_STATUS_CODES.read, last.mid);
    return this.appendReceipt(sender, {
      status: 'read',
      by: reader,
      conv: receiptConv,
      mid: last.mid,
      ts: last.ts,
      at,
    });
  }

  /**
   * The last message from `sender` to `reader` within the mark, looking no further back than
   * the read receipt already sent: a walk over what arrived since, not over the whole inbox,
   * and over READ_RECEIPT_WALK messages at most.
   */
  private lastDirectUpTo(
    reader: AccountId,
    sender: AccountId,
    mark: ReadMark,
    already: number,
  ): { mid: number; ts: number } | undefined {
    if ('mid' in mark) {
      // Clients mark the last message they showed, so that one is nearly always the answer.
      const ts = this.sql.directMessage.get(mark.mid, sender, reader) as number | undefined;
      if (ts !== undefined) return mark.mid > already ? { mid: mark.mid, ts } : undefined;
    }
    for (const [mid, ts, from] of this.sql.directMessagesNewestFirst.iterate(reader) as Iterable<
      [number, number, number]
    >) {
      if (mid <= already) return undefined;
      if (from === sender && ('mid' in mark ? mid <= mark.mid : ts <= mark.ts)) return { mid, ts };
    }
    return undefined;
  }

  /** A group message is delivered once every member but its sender has it. */
  private groupDeliveryReceipt(group: AccountId, sender: AccountId, at: number): Delivery | null {
    const members = (this.groupOf(group)?.members ?? []).filter((m) => m !== sender);
    let everyone = Number.MAX_SAFE_INTEGER;
    for (const member of members) {
      const mid = (this.sql.groupDelivered.get(group, member) as number | undefined) ?? 0;
      everyone = Math.min(everyone, mid);
    }
    const last = this.sql.lastInGroupUpToMid.get(group, sender, everyone) as
      { mid: number; ts: number } | undefined;
    if (!last) return null;
    const already =
      (this.sql.receiptMark.get(sender, group, group, RECEIPT_STATUS_CODES.delivered) as
        number | undefined) ?? 0;
    if (last.mid <= already) return null;
    this.sql.setReceiptMark.run(sender, group, group, RECEIPT_STATUS_CODES.delivered, last.mid);
    return this.appendReceipt(sender, {
      status: 'delivered',
      by: group,
      conv: group,
      mid: last.mid,
      ts: last.ts,
      at,
    });
  }

  private appendReceipt(to: AccountId, receipt: Receipt): Delivery {
    return this.appendItem(to, KIND_RECEIPT, receipt.mid, packReceipt(receipt), (seq) => ({
      seq,
      kind: 'receipt',
      receipt,
    }));
  }

  private appendItem(
    to: AccountId,
    kind: number,
    mid: number | null,
    body: string | Buffer | number | null,
    build: (seq: number) => InboxItem,
  ): Delivery {
    if (!this.lastSeqs.has(to) && this.accounts.kindOf(to) === undefined) {
      throw new MensageiroError('unknown_account', `no account ${to}`);
    }
    const seq = this.lastSeqOf(to) + 1;
    this.sql.insertInbox.run(to, seq, kind, mid, body);
    this.lastSeqs.set(to, seq);
    if (this.lazyRows !== null && !this.lazyRows.has(to)) this.lazyRows.set(to, seq);
    const item = build(seq);
    this.tail.appended(to, item);
    return { to, item };
  }
}

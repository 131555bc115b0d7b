import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type { AccountId, Delivery, InboxItem } from '../../core/types.js';
import type { SqliteAccounts } from './accounts.js';
import { KIND_MSG, KIND_SENT, toInboxItem, type InboxRow, type UnackedRow } from './inbox-rows.js';
import { InboxTail, type RangeRow } from './inbox-tail.js';
import type { UnsyncedRows } from './unsynced-rows.js';

/** Items handed to the tail at a time while it is warmed at open. */
const WARM_PAGE = 512;
/** Entries a cache of per-account numbers holds before it starts over. */
const CACHE_ENTRIES = 100_000;

/**
 * Every account's inbox stream: appends with the next seq, pages for readers, the delivered
 * watermark, and the tail of unacked items held in memory (inbox-tail.ts). Each user's last seq
 * and delivered watermark are cached, filled from the file and dropped on any rollback, so they
 * never run ahead of it.
 */
export class SqliteInbox {
  private readonly lastSeqs = new Map<AccountId, number>();
  private readonly deliveredSeqs = new Map<AccountId, number>();
  /** What each user has not acked, so its pages and its acks' receipts cost no query. */
  private readonly tail: InboxTail;
  private fromFile = 0;
  private readonly sql;

  constructor(
    db: Database.Database,
    private readonly accounts: SqliteAccounts,
    private readonly unsynced: UnsyncedRows,
    tailBytes: number | undefined,
  ) {
    this.tail = new InboxTail(tailBytes);
    this.sql = {
      lastSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) FROM inbox WHERE user = ?`).pluck(),
      deliveredSeq: db.prepare(`SELECT delivered_seq FROM accounts WHERE id = ?`).pluck(),
      setDelivered: db.prepare(`UPDATE accounts SET delivered_seq = ? WHERE id = ?`),
      insert: db.prepare(`INSERT INTO inbox (user, seq, kind, mid, body) VALUES (?, ?, ?, ?, ?)`),
      rewrite: db.prepare(`UPDATE inbox SET mid = ?, body = ? WHERE user = ? AND seq = ?`),
      page: db
        .prepare(
          `SELECT i.seq, i.kind, i.body, i.mid, m.sender, m.conv, m.text, m.ts, m.at
         FROM inbox i LEFT JOIN messages m ON i.kind IN (${KIND_MSG}, ${KIND_SENT}) AND m.mid = i.mid
         WHERE i.user = ? AND i.seq > ? AND i.seq < ? ORDER BY i.seq LIMIT ?`,
        )
        .raw(),
      // Every user's items past the delivered watermark, user by user, in order: the inbox's
      // primary key is sought once per account, from its watermark on. CROSS JOIN keeps the
      // accounts as the outer loop, so acked history is never scanned.
      unacked: db
        .prepare(
          `SELECT i.seq, i.kind, i.body, i.mid, m.sender, m.conv, m.text, m.ts, m.at, a.id
         FROM accounts a CROSS JOIN inbox i ON i.user = a.id AND i.seq > a.delivered_seq
         LEFT JOIN messages m ON i.kind IN (${KIND_MSG}, ${KIND_SENT}) AND m.mid = i.mid
         WHERE a.kind = 'user' ORDER BY a.id, i.seq`,
        )
        .raw(),
      // A bare column next to max() comes from the row holding the maximum (SQLite guarantees it).
      lastPerConversation: db.prepare(
        `SELECT m.sender, m.conv, max(m.mid) AS mid, m.ts FROM inbox i JOIN messages m ON m.mid = i.mid
         WHERE i.user = ? AND i.seq > ? AND i.seq <= ? AND i.kind = ${KIND_MSG} GROUP BY m.sender, m.conv`,
      ),
    };
  }

  /** How many pages were read from the file, not from the tail in memory. */
  get pagesFromFile(): number {
    return this.fromFile;
  }

  lastSeqOf(user: AccountId): number {
    let last = this.lastSeqs.get(user);
    if (last === undefined) {
      last = this.sql.lastSeq.get(user) as number;
      cache(this.lastSeqs, user, last);
    }
    return last;
  }

  /** Undefined when there is no such account. */
  deliveredSeqOf(user: AccountId): number | undefined {
    let delivered = this.deliveredSeqs.get(user);
    if (delivered === undefined) {
      delivered = this.sql.deliveredSeq.get(user) as number | undefined;
      if (delivered !== undefined) cache(this.deliveredSeqs, user, delivered);
    }
    return delivered;
  }

  /**
   * Moves the user's delivered watermark from `from` to `upTo`, and returns the last message
   * per (sender, conversation) in that range, from which the delivery receipts are made.
   */
  deliver(user: AccountId, from: number, upTo: number): RangeRow[] {
    const rows =
      this.tail.lastPerConversation(user, from, upTo) ??
      (this.sql.lastPerConversation.all(user, from, upTo) as RangeRow[]);
    this.sql.setDelivered.run(upTo, user);
    this.deliveredSeqs.set(user, upTo);
    this.tail.acked(user, upTo);
    return rows;
  }

  /** Appends an item to `to`'s inbox with its next seq; `build` makes the item for that seq. */
  append(
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
    this.sql.insert.run(to, seq, kind, mid, body);
    this.lastSeqs.set(to, seq);
    this.unsynced.appended(to, seq);
    const item = build(seq);
    this.tail.appended(to, item);
    return { to, item };
  }

  /**
   * Rewrites an item appended in the open transaction (a receipt that a later one of the same
   * commit covers): same seq, new mid and body.
   */
  rewrite(to: AccountId, item: InboxItem, mid: number, body: Buffer): void {
    this.sql.rewrite.run(mid, body, to, item.seq);
    this.tail.replaced(to, item);
  }

  async read(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]> {
    const readableBefore = this.unsynced.readableBefore(user);
    const upTo = Math.min(afterSeq + limit, readableBefore - 1, this.lastSeqOf(user));
    if (upTo <= afterSeq) return [];
    const held = this.tail.page(user, afterSeq, upTo);
    if (held !== null) return this.withNames(held);
    this.fromFile++;
    const rows = this.sql.page.all(user, afterSeq, readableBefore, limit) as InboxRow[];
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

  /**
   * Reads what every user has not acked into the tail, until it is half full, before the
   * server takes its first client: after a restart, the clients that reconnect to a backlog
   * get it from memory rather than from the file, page by page, on a cold page cache, which
   * made such a drain 2-3x as slow as one from memory. The other half is left for what
   * arrives next.
   */
  warm(): void {
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
    for (const row of this.sql.unacked.iterate() as Iterable<UnackedRow>) {
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

  /** After a rollback nothing cached may run ahead of the file. */
  clear(): void {
    this.lastSeqs.clear();
    this.deliveredSeqs.clear();
    this.tail.clear();
  }

  forget(id: AccountId): void {
    this.lastSeqs.delete(id);
    this.deliveredSeqs.delete(id);
  }
}

export function cache<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= CACHE_ENTRIES) map.clear();
  map.set(key, value);
  return value;
}

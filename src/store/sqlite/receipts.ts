import type Database from 'better-sqlite3';
import type { ReadMark } from '../../core/ports.js';
import { readReceiptUpTo } from '../message-status.js';
import type { AccountId, Delivery, Group, Receipt } from '../../core/types.js';
import type { SqliteAccounts } from './accounts.js';
import type { SqliteInbox } from './inbox.js';
import { KIND_MSG, KIND_RECEIPT } from './inbox-rows.js';
import type { RangeRow } from './inbox-tail.js';
import { RECEIPT_STATUS_CODES, packReceipt } from './receipt-body.js';

/**
 * How many of a reader's newest 1:1 messages a read receipt looks through for the peer's last
 * one. It bounds what one `read` frame can cost (a zap 08 may name a peer who never wrote); a
 * mark further back than this many newer messages gives no receipt.
 */
const READ_RECEIPT_WALK = 10_000;

/**
 * Delivery and read receipts as watermarks: one per (sender, conversation) for what an ack or a
 * read covers, and one per (sender, conversation, status) for a whole commit, whatever number of
 * acks and reads in it moved that watermark: a later one rewrites the receipt row the commit
 * already appended, in place, rather than appending another. `receipt_marks` keeps read and
 * group receipts from going backwards or repeating.
 */
export class SqliteReceipts {
  private readonly sql;
  /**
   * The receipts appended in the open transaction, per recipient; null while they may not be
   * rewritten (outside a commit, and in a batch replayed op by op, where a rolled-back op must
   * not have changed a neighbour's receipt).
   */
  private inCommit: Map<AccountId, Delivery[]> | null = null;

  constructor(
    db: Database.Database,
    private readonly inbox: SqliteInbox,
    private readonly accounts: SqliteAccounts,
    private readonly groupOf: (id: AccountId) => Group | null,
  ) {
    this.sql = {
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
  }

  /** A transaction starts: its receipts may be merged until it ends or replays op by op. */
  beginCommit(): void {
    this.inCommit = new Map();
  }

  /** The transaction ended, or is replayed op by op after a failure. */
  endCommit(): void {
    this.inCommit = null;
  }

  /**
   * The receipts of `user`'s delivered watermark moving over `rows` (the last message of each
   * (sender, conversation) in the range): a 1:1 one now, a group's once every member has it.
   */
  delivered(user: AccountId, rows: RangeRow[], at: number): Delivery[] {
    const deliveries: Delivery[] = [];
    for (const row of rows) {
      if (row.conv === user) {
        const receipt: Receipt = { status: 'delivered', by: user, conv: user, mid: row.mid, ts: row.ts, at };
        this.append(row.sender, receipt, deliveries);
      } else {
        this.sql.raiseGroupDelivered.run(row.conv, user, row.mid);
      }
    }
    // Only once this member's group watermarks are all raised can the group receipts be known.
    for (const row of rows) if (row.conv !== user) this.groupDelivered(row.conv, row.sender, at, deliveries);
    return deliveries;
  }

  /** Read receipts for a mark; null when `conv` is no conversation of the reader's. */
  read(reader: AccountId, conv: AccountId, mark: ReadMark, at: number): Delivery[] | null {
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
      for (const sender of senders) this.readOne(reader, conv, sender, mark, at, deliveries);
    } else {
      this.readOne(reader, reader, conv, mark, at, deliveries);
    }
    return deliveries;
  }

  private readOne(
    reader: AccountId,
    receiptConv: AccountId,
    sender: AccountId,
    mark: ReadMark,
    at: number,
    deliveries: Delivery[],
  ): void {
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
    if (!last || last.mid <= already) return;
    this.sql.setReceiptMark.run(sender, receiptConv, reader, RECEIPT_STATUS_CODES.read, last.mid);
    this.append(sender, readReceiptUpTo(reader, receiptConv, last, at), deliveries);
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
  private groupDelivered(group: AccountId, sender: AccountId, at: number, deliveries: Delivery[]): void {
    const members = (this.groupOf(group)?.members ?? []).filter((m) => m !== sender);
    let everyone = Number.MAX_SAFE_INTEGER;
    for (const member of members) {
      const mid = (this.sql.groupDelivered.get(group, member) as number | undefined) ?? 0;
      everyone = Math.min(everyone, mid);
    }
    const last = this.sql.lastInGroupUpToMid.get(group, sender, everyone) as
      { mid: number; ts: number } | undefined;
    if (!last) return;
    const already =
      (this.sql.receiptMark.get(sender, group, group, RECEIPT_STATUS_CODES.delivered) as
        number | undefined) ?? 0;
    if (last.mid <= already) return;
    this.sql.setReceiptMark.run(sender, group, group, RECEIPT_STATUS_CODES.delivered, last.mid);
    const receipt: Receipt = { status: 'delivered', by: group, conv: group, mid: last.mid, ts: last.ts, at };
    this.append(sender, receipt, deliveries);
  }

  /**
   * Appends the receipt to `to`'s inbox, or, when this commit already appended one for the
   * same conversation, peer and status, moves that one's mark forward: the op that made it
   * hands the sender the later mark, and this op hands out nothing.
   */
  private append(to: AccountId, receipt: Receipt, deliveries: Delivery[]): void {
    const earlier = this.inCommit?.get(to);
    if (earlier !== undefined) {
      for (const delivery of earlier) {
        const item = delivery.item;
        if (item.kind !== 'receipt') continue;
        const had = item.receipt;
        if (had.conv !== receipt.conv || had.by !== receipt.by || had.status !== receipt.status) continue;
        // Watermarks only rise within a commit; a lower one says nothing new.
        if (receipt.mid > had.mid) {
          delivery.item = { seq: item.seq, kind: 'receipt', receipt };
          this.inbox.rewrite(to, delivery.item, receipt.mid, packReceipt(receipt));
        }
        return;
      }
    }
    const delivery = this.inbox.append(to, KIND_RECEIPT, receipt.mid, packReceipt(receipt), (seq) => ({
      seq,
      kind: 'receipt',
      receipt,
    }));
    deliveries.push(delivery);
    if (this.inCommit !== null) {
      if (earlier === undefined) this.inCommit.set(to, [delivery]);
      else earlier.push(delivery);
    }
  }
}

import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type {
  AccountId,
  ConversationSummary,
  Group,
  HistoryMessage,
  MessageReceipts,
  MessageStatus,
} from '../../core/types.js';
import { RECEIPT_STATUS_CODES } from './receipt-body.js';
import { historyMessage, participantStatus, statusRule, type Participant } from '../message-status.js';

/** Messages indexed per catch-up step: one lazy transaction of about this many rows. */
export const INDEX_CHUNK = 5_000;
/** Unread counts stop here: counting costs one index step per unread message. */
export const MAX_UNREAD = 9_999;
/** How far back in a peer's inbox a page looks for its last delivered message. */
const DELIVERED_WALK = 10_000;

type MessageRow = [mid: number, sender: number, conv: number, text: string, ts: number, at: number];

/** What the history needs of the store: names, groups, watermarks, all from its caches. */
export interface HistoryContext {
  nameOf(id: AccountId): string | null;
  group(id: AccountId): Group | null;
  isUser(id: AccountId): boolean;
  deliveredSeqOf(user: AccountId): number | undefined;
}

/**
 * History and conversation lists, served from `conversation_index` (a 1:1 pair as (low id,
 * high id), a group as (group id, 0)) and `conversations` (each account's 1:1 peers with their
 * last mid). Both are filled behind the messages by `catchUp`, a sequential read of the new
 * message rows, so sending costs no index write (docs/architecture.md).
 */
export class SqliteHistory {
  private readonly sql;
  private indexed: number;

  constructor(
    db: Database.Database,
    private readonly context: HistoryContext,
  ) {
    // Group-ness comes from the conversation's account row, not from `messages.in_group`: that
    // column sits after the text, and reading it would walk a long text's overflow pages.
    const group = `EXISTS (SELECT 1 FROM accounts g WHERE g.id = conv AND g.kind = 'group')`;
    const pairA = `CASE WHEN ${group} THEN conv ELSE min(sender, conv) END`;
    const pairB = `CASE WHEN ${group} THEN 0 ELSE max(sender, conv) END`;
    const upsertLast = `ON CONFLICT (owner, conv) DO UPDATE SET last_mid = max(last_mid, excluded.last_mid)`;
    this.sql = {
      indexed: db.prepare(`SELECT value FROM meta WHERE key = 'history_indexed_mid'`).pluck(),
      setIndexed: db.prepare(`UPDATE meta SET value = ? WHERE key = 'history_indexed_mid'`),
      lastMid: db.prepare(`SELECT COALESCE(max(mid), 0) FROM messages`).pluck(),
      indexPairs: db.prepare(
        `INSERT OR IGNORE INTO conversation_index (a, b, mid, sender)
         SELECT ${pairA}, ${pairB}, mid, sender FROM messages WHERE mid > ? AND mid <= ?`,
      ),
      indexSenders: db.prepare(
        `INSERT INTO conversations (owner, conv, last_mid)
         SELECT sender, conv, max(mid) FROM messages WHERE mid > ? AND mid <= ? AND NOT ${group}
         GROUP BY sender, conv ${upsertLast}`,
      ),
      indexRecipients: db.prepare(
        `INSERT INTO conversations (owner, conv, last_mid)
         SELECT conv, sender, max(mid) FROM messages WHERE mid > ? AND mid <= ? AND NOT ${group}
         GROUP BY conv, sender ${upsertLast}`,
      ),
      page: db
        .prepare(
          `SELECT m.mid, m.sender, m.conv, m.text, m.ts, m.at FROM conversation_index ci
           JOIN messages m ON m.mid = ci.mid
           WHERE ci.a = ? AND ci.b = ? AND ci.mid > ? AND ci.mid < ? ORDER BY ci.mid DESC LIMIT ?`,
        )
        .raw(),
      unreadFrom: db
        .prepare(
          `SELECT count(*) FROM (SELECT 1 FROM conversation_index
           WHERE a = ? AND b = ? AND mid > ? AND mid < ? AND sender = ? LIMIT ${MAX_UNREAD})`,
        )
        .pluck(),
      unreadNotFrom: db
        .prepare(
          `SELECT count(*) FROM (SELECT 1 FROM conversation_index
           WHERE a = ? AND b = ? AND mid > ? AND mid < ? AND sender != ? LIMIT ${MAX_UNREAD})`,
        )
        .pluck(),
      peers: db.prepare(`SELECT conv, last_mid FROM conversations WHERE owner = ?`).raw(),
      groups: db.prepare(`SELECT group_id, from_mid, to_mid FROM group_access WHERE member = ?`).raw(),
      access: db.prepare(`SELECT from_mid, to_mid FROM group_access WHERE group_id = ? AND member = ?`).raw(),
      readMark: db.prepare(`SELECT mid FROM read_marks WHERE owner = ? AND conv = ?`).pluck(),
      raiseReadMark: db.prepare(
        `INSERT INTO read_marks (owner, conv, mid) VALUES (?, ?, ?)
         ON CONFLICT (owner, conv) DO UPDATE SET mid = max(mid, excluded.mid)`,
      ),
      receiptMark: db
        .prepare(`SELECT mid FROM receipt_marks WHERE sender = ? AND conv = ? AND by_id = ? AND status = ?`)
        .pluck(),
      groupDelivered: db.prepare(`SELECT mid FROM group_delivered WHERE group_id = ? AND member = ?`).pluck(),
      message: db.prepare(`SELECT sender, conv FROM messages WHERE mid = ?`).raw(),
      lastDeliveredMid: db
        .prepare(
          `SELECT mid FROM inbox WHERE user = ? AND seq <= ? AND seq > ? AND kind = 1 ORDER BY seq DESC LIMIT 1`,
        )
        .pluck(),
    };
    this.indexed = this.sql.indexed.get() as number;
  }

  /** The newest message's mid: what a catch-up started now must reach. */
  lastMid(): number {
    return this.sql.lastMid.get() as number;
  }

  /** True while messages up to `mid` are waiting to be indexed. */
  behind(mid = this.lastMid()): boolean {
    return this.indexed < mid;
  }

  /** Indexes up to INDEX_CHUNK more messages; inside the store's transaction. */
  catchUp(): void {
    const last = this.sql.lastMid.get() as number;
    if (last <= this.indexed) return;
    const upTo = Math.min(last, this.indexed + INDEX_CHUNK);
    this.sql.indexPairs.run(this.indexed, upTo);
    this.sql.indexSenders.run(this.indexed, upTo);
    this.sql.indexRecipients.run(this.indexed, upTo);
    this.sql.setIndexed.run(upTo);
    this.indexed = upTo;
  }

  /** After a rollback the watermark is read again from the file. */
  reload(): void {
    this.indexed = this.sql.indexed.get() as number;
  }

  /** Raises `owner`'s read mark in `conv`; true when it moved. */
  raiseReadMark(owner: AccountId, conv: AccountId, mid: number): boolean {
    const before = (this.sql.readMark.get(owner, conv) as number | undefined) ?? 0;
    if (mid <= before) return false;
    this.sql.raiseReadMark.run(owner, conv, mid);
    return true;
  }

  page(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): { messages: HistoryMessage[]; more: boolean } {
    const view = this.view(user, conv);
    const below = Math.min(before ?? Number.MAX_SAFE_INTEGER, view.upTo + 1);
    const rows = this.sql.page.all(view.a, view.b, view.after, below, limit + 1) as MessageRow[];
    const more = rows.length > limit;
    const status = this.statusFor(user, conv, view.group);
    return { messages: rows.slice(0, limit).map((row) => this.toMessage(row, status)), more };
  }

  conversations(user: AccountId, limit: number): ConversationSummary[] {
    const found: Array<{ conv: AccountId; last: number; group: Group | null }> = [];
    for (const [conv, last] of this.sql.peers.all(user) as Array<[number, number]>) {
      found.push({ conv, last, group: null });
    }
    for (const [gid, from, to] of this.sql.groups.all(user) as Array<[number, number, number | null]>) {
      const group = this.context.group(gid);
      if (!group) continue;
      const newest = this.sql.page.all(gid, 0, from, (to ?? Number.MAX_SAFE_INTEGER) + 1, 1) as MessageRow[];
      found.push({ conv: gid, last: newest[0]?.[0] ?? from, group });
    }
    found.sort((x, y) => y.last - x.last);
    return found.slice(0, limit).map(({ conv, group }) => {
      const view = this.view(user, conv);
      const status = this.statusFor(user, conv, group);
      const newest = this.sql.page.all(view.a, view.b, view.after, view.upTo + 1, 1) as MessageRow[];
      const readMark = Math.max((this.sql.readMark.get(user, conv) as number | undefined) ?? 0, view.after);
      const unread = (
        group
          ? this.sql.unreadNotFrom.get(view.a, view.b, readMark, view.upTo + 1, user)
          : this.sql.unreadFrom.get(view.a, view.b, readMark, view.upTo + 1, conv)
      ) as number;
      return {
        conv,
        kind: group ? 'group' : 'user',
        name: group ? group.name : this.context.nameOf(conv),
        ...(group ? { members: group.members } : {}),
        last: newest[0] ? this.toMessage(newest[0], status) : null,
        unread,
      };
    });
  }

  /** Which index range `user` may read of `conv`. */
  private view(
    user: AccountId,
    conv: AccountId,
  ): { a: number; b: number; after: number; upTo: number; group: Group | null } {
    const group = this.context.group(conv);
    if (group) {
      const access = this.sql.access.get(conv, user) as [number, number | null] | undefined;
      if (!access) throw new MensageiroError('forbidden', `you were never in group ${conv}`);
      return { a: conv, b: 0, after: access[0], upTo: access[1] ?? Number.MAX_SAFE_INTEGER - 1, group };
    }
    if (!this.context.isUser(conv)) throw new MensageiroError('unknown_recipient', `unknown contact ${conv}`);
    return {
      a: Math.min(user, conv),
      b: Math.max(user, conv),
      after: 0,
      upTo: Number.MAX_SAFE_INTEGER - 1,
      group: null,
    };
  }

  /** Receipt state of each message of one conversation, from the marks the store keeps. */
  private statusFor(
    user: AccountId,
    conv: AccountId,
    group: Group | null,
  ): (mid: number, from: AccountId) => MessageStatus {
    const myReadMark = (this.sql.readMark.get(user, conv) as number | undefined) ?? 0;
    const others = this.participants(user, conv, group);
    return statusRule(user, myReadMark, others);
  }

  /** Who else is in `conv`, with how far each has `user`'s messages and read them. */
  private participants(user: AccountId, conv: AccountId, group: Group | null): Participant[] {
    const readMark = (by: AccountId) =>
      (this.sql.receiptMark.get(user, conv, by, RECEIPT_STATUS_CODES.read) as number | undefined) ?? 0;
    if (!group) {
      const seq = this.context.deliveredSeqOf(conv) ?? 0;
      const delivered =
        (this.sql.lastDeliveredMid.get(conv, seq, seq - DELIVERED_WALK) as number | undefined) ?? 0;
      const read = readMark(conv);
      return [{ member: conv, since: 0, read, delivered: Math.max(delivered, read) }];
    }
    return group.members
      .filter((member) => member !== user)
      .map((member) => {
        const access = this.sql.access.get(conv, member) as [number, number | null] | undefined;
        const read = readMark(member);
        const delivered = (this.sql.groupDelivered.get(conv, member) as number | undefined) ?? 0;
        return { member, since: access?.[0] ?? 0, read, delivered: Math.max(delivered, read) };
      });
  }

  /** Each other participant's state of a message `user` sent; null for any other message. */
  receiptsOf(user: AccountId, mid: number): MessageReceipts | null {
    const row = this.sql.message.get(mid) as [number, number] | undefined;
    if (!row || row[0] !== user) return null;
    const conv = row[1];
    const states = this.participants(user, conv, this.context.group(conv))
      .filter((p) => p.since < mid)
      .map((participant) => ({
        member: participant.member,
        name: this.context.nameOf(participant.member),
        status: participantStatus(participant, mid),
      }));
    return { mid, conv, states };
  }

  private toMessage(
    [mid, from, to, text, ts, at]: MessageRow,
    statusOf: (mid: number, from: AccountId) => MessageStatus,
  ): HistoryMessage {
    return historyMessage({ mid, from, to, text, ts, at }, this.context.nameOf(from), statusOf(mid, from));
  }
}

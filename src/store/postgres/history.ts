import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type {
  AccountId,
  ConversationSummary,
  Group,
  HistoryMessage,
  MessageReceipts,
  MessageStatus,
} from '../../core/types.js';
import { namesOf } from './append-messages.js';
import { loadGroup } from './groups.js';
import { ITEM_MSG } from './inbox-sql.js';
import { historyMessage, participantStatus, statusRule, type Participant } from '../message-status.js';

/** Unread counts stop here: counting costs one index step per unread message. */
const MAX_UNREAD = 9_999;
/** How far back in a peer's inbox a page looks for its last delivered message. */
const DELIVERED_WALK = 10_000;
const NEWEST = Number.MAX_SAFE_INTEGER - 1;

interface MessageRow {
  mid: number;
  sender: number;
  conv: number;
  text: string;
  ts: number;
  at: number;
}

/** Which messages `user` may read of `conv`: a 1:1 pair, or a group within their access window. */
interface View {
  conv: AccountId;
  group: Group | null;
  after: number;
  upTo: number;
}

/**
 * History pages and conversation lists, read straight from the messages' indexes
 * (`messages_conv` from both sides of a 1:1 pair, `messages_group` for a group), newest first.
 */
export class PostgresHistory {
  constructor(private readonly pool: pg.Pool) {}

  async page(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }> {
    const view = await this.view(user, conv);
    const below = Math.min(before ?? Number.MAX_SAFE_INTEGER, view.upTo + 1);
    const rows = await this.rows(user, view, below, limit + 1);
    const status = await this.statusFor(user, view);
    const messages = await this.toMessages(rows.slice(0, limit), status);
    return { messages, more: rows.length > limit };
  }

  async conversations(user: AccountId, limit: number): Promise<ConversationSummary[]> {
    const { rows: peers } = await this.pool.query<{ peer: number; last: number }>(
      `SELECT peer, max(mid) AS last FROM (
         SELECT conv AS peer, mid FROM messages WHERE sender = $1 AND NOT in_group
         UNION ALL SELECT sender, mid FROM messages WHERE conv = $1 AND NOT in_group) x
       GROUP BY peer`,
      [user],
    );
    const found: Array<{ conv: AccountId; last: number }> = peers.map((p) => ({
      conv: p.peer,
      last: p.last,
    }));
    const { rows: groups } = await this.pool.query<{
      group_id: number;
      from_mid: number;
      to_mid: number | null;
    }>(`SELECT group_id, from_mid, to_mid FROM group_access WHERE member = $1`, [user]);
    for (const g of groups) {
      const newest = await this.rows(
        user,
        { conv: g.group_id, group: null, after: g.from_mid, upTo: NEWEST },
        (g.to_mid ?? NEWEST) + 1,
        1,
        true,
      );
      found.push({ conv: g.group_id, last: newest[0]?.mid ?? g.from_mid });
    }
    found.sort((x, y) => y.last - x.last);
    const names = await namesOf(
      this.pool,
      found.map((f) => f.conv),
    );
    const summaries: ConversationSummary[] = [];
    for (const { conv } of found.slice(0, limit)) {
      const view = await this.view(user, conv);
      const status = await this.statusFor(user, view);
      const newest = await this.rows(user, view, view.upTo + 1, 1);
      const [last] = await this.toMessages(newest, status);
      const { rows: marks } = await this.pool.query<{ mid: number }>(
        `SELECT mid FROM read_marks WHERE owner = $1 AND conv = $2`,
        [user, conv],
      );
      const readMark = Math.max(marks[0]?.mid ?? 0, view.after);
      const { rows: unread } = await this.pool.query<{ n: string }>(
        view.group
          ? `SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE conv = $1 AND in_group AND mid > $2 AND mid <= $3 AND sender <> $4 LIMIT ${MAX_UNREAD}) x`
          : `SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE conv = $4 AND sender = $1 AND NOT in_group AND mid > $2 AND mid <= $3 LIMIT ${MAX_UNREAD}) x`,
        [conv, readMark, view.upTo, user],
      );
      summaries.push({
        conv,
        kind: view.group ? 'group' : 'user',
        name: view.group ? view.group.name : (names.get(conv) ?? null),
        ...(view.group ? { members: view.group.members } : {}),
        last: last ?? null,
        unread: Number(unread[0]!.n),
      });
    }
    return summaries;
  }

  private async view(user: AccountId, conv: AccountId): Promise<View> {
    const group = await loadGroup(this.pool, conv);
    if (group) {
      const { rows } = await this.pool.query<{ from_mid: number; to_mid: number | null }>(
        `SELECT from_mid, to_mid FROM group_access WHERE group_id = $1 AND member = $2`,
        [conv, user],
      );
      if (!rows[0]) throw new MensageiroError('forbidden', `you were never in group ${conv}`);
      return { conv, group, after: rows[0].from_mid, upTo: rows[0].to_mid ?? NEWEST };
    }
    const user_ = await this.pool.query(`SELECT 1 FROM accounts WHERE id = $1 AND kind = 1`, [conv]);
    if (user_.rowCount === 0) throw new MensageiroError('unknown_recipient', `unknown contact ${conv}`);
    return { conv, group: null, after: 0, upTo: NEWEST };
  }

  private async rows(
    user: AccountId,
    view: View,
    below: number,
    limit: number,
    inGroup = view.group !== null,
  ): Promise<MessageRow[]> {
    const { rows } = inGroup
      ? await this.pool.query<MessageRow>(
          `SELECT mid, sender, conv, text, ts, at FROM messages
           WHERE conv = $1 AND in_group AND mid > $2 AND mid < $3 ORDER BY mid DESC LIMIT $4`,
          [view.conv, view.after, below, limit],
        )
      : // Each side of the pair newest first on messages_conv, merged (UNION: a note to self
        // is found from both sides).
        await this.pool.query<MessageRow>(
          `SELECT * FROM (
             (SELECT mid, sender, conv, text, ts, at FROM messages
              WHERE conv = $1 AND sender = $2 AND NOT in_group AND mid < $3 ORDER BY mid DESC LIMIT $4)
             UNION
             (SELECT mid, sender, conv, text, ts, at FROM messages
              WHERE conv = $2 AND sender = $1 AND NOT in_group AND mid < $3 ORDER BY mid DESC LIMIT $4)
           ) pair ORDER BY mid DESC LIMIT $4`,
          [user, view.conv, below, limit],
        );
    return rows;
  }

  /** Receipt state of each message of one conversation, from the marks the store keeps. */
  private async statusFor(
    user: AccountId,
    view: View,
  ): Promise<(mid: number, from: AccountId) => MessageStatus> {
    const { rows: own } = await this.pool.query<{ mid: number }>(
      `SELECT mid FROM read_marks WHERE owner = $1 AND conv = $2`,
      [user, view.conv],
    );
    const myReadMark = own[0]?.mid ?? 0;
    const others = await this.participants(user, view.conv, view.group);
    return statusRule(user, myReadMark, others);
  }

  /** Who else is in `conv`, with how far each has `user`'s messages and has read them. */
  private async participants(user: AccountId, conv: AccountId, group: Group | null): Promise<Participant[]> {
    if (!group) {
      const { rows } = await this.pool.query<{ delivered: number | null; read: number | null }>(
        `SELECT (SELECT i.mid FROM accounts a JOIN inbox i ON i.account = a.id AND i.seq <= a.delivered_seq
                   AND i.seq > a.delivered_seq - ${DELIVERED_WALK} AND i.kind = ${ITEM_MSG}
                 WHERE a.id = $2 ORDER BY i.seq DESC LIMIT 1) AS delivered,
                (SELECT mid FROM receipt_marks WHERE sender = $1 AND conv = $2 AND by_id = $2 AND status = 2) AS read`,
        [user, conv],
      );
      const read = rows[0]?.read ?? 0;
      return [{ member: conv, since: 0, read, delivered: Math.max(rows[0]?.delivered ?? 0, read) }];
    }
    const { rows } = await this.pool.query<{
      member: number;
      since: number;
      read: number;
      delivered: number;
    }>(
      `SELECT g.member, COALESCE(ga.from_mid, 0) AS since, COALESCE(r.mid, 0) AS read, COALESCE(d.mid, 0) AS delivered
       FROM group_members g
       LEFT JOIN group_access ga ON ga.group_id = g.group_id AND ga.member = g.member
       LEFT JOIN receipt_marks r ON r.sender = $2 AND r.conv = g.group_id AND r.by_id = g.member AND r.status = 2
       LEFT JOIN group_delivered d ON d.group_id = g.group_id AND d.member = g.member
       WHERE g.group_id = $1 AND g.member <> $2 ORDER BY g.position`,
      [conv, user],
    );
    return rows.map((r) => ({ ...r, delivered: Math.max(r.delivered, r.read) }));
  }

  /** Each other participant's state of a message `user` sent; null for any other message. */
  async receiptsOf(user: AccountId, mid: number): Promise<MessageReceipts | null> {
    const { rows } = await this.pool.query<{ sender: number; conv: number }>(
      `SELECT sender, conv FROM messages WHERE mid = $1`,
      [mid],
    );
    if (!rows[0] || rows[0].sender !== user) return null;
    const conv = rows[0].conv;
    const audience = (await this.participants(user, conv, await loadGroup(this.pool, conv))).filter(
      (p) => p.since < mid,
    );
    const names = await namesOf(
      this.pool,
      audience.map((p) => p.member),
    );
    const states = audience.map((participant) => ({
      member: participant.member,
      name: names.get(participant.member) ?? null,
      status: participantStatus(participant, mid),
    }));
    return { mid, conv, states };
  }

  private async toMessages(
    rows: MessageRow[],
    statusOf: (mid: number, from: AccountId) => MessageStatus,
  ): Promise<HistoryMessage[]> {
    const names = await namesOf(
      this.pool,
      rows.map((r) => r.sender),
    );
    return rows.map((row) =>
      historyMessage(
        { mid: row.mid, from: row.sender, to: row.conv, text: row.text, ts: row.ts, at: row.at },
        names.get(row.sender) ?? null,
        statusOf(row.mid, row.sender),
      ),
    );
  }
}

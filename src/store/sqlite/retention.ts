import type Database from 'better-sqlite3';
import type { AccountId } from '../../core/types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows per write: each batch is one short transaction in the group commit, between client writes. */
export const RETENTION_BATCH = 500;
/** Free pages given back to the file per step of the incremental vacuum. */
const VACUUM_PAGES = 1000;
/**
 * A user's inbox up to here is acked by every device: the lowest device cursor, or the account's
 * watermark for an account with no device (no secret). Bound to the user's id.
 */
const ACKED_BY_EVERY_DEVICE = `COALESCE((SELECT min(acked_seq) FROM devices WHERE account = i.user),
  (SELECT delivered_seq FROM accounts WHERE id = i.user))`;

export interface RetentionPass {
  inboxItems: number;
  messages: number;
  /** Pages given back to the file system. */
  pagesFreed: number;
}

/** Where the removal runs: each batch is submitted as one write, in order with the server's. */
export interface RetentionTarget {
  readonly database: Database.Database;
  write<T>(op: () => T): Promise<T>;
  forget(id: AccountId): void;
}

/**
 * Retention with incremental vacuum needs auto_vacuum=INCREMENTAL, which a file takes only with
 * a VACUUM: that runs once, before the server listens.
 */
export function prepareForRetention(db: Database.Database): void {
  if (db.pragma('auto_vacuum', { simple: true }) === 2) return;
  db.pragma('auto_vacuum = INCREMENTAL');
  db.exec('VACUUM');
}

/**
 * Removes what every recipient has acknowledged and is older than the cutoff, in two steps:
 * 1. each user's acked inbox rows, from the oldest, up to the first that is too new (a user's
 *    inbox is in mid order); the user's last row always stays, since the next seq counts from it;
 * 2. old messages no inbox row points at any more: every recipient's inbox has moved past them.
 * Then it gives the free pages back to the file system.
 */
export async function removeExpired(
  target: RetentionTarget,
  retainDays: number,
  now: number,
): Promise<RetentionPass> {
  const db = target.database;
  const cutoff = now - retainDays * DAY_MS;
  const pass: RetentionPass = { inboxItems: 0, messages: 0, pagesFreed: 0 };
  const users = db
    .prepare(`SELECT id FROM accounts WHERE kind = 'user' AND id >= ? ORDER BY id LIMIT ?`)
    .pluck();
  // Acked rows that are not the user's last, oldest first: they may go up to the first message
  // that is too new.
  const acked = db
    .prepare(
      `SELECT i.seq, i.kind, m.at FROM inbox i LEFT JOIN messages m ON i.kind IN (1, 4) AND m.mid = i.mid
        WHERE i.user = ? AND i.seq <= ${ACKED_BY_EVERY_DEVICE}
          AND i.seq < (SELECT MAX(seq) FROM inbox WHERE user = ?)
        ORDER BY i.seq LIMIT ?`,
    )
    .raw();
  const deleteInbox = db.prepare(`DELETE FROM inbox WHERE user = ? AND seq <= ?`);
  const removeFrom = (user: AccountId, budget: number): number => {
    let upTo = 0;
    for (const [seq, kind, at] of acked.all(user, user, budget) as Array<[number, number, number | null]>) {
      if ((kind === 1 || kind === 4) && (at === null || at >= cutoff)) break;
      upTo = seq;
    }
    return upTo === 0 ? 0 : deleteInbox.run(user, upTo).changes;
  };
  let fromUser = 0;
  for (let done = false; !done;) {
    // Each write handles users until it has removed a batch's worth of rows.
    ({ done, fromUser } = await target.write(() => {
      const batch = users.all(fromUser, RETENTION_BATCH) as AccountId[];
      let removed = 0;
      for (const user of batch) {
        removed += removeFrom(user, RETENTION_BATCH - removed);
        if (removed >= RETENTION_BATCH) {
          pass.inboxItems += removed;
          return { done: false, fromUser: user };
        }
      }
      pass.inboxItems += removed;
      return { done: batch.length < RETENTION_BATCH, fromUser: (batch[batch.length - 1] ?? fromUser) + 1 };
    }));
  }
  const oldMessages = db
    .prepare(`SELECT mid, sender, conv, in_group, at FROM messages WHERE mid > ? ORDER BY mid LIMIT ?`)
    .raw();
  // Everyone who was ever in the group: a member who left may still hold its old messages.
  const members = db
    .prepare(
      `SELECT member FROM group_members WHERE group_id = ? UNION SELECT member FROM group_access WHERE group_id = ?`,
    )
    .pluck();
  const firstMid = db
    .prepare(`SELECT mid FROM inbox WHERE user = ? AND kind IN (1, 4) ORDER BY seq LIMIT 1`)
    .pluck();
  const deleteMessage = db.prepare(`DELETE FROM messages WHERE mid = ?`);
  // The history's index row of the message (history.ts pairs a conversation the same way).
  const deleteIndexed = db.prepare(`DELETE FROM conversation_index WHERE a = ? AND b = ? AND mid = ?`);
  let afterMid = 0;
  for (;;) {
    const { more, removed, last } = await target.write(() => {
      const rows = oldMessages.all(afterMid, RETENTION_BATCH) as Array<
        [number, number, number, number, number]
      >;
      let count = 0;
      const oldestHeld = new Map<AccountId, number>();
      // A user's inbox is in mid order and loses only its oldest rows, so it still holds a
      // message exactly when its oldest remaining message is that one or an older one.
      const holds = (user: AccountId, mid: number) => {
        let oldest = oldestHeld.get(user);
        if (oldest === undefined) {
          oldest = (firstMid.get(user) as number | undefined) ?? Number.MAX_SAFE_INTEGER;
          oldestHeld.set(user, oldest);
        }
        return oldest <= mid;
      };
      let last = afterMid;
      // Message ids follow the server's clock, so the first one too new ends the pass.
      for (const [mid, sender, conv, inGroup, at] of rows) {
        if (at >= cutoff) return { more: false, removed: count, last };
        last = mid;
        const recipients = inGroup === 1 ? (members.all(conv, conv) as AccountId[]) : [conv];
        // A deleted group's messages stay: its members' inboxes may still point at them.
        if (recipients.length === 0) continue;
        // The sender too: with two devices or more, its own inbox has the message as a sent item.
        if (holds(sender, mid) || recipients.some((user) => holds(user, mid))) continue;
        count += deleteMessage.run(mid).changes;
        if (inGroup === 1) deleteIndexed.run(conv, 0, mid);
        else deleteIndexed.run(Math.min(sender, conv), Math.max(sender, conv), mid);
      }
      return { more: rows.length === RETENTION_BATCH, removed: count, last };
    });
    pass.messages += removed;
    afterMid = last;
    if (!more) break;
  }
  if (pass.inboxItems + pass.messages > 0) {
    for (;;) {
      const before = db.pragma('freelist_count', { simple: true }) as number;
      if (before === 0) break;
      await target.write(() => db.pragma(`incremental_vacuum(${VACUUM_PAGES})`));
      const freed = before - (db.pragma('freelist_count', { simple: true }) as number);
      pass.pagesFreed += freed;
      if (freed === 0) break;
    }
  }
  return pass;
}

/** Runs a retention pass now and then (off the message path), one at a time. */
export class RetentionSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionPass> | null = null;

  constructor(
    private readonly target: RetentionTarget,
    private readonly retainDays: number,
    private readonly report: (pass: RetentionPass | null, error?: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runNow().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  /** A pass, or the one already running; `now` decides the cutoff (tests set it). */
  runNow(now = Date.now()): Promise<RetentionPass> {
    this.running ??= removeExpired(this.target, this.retainDays, now)
      .then(
        (pass) => {
          this.report(pass);
          return pass;
        },
        (error: unknown) => {
          this.report(null, error);
          throw error;
        },
      )
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }
}

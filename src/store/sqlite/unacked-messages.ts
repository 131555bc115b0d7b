import type { AccountId } from '../../core/types.js';

/** The last message of one (sender, conversation) pair within an acked range. */
export interface RangeRow {
  mid: number;
  sender: number;
  conv: number;
  ts: number;
}

const STRIDE = 5; // seq, sender, conv, mid, ts
/** A user owed more than this (offline, or slow) is answered from the database. */
const MAX_ITEMS_PER_USER = 256;
/** All users' items together: about 8 MB; past it the index starts over. */
const MAX_ITEMS = 200_000;
/** Users with an entry, owed something or not (about 100 bytes each); past it, the same. */
const MAX_USERS = 50_000;

class UserItems {
  /** Flat rows of STRIDE numbers, from `head` on; the ones before it are acked. */
  rows: number[] = [];
  head = 0;
  /** Every message item with a seq above this one is in `rows`. */
  constructor(readonly coveredAfter: number) {}
}

/**
 * The messages of each user's inbox that the user has not acked yet, kept in memory from the
 * moment the store appends them, so that an ack finds its delivery receipts without a query.
 * A live recipient acks what it was just sent, so the index holds about one window per user.
 * It only ever answers for ranges it covers whole; everything else goes to the database.
 */
export class UnackedMessages {
  private readonly users = new Map<AccountId, UserItems>();
  /** Rows held, acked ones included until they are spliced off. */
  private held = 0;

  /** A message item was appended at `seq`; `previousSeq` was the user's last seq before it. */
  add(
    user: AccountId,
    seq: number,
    previousSeq: number,
    sender: number,
    conv: number,
    mid: number,
    ts: number,
  ) {
    let items = this.users.get(user);
    if (items === undefined) {
      if (this.users.size >= MAX_USERS) this.clear();
      items = new UserItems(previousSeq);
      this.users.set(user, items);
    }
    if (items.rows.length - items.head >= MAX_ITEMS_PER_USER * STRIDE) {
      // An offline or slow user: its acks read the database until it catches up.
      this.drop(user, items);
      return;
    }
    if (this.held >= MAX_ITEMS) {
      this.clear();
      return;
    }
    items.rows.push(seq, sender, conv, mid, ts);
    this.held++;
  }

  /**
   * The last message per (sender, conversation) with a seq in (after, upTo], sorted by sender
   * and conversation as the database's GROUP BY gives them; null when the index does not cover
   * the whole range.
   */
  lastPerConversation(user: AccountId, after: number, upTo: number): RangeRow[] | null {
    const items = this.users.get(user);
    if (items === undefined || after < items.coveredAfter) return null;
    // A user holds at most MAX_ITEMS_PER_USER, and an ack covers a window or so: a short list
    // searched in place costs less than a map keyed by strings built for each item.
    const found: RangeRow[] = [];
    const rows = items.rows;
    for (let at = items.head; at < rows.length; at += STRIDE) {
      const seq = rows[at]!;
      if (seq <= after) continue;
      if (seq > upTo) break;
      const sender = rows[at + 1]!;
      const conv = rows[at + 2]!;
      let i = 0;
      while (i < found.length && (found[i]!.sender !== sender || found[i]!.conv !== conv)) i++;
      if (i === found.length) found.push({ sender, conv, mid: rows[at + 3]!, ts: rows[at + 4]! });
      else {
        found[i]!.mid = rows[at + 3]!;
        found[i]!.ts = rows[at + 4]!;
      }
    }
    return found.sort((a, b) => a.sender - b.sender || a.conv - b.conv);
  }

  /** The user acked up to `upTo`: those items are no longer needed. */
  acked(user: AccountId, upTo: number): void {
    const items = this.users.get(user);
    if (items === undefined) return;
    const rows = items.rows;
    let head = items.head;
    while (head < rows.length && rows[head]! <= upTo) head += STRIDE;
    if (head === rows.length || head > 64 * STRIDE) {
      this.held -= head / STRIDE;
      rows.splice(0, head);
      head = 0;
    }
    items.head = head;
  }

  /** After a rollback the index may hold rows that never reached the file. */
  clear(): void {
    this.users.clear();
    this.held = 0;
  }

  private drop(user: AccountId, items: UserItems): void {
    this.held -= items.rows.length / STRIDE;
    this.users.delete(user);
  }
}

import type { AccountId, InboxItem } from '../../core/types.js';

/** The last message of one (sender, conversation) pair within an acked range. */
export interface RangeRow {
  mid: number;
  sender: number;
  conv: number;
  ts: number;
}

const STRIDE = 5; // seq, sender, conv, mid, ts
/** A user owed more than this (offline, or slow) is answered from the database. */
const MAX_ITEMS_PER_USER = 4096;
/** All users' items together: about 8 MB; past it the index starts over. */
const MAX_ITEMS = 200_000;
/** Users with an entry, owed something or not (about 100 bytes each); past it, the same. */
const MAX_USERS = 50_000;

class UserItems {
  /** Flat rows of STRIDE numbers, from `head` on; the ones before it are acked. */
  rows: number[] = [];
  head = 0;
  /** Every message item with a seq in (coveredAfter, coveredTo] is in `rows`. */
  coveredTo: number;
  constructor(readonly coveredAfter: number) {
    this.coveredTo = coveredAfter;
  }
}

/**
 * The messages of each user's inbox that the user has not acked yet, kept in memory so that
 * an ack finds its delivery receipts without a query. They come from two places: the store's
 * appends, so a live recipient's window is here, and the inbox pages a draining client is sent,
 * so the acks of a backlog are answered here too. It only ever answers for a range it covers
 * whole; everything else goes to the database.
 */
export class UnackedMessages {
  private readonly users = new Map<AccountId, UserItems>();
  /** Rows held, acked ones included until they are spliced off. */
  private held = 0;

  /** The store appended `item` to the user's inbox. */
  appended(user: AccountId, item: InboxItem): void {
    let items = this.users.get(user);
    if (items === undefined) {
      if (item.kind !== 'msg') return;
      items = this.create(user, item.seq - 1);
    }
    // Coverage grows only without a gap; an entry that fell behind stops growing.
    if (items.coveredTo !== item.seq - 1) return;
    if (item.kind === 'msg' && !this.push(user, items, item)) return;
    items.coveredTo = item.seq;
  }

  /** `page` was read from the user's inbox after `after`: its items, in order, with no gap. */
  read(user: AccountId, after: number, page: InboxItem[]): void {
    if (page.length === 0) return;
    let items = this.users.get(user);
    if (items === undefined || after < items.coveredAfter || after > items.coveredTo) {
      // The reader is where the acks will come from: an entry that starts later (the tail of a
      // backlog appended while the user was away), or one that fell behind, starts over here.
      if (items !== undefined) this.drop(user, items);
      items = this.create(user, after);
    }
    for (const item of page) {
      if (item.seq <= items.coveredTo) continue;
      if (item.kind === 'msg' && !this.push(user, items, item)) return;
      items.coveredTo = item.seq;
    }
  }

  /**
   * The last message per (sender, conversation) with a seq in (after, upTo], sorted by sender
   * and conversation as the database's GROUP BY gives them; null when the index does not cover
   * the whole range.
   */
  lastPerConversation(user: AccountId, after: number, upTo: number): RangeRow[] | null {
    const items = this.users.get(user);
    if (items === undefined || after < items.coveredAfter || upTo > items.coveredTo) return null;
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

  private create(user: AccountId, coveredAfter: number): UserItems {
    if (this.users.size >= MAX_USERS) this.clear();
    const items = new UserItems(coveredAfter);
    this.users.set(user, items);
    return items;
  }

  /** False when a bound was crossed and the user's entry (or every entry) is gone. */
  private push(user: AccountId, items: UserItems, item: InboxItem & { kind: 'msg' }): boolean {
    if (items.rows.length - items.head >= MAX_ITEMS_PER_USER * STRIDE) {
      // An offline or slow user: its acks read the database until it catches up.
      this.drop(user, items);
      return false;
    }
    if (this.held >= MAX_ITEMS) {
      this.clear();
      return false;
    }
    const { msg } = item;
    items.rows.push(item.seq, msg.from, msg.to, msg.mid, msg.ts);
    this.held++;
    return true;
  }
}

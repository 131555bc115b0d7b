import type { AccountId, InboxItem } from '../../core/types.js';

/** The last message of one (sender, conversation) pair within an acked range. */
export interface RangeRow {
  mid: number;
  sender: number;
  conv: number;
  ts: number;
}

/**
 * All users' held items together, by `weightOf`, unless the store is given another budget: a
 * message of 64 characters weighs 200, so about 330k such messages, which is a 100k backlog
 * with room for everyone else. Past it, the largest tail loses its older half, and that user's
 * first pages come from the database again.
 */
export const DEFAULT_TAIL_WEIGHT = 64 * 1024 * 1024;
/** Users with a tail (about 100 bytes each); past it, every tail starts over. */
const MAX_USERS = 50_000;
/**
 * Acked items are spliced off once they are this many and half the tail, so that a long
 * backlog acked page by page is not moved once a page.
 */
const SPLICE_AFTER = 64;

// Each item is STRIDE numbers and one reference, not the item's objects: a live user's window
// is held until its ack, and as numbers it adds nothing for the GC to trace but the text.
const STRIDE = 6;
const MSG = 0;
const DELIVERED = 1;
const READ = 2;
/** Rare kinds (group notices, sent and read sync) are held whole, as their item. */
const WHOLE = 3;

class UserTail {
  /** Item `i` has seq `start + 1 + i`: every item of the inbox in (start, coveredTo]. */
  start: number;
  /** Per item: its kind code, then from/by, to/conv, mid, ts, at. */
  numbers: number[] = [];
  /** Per item: a message's text, a whole item, or null for a receipt. */
  refs: Array<string | InboxItem | null> = [];
  /** Leading items already acked, not yet spliced off. */
  acked = 0;
  weight = 0;
  constructor(start: number) {
    this.start = start;
  }
  get coveredTo(): number {
    return this.start + this.refs.length;
  }
}

/**
 * The tail of each user's inbox that the user has not acked yet, in memory: the items a
 * reconnecting client is sent next, and the messages its acks turn into delivery receipts.
 * A page or an ack it holds whole costs no query; anything else goes to the database. It is
 * fed by the store's appends, so an offline user's backlog is here while the budget allows,
 * and by the pages read from the database, so the acks of a backlog read after a restart are
 * answered here too. It holds only items already written in the open or a committed
 * transaction; the store clears it on every rollback.
 */
export class InboxTail {
  private readonly users = new Map<AccountId, UserTail>();
  private weight = 0;

  /** `maxWeight` 0 holds nothing: every page and ack goes to the database. */
  constructor(private readonly maxWeight = DEFAULT_TAIL_WEIGHT) {}

  /** The store appended `item` to the user's inbox. */
  appended(user: AccountId, item: InboxItem): void {
    if (this.maxWeight === 0) return;
    const tail = this.users.get(user) ?? this.create(user, item.seq - 1);
    // A tail grows only without a gap; one that fell behind waits for the reader to catch it up.
    if (tail.coveredTo !== item.seq - 1) return;
    this.push(tail, item);
  }

  /** `page` was read from the user's inbox after `after`: its items, in order, with no gap. */
  read(user: AccountId, after: number, page: InboxItem[]): void {
    if (page.length === 0 || this.maxWeight === 0) return;
    // A page with a gap (history removed by retention) cannot be held: a tail is gapless.
    if (page[page.length - 1]!.seq - after !== page.length) return;
    let tail = this.users.get(user);
    if (tail === undefined || after < tail.start || after > tail.coveredTo) {
      // The reader is where the acks will come from: a tail that starts later (the end of a
      // backlog appended while the user was away), or one that fell behind, starts over here.
      if (tail !== undefined) this.drop(user, tail);
      tail = this.create(user, after);
    }
    for (const item of page) if (item.seq > tail.coveredTo) this.push(tail, item);
  }

  /** The items in (after, upTo], or null unless the tail holds every one of them. */
  page(user: AccountId, after: number, upTo: number): InboxItem[] | null {
    const tail = this.users.get(user);
    if (tail === undefined || after < tail.start || upTo > tail.coveredTo) return null;
    const items: InboxItem[] = [];
    for (let seq = after + 1; seq <= upTo; seq++) items.push(itemAt(tail, seq));
    return items;
  }

  /**
   * The last message per (sender, conversation) with a seq in (after, upTo], sorted by sender
   * and conversation as the database's GROUP BY gives them; null unless the tail holds the
   * whole range.
   */
  lastPerConversation(user: AccountId, after: number, upTo: number): RangeRow[] | null {
    const tail = this.users.get(user);
    if (tail === undefined || after < tail.start || upTo > tail.coveredTo) return null;
    // An ack covers a window or so, from few senders: a short list searched in place costs
    // less than a map keyed by strings built for each item.
    const found: RangeRow[] = [];
    const { numbers, start } = tail;
    for (let at = (after - start) * STRIDE; at < (upTo - start) * STRIDE; at += STRIDE) {
      if (numbers[at] !== MSG) continue;
      const sender = numbers[at + 1]!;
      const conv = numbers[at + 2]!;
      let f = 0;
      while (f < found.length && (found[f]!.sender !== sender || found[f]!.conv !== conv)) f++;
      if (f === found.length) found.push({ sender, conv, mid: numbers[at + 3]!, ts: numbers[at + 4]! });
      else {
        found[f]!.mid = numbers[at + 3]!;
        found[f]!.ts = numbers[at + 4]!;
      }
    }
    return found.sort((a, b) => a.sender - b.sender || a.conv - b.conv);
  }

  /** A receipt the tail may hold was rewritten in place (same seq, a later mark). */
  replaced(user: AccountId, item: InboxItem): void {
    const tail = this.users.get(user);
    if (tail === undefined || item.kind !== 'receipt' || item.seq <= tail.start || item.seq > tail.coveredTo)
      return;
    const at = (item.seq - tail.start - 1) * STRIDE;
    tail.numbers[at + 3] = item.receipt.mid;
    tail.numbers[at + 4] = item.receipt.ts;
    tail.numbers[at + 5] = item.receipt.at;
  }

  /** The user acked up to `upTo`: those items are no longer needed. */
  acked(user: AccountId, upTo: number): void {
    const tail = this.users.get(user);
    if (tail === undefined) return;
    if (upTo >= tail.coveredTo) {
      // Caught up: the next append starts a tail at the same place, so none is kept meanwhile.
      this.drop(user, tail);
      return;
    }
    tail.acked = Math.max(tail.acked, upTo - tail.start);
    if (tail.acked >= SPLICE_AFTER && tail.acked * 2 >= tail.refs.length) this.trim(tail, tail.acked);
  }

  /** After a rollback the tails may hold items that never reached the file. */
  clear(): void {
    this.users.clear();
    this.weight = 0;
  }

  /** What the tails hold, by `weightOf`; the tests read it. */
  get heldWeight(): number {
    return this.weight;
  }

  /** Half its weight or half its users taken: what a warm-up at open fills it to, at most. */
  get halfFull(): boolean {
    return this.weight >= this.maxWeight / 2 || this.users.size >= MAX_USERS / 2;
  }

  private create(user: AccountId, start: number): UserTail {
    if (this.users.size >= MAX_USERS) this.clear();
    const tail = new UserTail(start);
    this.users.set(user, tail);
    return tail;
  }

  private drop(user: AccountId, tail: UserTail): void {
    this.weight -= tail.weight;
    this.users.delete(user);
  }

  private push(tail: UserTail, item: InboxItem): void {
    let ref: string | InboxItem | null = null;
    if (item.kind === 'msg') {
      const { msg } = item;
      tail.numbers.push(MSG, msg.from, msg.to, msg.mid, msg.ts, msg.at);
      ref = msg.text;
    } else if (item.kind === 'receipt') {
      const { receipt } = item;
      const code = receipt.status === 'delivered' ? DELIVERED : READ;
      tail.numbers.push(code, receipt.by, receipt.conv, receipt.mid, receipt.ts, receipt.at);
    } else {
      tail.numbers.push(WHOLE, 0, 0, 0, 0, 0);
      ref = item;
    }
    tail.refs.push(ref);
    const weight = weightOf(ref);
    tail.weight += weight;
    this.weight += weight;
    if (this.weight > this.maxWeight) this.shrinkLargest();
  }

  /** Drops the first `count` items, moving the tail's start past them. */
  private trim(tail: UserTail, count: number): void {
    let weight = 0;
    for (let i = 0; i < count; i++) weight += weightOf(tail.refs[i] ?? null);
    tail.numbers.splice(0, count * STRIDE);
    tail.refs.splice(0, count);
    tail.start += count;
    tail.acked = Math.max(0, tail.acked - count);
    tail.weight -= weight;
    this.weight -= weight;
  }

  /** Over budget: the largest tail gives up its older half, which its reader finds on disk. */
  private shrinkLargest(): void {
    let largest: UserTail | undefined;
    for (const tail of this.users.values()) if (!largest || tail.weight > largest.weight) largest = tail;
    if (largest) this.trim(largest, Math.ceil(largest.refs.length / 2));
  }
}

/** The item with `seq`, built as the database's rows are, so that either source reads the same. */
function itemAt(tail: UserTail, seq: number): InboxItem {
  const i = seq - tail.start - 1;
  const at = i * STRIDE;
  const n = tail.numbers;
  const kind = n[at]!;
  if (kind === MSG) {
    const msg = {
      mid: n[at + 3]!,
      from: n[at + 1]!,
      to: n[at + 2]!,
      text: tail.refs[i] as string,
      ts: n[at + 4]!,
      at: n[at + 5]!,
    };
    return { seq, kind: 'msg', msg };
  }
  if (kind === WHOLE) return tail.refs[i] as InboxItem;
  const receipt = {
    status: kind === DELIVERED ? ('delivered' as const) : ('read' as const),
    by: n[at + 1]!,
    conv: n[at + 2]!,
    mid: n[at + 3]!,
    ts: n[at + 4]!,
    at: n[at + 5]!,
  };
  return { seq, kind: 'receipt', receipt };
}

/** About what one held item takes: its numbers and reference, and a message's text. */
function weightOf(ref: string | InboxItem | null): number {
  const own = STRIDE * 8 + 8;
  if (ref === null) return own;
  if (typeof ref === 'string') return own + 2 * ref.length + 16;
  if (ref.kind === 'group') return own + 64 * (ref.group.members.length + 4);
  return own + 256 + (ref.kind === 'sent' ? 2 * ref.msg.text.length : 0);
}

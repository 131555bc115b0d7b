import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../src/core/types.js';
import { InboxTail, type RangeRow } from '../src/store/sqlite/inbox-tail.js';

const USER = 99;
const GROUP = 500;

function message(seq: number, sender: number, conv: number, text = ''): InboxItem {
  return { seq, kind: 'msg', msg: { mid: 1000 + seq, from: sender, to: conv, text, ts: seq, at: 0 } };
}

function receipt(seq: number): InboxItem {
  return {
    seq,
    kind: 'receipt',
    receipt: { status: 'delivered', by: 1, conv: 1, mid: 1, ts: 1, at: 1 },
  };
}

/** What the database's GROUP BY answers, from every item of the inbox. */
function expected(inbox: InboxItem[], after: number, upTo: number): RangeRow[] {
  const last = new Map<string, RangeRow>();
  for (const item of inbox) {
    if (item.kind !== 'msg' || item.seq <= after || item.seq > upTo) continue;
    const { from: sender, to: conv, mid, ts } = item.msg;
    last.set(`${sender}:${conv}`, { sender, conv, mid, ts });
  }
  return [...last.values()].sort((a, b) => a.sender - b.sender || a.conv - b.conv);
}

const step = fc.oneof(
  fc.record({
    kind: fc.constant('msg' as const),
    sender: fc.integer({ min: 1, max: 4 }),
    group: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('receipt' as const) }),
  // A client's ack, `back` items short of the end.
  fc.record({ kind: fc.constant('ack' as const), back: fc.nat({ max: 30 }) }),
  // A stream's page read after the delivered mark, as a reconnecting client gets.
  fc.record({ kind: fc.constant('page' as const), size: fc.integer({ min: 1, max: 12 }) }),
  // A stream asks the tail for a page before it asks the database.
  fc.record({
    kind: fc.constant('held' as const),
    skip: fc.nat({ max: 5 }),
    size: fc.integer({ min: 1, max: 40 }),
  }),
  // The store starts with items the index never saw (a restart, or a rollback).
  fc.record({ kind: fc.constant('forget' as const) }),
);

describe('InboxTail', () => {
  it('answers exactly what the database would, or not at all', () => {
    let answered = 0;
    let answeredAfterPage = 0;
    let pagesHeld = 0;
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        let index = new InboxTail();
        const inbox: InboxItem[] = [];
        let delivered = 0;
        let paged = false;
        for (const s of steps) {
          const seq = inbox.length + 1;
          if (s.kind === 'msg' || s.kind === 'receipt') {
            const item = s.kind === 'msg' ? message(seq, s.sender, s.group ? GROUP : USER) : receipt(seq);
            inbox.push(item);
            index.appended(USER, item);
          } else if (s.kind === 'page') {
            index.read(USER, delivered, inbox.slice(delivered, delivered + s.size));
            paged = true;
          } else if (s.kind === 'held') {
            const after = Math.min(delivered + s.skip, inbox.length);
            const upTo = Math.min(after + s.size, inbox.length);
            const held = index.page(USER, after, upTo);
            if (held !== null) {
              if (held.length > 0) pagesHeld++;
              expect(held).toEqual(inbox.slice(after, upTo));
            }
          } else if (s.kind === 'forget') {
            index = new InboxTail();
          } else {
            const upTo = Math.max(delivered, inbox.length - s.back);
            const answer = index.lastPerConversation(USER, delivered, upTo);
            if (answer !== null) {
              answered++;
              if (paged) answeredAfterPage++;
              expect(answer).toEqual(expected(inbox, delivered, upTo));
            }
            index.acked(USER, upTo);
            delivered = upTo;
          }
        }
      }),
      { numRuns: 300 },
    );
    // The property checked real answers, pages' included, not only nulls.
    expect(answered).toBeGreaterThan(0);
    expect(answeredAfterPage).toBeGreaterThan(0);
    expect(pagesHeld).toBeGreaterThan(0);
  });

  it('answers the acks of a backlog read from the database, as after a restart', () => {
    const index = new InboxTail();
    const backlog = Array.from({ length: 5000 }, (_, i) => message(i + 1, 7, USER));
    // Appended before the restart, and one more since: the tail saw only that one.
    index.appended(USER, message(5001, 9, USER));
    expect(index.lastPerConversation(USER, 0, 512)).toBeNull();
    expect(index.page(USER, 0, 512)).toBeNull();
    index.read(USER, 0, backlog.slice(0, 512));
    expect(index.lastPerConversation(USER, 0, 512)).toEqual([{ sender: 7, conv: USER, mid: 1512, ts: 512 }]);
    expect(index.lastPerConversation(USER, 0, 513)).toBeNull();
    index.acked(USER, 512);
    index.read(USER, 512, backlog.slice(512, 1024));
    expect(index.lastPerConversation(USER, 512, 1024)).toEqual([
      { sender: 7, conv: USER, mid: 2024, ts: 1024 },
    ]);
    // Caught up, it follows the appends again.
    index.acked(USER, 1024);
    index.read(USER, 1024, [...backlog.slice(1024), message(5001, 9, USER)]);
    index.appended(USER, message(5002, 8, USER));
    expect(index.lastPerConversation(USER, 4990, 5002)).toEqual([
      { sender: 7, conv: USER, mid: 6000, ts: 5000 },
      { sender: 8, conv: USER, mid: 6002, ts: 5002 },
      { sender: 9, conv: USER, mid: 6001, ts: 5001 },
    ]);
    expect(index.page(USER, 4999, 5002)?.map((item) => item.seq)).toEqual([5000, 5001, 5002]);
  });

  it('never claims what it missed: a page behind the appends, then an append past its gap', () => {
    const index = new InboxTail();
    const inbox = [message(1, 2, USER), message(2, 3, USER), message(3, 4, USER), message(4, 5, USER)];
    index.appended(USER, inbox[3]!); // seen from seq 4 on, as after a restart
    index.read(USER, 0, inbox.slice(0, 1)); // a reader back at seq 0: covers (0, 1]
    index.appended(USER, message(5, 6, USER)); // after a gap (2..4): not covered
    expect(index.lastPerConversation(USER, 0, 1)).toEqual([{ sender: 2, conv: USER, mid: 1001, ts: 1 }]);
    expect(index.lastPerConversation(USER, 0, 5)).toBeNull();
    index.acked(USER, 1);
    index.read(USER, 3, inbox.slice(3)); // a page that skips (1, 3]: starts over at 3
    expect(index.lastPerConversation(USER, 1, 4)).toBeNull();
    expect(index.lastPerConversation(USER, 3, 4)).toEqual([{ sender: 5, conv: USER, mid: 1004, ts: 4 }]);
  });

  it('holds an offline backlog whole, then lets go of it as it is acked', () => {
    const index = new InboxTail();
    const backlog = Array.from({ length: 100_000 }, (_, i) => message(i + 1, 7, USER, 'x'.repeat(64)));
    for (const item of backlog) index.appended(USER, item);
    expect(index.page(USER, 0, 512)).toEqual(backlog.slice(0, 512));
    expect(index.page(USER, 99_488, 100_000)).toEqual(backlog.slice(99_488));
    expect(index.page(USER, 99_488, 100_001)).toBeNull();
    for (let upTo = 512; upTo < 100_000; upTo += 512) index.acked(USER, upTo);
    expect(index.page(USER, 0, 512)).toBeNull();
    expect(index.page(USER, 99_840, 100_000)).toEqual(backlog.slice(99_840));
    index.acked(USER, 100_000);
    expect(index.heldWeight).toBe(0);
  });

  it('keeps the newer half of the largest tail once over its budget', () => {
    const text = 'x'.repeat(1000);
    const index = new InboxTail(40 * 2 * text.length); // room for fewer than 40 such messages
    const big = Array.from({ length: 40 }, (_, i) => message(i + 1, 7, USER, text));
    index.appended(3, message(1, 7, 3));
    for (const item of big) index.appended(USER, item);
    expect(index.heldWeight).toBeLessThanOrEqual(40 * 2 * text.length);
    // The older half went; the newer one and the small tail stayed.
    expect(index.page(USER, 0, 1)).toBeNull();
    expect(index.page(USER, 30, 40)).toEqual(big.slice(30));
    expect(index.lastPerConversation(3, 0, 1)).toEqual([{ sender: 7, conv: 3, mid: 1001, ts: 1 }]);
  });

  it('holds nothing with a budget of 0', () => {
    const index = new InboxTail(0);
    index.appended(USER, message(1, 7, USER));
    index.read(USER, 1, [message(2, 7, USER)]);
    expect(index.page(USER, 0, 1)).toBeNull();
    expect(index.page(USER, 1, 2)).toBeNull();
    expect(index.lastPerConversation(USER, 0, 2)).toBeNull();
    expect(index.heldWeight).toBe(0);
  });

  it('answers nothing after a clear', () => {
    const index = new InboxTail();
    index.appended(3, message(1, 2, 3));
    expect(index.lastPerConversation(3, 0, 1)).toEqual([{ sender: 2, conv: 3, mid: 1001, ts: 1 }]);
    index.clear();
    expect(index.lastPerConversation(3, 0, 1)).toBeNull();
  });

  it('starts over once 50,000 users have an entry, rather than grow with every account', () => {
    const index = new InboxTail();
    for (let user = 1; user <= 50_000; user++) index.appended(user, message(1, 7, user));
    expect(index.lastPerConversation(1, 0, 1)).toEqual([{ sender: 7, conv: 1, mid: 1001, ts: 1 }]);
    index.appended(50_001, message(1, 7, 50_001));
    expect(index.lastPerConversation(1, 0, 1)).toBeNull();
    expect(index.lastPerConversation(50_001, 0, 1)).toEqual([{ sender: 7, conv: 50_001, mid: 1001, ts: 1 }]);
  });
});

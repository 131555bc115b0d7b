import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../src/core/types.js';
import { type RangeRow, UnackedMessages } from '../src/store/sqlite/unacked-messages.js';

const USER = 99;
const GROUP = 500;

function message(seq: number, sender: number, conv: number): InboxItem {
  return { seq, kind: 'msg', msg: { mid: 1000 + seq, from: sender, to: conv, text: '', ts: seq, at: 0 } };
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
  // The store starts with items the index never saw (a restart, or a rollback).
  fc.record({ kind: fc.constant('forget' as const) }),
);

describe('UnackedMessages', () => {
  it('answers exactly what the database would, or not at all', () => {
    let answered = 0;
    let answeredAfterPage = 0;
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        let index = new UnackedMessages();
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
          } else if (s.kind === 'forget') {
            index = new UnackedMessages();
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
  });

  it('answers a drained backlog from the pages it was sent', () => {
    const index = new UnackedMessages();
    const backlog = Array.from({ length: 5000 }, (_, i) => message(i + 1, 7, USER));
    // Appended while the user was away: more than a user may hold, so only the tail is kept.
    for (const item of backlog) index.appended(USER, item);
    expect(index.lastPerConversation(USER, 0, 512)).toBeNull();
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
    index.read(USER, 1024, backlog.slice(1024));
    const live = message(5001, 8, USER);
    index.appended(USER, live);
    expect(index.lastPerConversation(USER, 4990, 5001)).toEqual([
      { sender: 7, conv: USER, mid: 6000, ts: 5000 },
      { sender: 8, conv: USER, mid: 6001, ts: 5001 },
    ]);
  });

  it('never claims what it missed: a page behind the appends, then an append past its gap', () => {
    const index = new UnackedMessages();
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

  it('stops answering for a user owed more than it keeps, and after a clear', () => {
    const index = new UnackedMessages();
    for (let seq = 1; seq <= 4100; seq++) index.appended(1, message(seq, 2, 1));
    expect(index.lastPerConversation(1, 0, 4100)).toBeNull();
    index.appended(3, message(1, 2, 3));
    expect(index.lastPerConversation(3, 0, 1)).toEqual([{ sender: 2, conv: 3, mid: 1001, ts: 1 }]);
    index.clear();
    expect(index.lastPerConversation(3, 0, 1)).toBeNull();
  });

  it('starts over once 50,000 users have an entry, rather than grow with every account', () => {
    const index = new UnackedMessages();
    for (let user = 1; user <= 50_000; user++) index.appended(user, message(1, 7, user));
    expect(index.lastPerConversation(1, 0, 1)).toEqual([{ sender: 7, conv: 1, mid: 1001, ts: 1 }]);
    index.appended(50_001, message(1, 7, 50_001));
    expect(index.lastPerConversation(1, 0, 1)).toBeNull();
    expect(index.lastPerConversation(50_001, 0, 1)).toEqual([{ sender: 7, conv: 50_001, mid: 1001, ts: 1 }]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RangeRow, UnackedMessages } from '../src/store/sqlite/unacked-messages.js';

/** What the database's GROUP BY answers, from every item ever appended. */
function expected(items: Array<RangeRow & { seq: number }>, after: number, upTo: number): RangeRow[] {
  const last = new Map<string, RangeRow>();
  for (const { seq, ...row } of items)
    if (seq > after && seq <= upTo) last.set(`${row.sender}:${row.conv}`, row);
  return [...last.values()].sort((a, b) => a.sender - b.sender || a.conv - b.conv);
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('msg' as const),
    sender: fc.integer({ min: 1, max: 4 }),
    group: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('receipt' as const) }),
  fc.record({ kind: fc.constant('ack' as const), back: fc.nat({ max: 6 }) }),
);

describe('UnackedMessages', () => {
  it('answers exactly what the database would, or not at all', () => {
    let answered = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const index = new UnackedMessages();
        const user = 99;
        const items: Array<RangeRow & { seq: number }> = [];
        let last = 0;
        let delivered = 0;
        for (const step of ops) {
          if (step.kind === 'receipt') last++;
          else if (step.kind === 'msg') {
            const row = {
              seq: ++last,
              sender: step.sender,
              conv: step.group ? 500 : user,
              mid: 1000 + last,
              ts: last,
            };
            index.add(user, row.seq, row.seq - 1, row.sender, row.conv, row.mid, row.ts);
            items.push(row);
          } else {
            const upTo = Math.max(delivered, last - step.back);
            const answer = index.lastPerConversation(user, delivered, upTo);
            if (answer !== null) {
              answered++;
              expect(answer).toEqual(expected(items, delivered, upTo));
            }
            index.acked(user, upTo);
            delivered = upTo;
          }
        }
      }),
    );
    // Within its bounds the index covers every range: the property checked real answers.
    expect(answered).toBeGreaterThan(0);
  });

  it('stops answering for a user owed more than it keeps, and after a clear', () => {
    const index = new UnackedMessages();
    for (let seq = 1; seq <= 300; seq++) index.add(1, seq, seq - 1, 2, 1, seq, seq);
    expect(index.lastPerConversation(1, 0, 300)).toBeNull();
    index.add(3, 1, 0, 2, 3, 1, 1);
    expect(index.lastPerConversation(3, 0, 1)).toEqual([{ sender: 2, conv: 3, mid: 1, ts: 1 }]);
    index.clear();
    expect(index.lastPerConversation(3, 0, 1)).toBeNull();
  });
});

describe('UnackedMessages bounds', () => {
  it('starts over once 50,000 users have an entry, rather than grow with every account', () => {
    const index = new UnackedMessages();
    for (let user = 1; user <= 50_000; user++) index.add(user, 1, 0, 7, user, user, 1);
    expect(index.lastPerConversation(1, 0, 1)).toEqual([{ sender: 7, conv: 1, mid: 1, ts: 1 }]);
    index.add(50_001, 1, 0, 7, 50_001, 50_001, 1);
    expect(index.lastPerConversation(1, 0, 1)).toBeNull();
    expect(index.lastPerConversation(50_001, 0, 1)).toEqual([
      { sender: 7, conv: 50_001, mid: 50_001, ts: 1 },
    ]);
  });
});

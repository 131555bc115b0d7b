import type pg from 'pg';
import type { AppendResult, NewMessage } from '../../core/ports.js';
import type { AccountId, Delivery } from '../../core/types.js';
import { appendMessages, messageLocks } from './append-messages.js';
import type { Counters } from './inbox-sql.js';
import type { Bulk } from './pg-commit.js';
import { ackAll, ackLocks, type AckRequest } from './receipts.js';

/** The writes that come by the hundred each turn, done in bulk: messages and delivery acks. */
export type TurnItem = { message: NewMessage } | { ack: AckRequest };

/** One turn's messages and acks: a few statements for all of them, in one transaction. */
export const turnBulk: Bulk<TurnItem> = {
  async locks(client: pg.PoolClient, items: TurnItem[]): Promise<AccountId[]> {
    const ids: AccountId[] = [];
    const acks: AckRequest[] = [];
    const messages: NewMessage[] = [];
    for (const item of items) {
      if ('message' in item) messages.push(item.message);
      else acks.push(item.ack);
    }
    if (messages.length > 0) ids.push(...(await messageLocks(client, messages)));
    if (acks.length > 0) ids.push(...(await ackLocks(client, acks)));
    return ids;
  },

  settleOrder(items: TurnItem[]): number[] {
    const { messageAt, ackAt } = byKind(items);
    return [...messageAt, ...ackAt];
  },

  async run(client: pg.PoolClient, items: TurnItem[], counters: Counters): Promise<unknown[]> {
    const outcomes: Array<AppendResult | Delivery[] | Error> = new Array(items.length);
    const { messageAt, ackAt } = byKind(items);
    // Messages first: an ack in the same turn was for items the client saw before them.
    const stored = await appendMessages(
      client,
      messageAt.map((i) => (items[i] as { message: NewMessage }).message),
      counters,
    );
    stored.forEach((outcome, k) => (outcomes[messageAt[k]!] = outcome));
    const acked = await ackAll(
      client,
      ackAt.map((i) => (items[i] as { ack: AckRequest }).ack),
      counters,
    );
    acked.forEach((deliveries, k) => (outcomes[ackAt[k]!] = deliveries));
    return outcomes;
  },
};

function byKind(items: TurnItem[]): { messageAt: number[]; ackAt: number[] } {
  const messageAt: number[] = [];
  const ackAt: number[] = [];
  items.forEach((item, i) => ('message' in item ? messageAt : ackAt).push(i));
  return { messageAt, ackAt };
}

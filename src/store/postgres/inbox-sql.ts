import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AccountId, Delivery, GroupNotice, InboxItem, Receipt } from '../../core/types.js';

export const ITEM_MSG = 1;
export const ITEM_RECEIPT = 2;
export const ITEM_GROUP = 3;
/** A message the account sent itself, for its other devices (body: the sending device). */
export const ITEM_SENT = 4;
/** A read on one device, for the others (mid: the read mark; body: `[conv, device]`). */
export const ITEM_READ = 5;

/** An inbox row to append once its account's counter is locked. */
export interface NewItem {
  to: AccountId;
  kind: number;
  mid: number | null;
  body: string | null;
  build(seq: number): InboxItem;
}

/** Queries are named so pg prepares each once per connection. */
export const LOCK_COUNTERS = {
  name: 'lock_counters',
  // ORDER BY before FOR UPDATE: every transaction takes its counter locks in the same order.
  text: `SELECT id, last_seq, delivered_seq FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
};
const WRITE_ITEMS = {
  name: 'write_items',
  text: `WITH added AS (
      INSERT INTO inbox (account, seq, kind, mid, body)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::text[]))
    UPDATE accounts a SET last_seq = v.last FROM unnest($6::bigint[], $7::bigint[]) AS v(id, last)
    WHERE a.id = v.id`,
};

/**
 * The account rows a transaction holds locked, with their inbox counters as it has moved them.
 * An id absent from `last` after locking has no account.
 */
export interface Counters {
  last: Map<AccountId, number>;
  delivered: Map<AccountId, number>;
  locked: Set<AccountId>;
}

export const noCounters = (): Counters => ({ last: new Map(), delivered: new Map(), locked: new Set() });

/**
 * Locks the account rows of `ids` not yet held, in id order, and reads their counters into
 * `counters`. A transaction locks what it will write in one call at its start; a later call
 * (for a row it could not foresee) may wait on another node, and a deadlock is retried.
 */
export async function lockCounters(
  client: pg.PoolClient,
  ids: Iterable<AccountId>,
  counters: Counters = noCounters(),
): Promise<Counters> {
  const sorted = [...new Set(ids)].filter((id) => !counters.locked.has(id)).sort((a, b) => a - b);
  if (sorted.length === 0) return counters;
  const { rows } = await client.query<{ id: number; last_seq: number; delivered_seq: number }>({
    ...LOCK_COUNTERS,
    values: [sorted],
  });
  for (const id of sorted) counters.locked.add(id);
  for (const row of rows) {
    counters.last.set(row.id, row.last_seq);
    counters.delivered.set(row.id, row.delivered_seq);
  }
  return counters;
}

/**
 * Appends the items to their inboxes, each account's seq following its locked counter in
 * `last` (which moves on). One statement writes the rows and the counters.
 */
export async function writeItems(
  client: pg.PoolClient,
  items: NewItem[],
  last: Map<AccountId, number>,
): Promise<Delivery[]> {
  if (items.length === 0) return [];
  const columns = {
    account: [] as number[],
    seq: [] as number[],
    kind: [] as number[],
    mid: [] as Array<number | null>,
    body: [] as Array<string | null>,
  };
  const deliveries: Delivery[] = [];
  for (const item of items) {
    const previous = last.get(item.to);
    if (previous === undefined) throw new MensageiroError('unknown_account', `no account ${item.to}`);
    const seq = previous + 1;
    last.set(item.to, seq);
    columns.account.push(item.to);
    columns.seq.push(seq);
    columns.kind.push(item.kind);
    columns.mid.push(item.mid);
    columns.body.push(item.body);
    deliveries.push({ to: item.to, item: item.build(seq) });
  }
  const touched = [...new Set(columns.account)];
  await client.query({
    ...WRITE_ITEMS,
    values: [
      columns.account,
      columns.seq,
      columns.kind,
      columns.mid,
      columns.body,
      touched,
      touched.map((id) => last.get(id)!),
    ],
  });
  return deliveries;
}

/** Appends the items, first locking the counters the transaction does not hold yet. */
export async function appendItems(
  client: pg.PoolClient,
  items: NewItem[],
  counters: Counters,
): Promise<Delivery[]> {
  if (items.length === 0) return [];
  await lockCounters(
    client,
    items.map((item) => item.to),
    counters,
  );
  return writeItems(client, items, counters.last);
}

export function receiptItem(to: AccountId, receipt: Receipt): NewItem {
  return {
    to,
    kind: ITEM_RECEIPT,
    mid: receipt.mid,
    body: JSON.stringify(receipt),
    build: (seq) => ({ seq, kind: 'receipt', receipt }),
  };
}

export function noticeItem(to: AccountId, notice: GroupNotice): NewItem {
  return {
    to,
    kind: ITEM_GROUP,
    mid: notice.group.id,
    body: JSON.stringify(notice),
    build: (seq) => ({ seq, kind: 'group', ...notice }),
  };
}

/** Messages carry the sender's name as it is when read: the display name, else the username. */
export const READ_INBOX = {
  name: 'read_inbox',
  text: `SELECT i.seq, i.kind, i.body, i.mid, m.sender, m.conv, m.text, m.ts, m.at,
      COALESCE(s.display_name, s.username) AS from_name
    FROM inbox i
    LEFT JOIN messages m ON i.kind IN (${ITEM_MSG}, ${ITEM_SENT}) AND m.mid = i.mid
    LEFT JOIN accounts s ON s.id = m.sender
    WHERE i.account = $1 AND i.seq > $2 ORDER BY i.seq LIMIT $3`,
  rowMode: 'array' as const,
};

export type InboxRow = [
  seq: number,
  kind: number,
  body: string | null,
  mid: number | null,
  sender: number | null,
  conv: number | null,
  text: string | null,
  ts: number | null,
  at: number | null,
  fromName: string | null,
];

export function toInboxItem([
  seq,
  kind,
  body,
  mid,
  sender,
  conv,
  text,
  ts,
  at,
  fromName,
]: InboxRow): InboxItem {
  if (kind === ITEM_MSG || kind === ITEM_SENT) {
    const msg = {
      mid: mid!,
      from: sender!,
      to: conv!,
      text: text!,
      ts: ts!,
      at: at!,
      ...(fromName === null ? {} : { fromName }),
    };
    return kind === ITEM_MSG ? { seq, kind: 'msg', msg } : { seq, kind: 'sent', msg, device: Number(body) };
  }
  if (kind === ITEM_RECEIPT) return { seq, kind: 'receipt', receipt: JSON.parse(body!) as Receipt };
  if (kind === ITEM_READ) {
    const [readConv, device] = JSON.parse(body!) as [number, number];
    return { seq, kind: 'read', conv: readConv, mid: mid!, device };
  }
  return { seq, kind: 'group', ...(JSON.parse(body!) as GroupNotice) };
}

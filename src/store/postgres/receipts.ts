import type pg from 'pg';
import type { ReadMark } from '../../core/ports.js';
import { readReceiptUpTo } from '../message-status.js';
import type { AccountId, Delivery, Receipt, ReceiptStatus } from '../../core/types.js';
import {
  ITEM_MSG,
  ITEM_READ,
  ITEM_RECEIPT,
  appendItems,
  receiptItem,
  type Counters,
  type NewItem,
} from './inbox-sql.js';

const STATUS = { delivered: 1, read: 2 } as const;

interface Last {
  mid: number;
  ts: number;
}

export interface AckRequest {
  user: AccountId;
  upToSeq: number;
  at: number;
  /** The acking device (0: none): its own cursor moves too. */
  device: number;
}

/**
 * Delivery and read receipts as watermarks, inside the batch's transaction. The batch has
 * locked the rows of whoever's watermark moves (the acking user, the group, the reader) and of
 * whoever gets a receipt, so two nodes handling the same user's acks or marks run one after
 * the other and never send one receipt twice or miss one.
 */

/** The rows a batch of acks writes: the users, and the senders and groups in their ranges. */
export async function ackLocks(client: pg.PoolClient, acks: AckRequest[]): Promise<AccountId[]> {
  const { rows } = await client.query<{ sender: number; conv: number }>({
    name: 'ack_locks',
    text: `SELECT DISTINCT m.sender, m.conv FROM unnest($1::bigint[], $2::bigint[]) AS u(account, upto)
      JOIN accounts a ON a.id = u.account
      JOIN inbox i ON i.account = u.account AND i.seq > a.delivered_seq AND i.seq <= u.upto AND i.kind = ${ITEM_MSG}
      JOIN messages m ON m.mid = i.mid`,
    values: [acks.map((a) => a.user), acks.map((a) => a.upToSeq)],
  });
  return [...acks.map((a) => a.user), ...rows.flatMap((r) => [r.sender, r.conv])];
}

/**
 * Moves each user's delivered watermark and makes one receipt per (sender, conversation) for
 * the whole range, carrying its last message; returns the deliveries of each ack.
 */
export async function ackAll(
  client: pg.PoolClient,
  acks: AckRequest[],
  counters: Counters,
): Promise<Delivery[][]> {
  const wanted = new Map<AccountId, AckRequest>();
  for (const ack of acks) {
    const earlier = wanted.get(ack.user);
    if (!earlier || earlier.upToSeq < ack.upToSeq) wanted.set(ack.user, ack);
  }
  await moveDeviceCursors(client, acks, counters);
  const moving: Array<{ ack: AckRequest; from: number; to: number }> = [];
  for (const ack of wanted.values()) {
    const delivered = counters.delivered.get(ack.user);
    const last = counters.last.get(ack.user);
    if (delivered === undefined || last === undefined) continue;
    const to = Math.min(ack.upToSeq, last);
    if (to > delivered) moving.push({ ack, from: delivered, to });
  }
  if (moving.length === 0) return acks.map(() => []);
  const users = moving.map((m) => m.ack.user);
  const { rows } = await client.query<{
    account: number;
    sender: number;
    conv: number;
    mid: number;
    ts: number;
  }>({
    name: 'ack_ranges',
    text: `SELECT DISTINCT ON (u.account, m.sender, m.conv) u.account, m.sender, m.conv, m.mid, m.ts
      FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(account, lo, hi)
      JOIN inbox i ON i.account = u.account AND i.seq > u.lo AND i.seq <= u.hi AND i.kind = ${ITEM_MSG}
      JOIN messages m ON m.mid = i.mid
      ORDER BY u.account, m.sender, m.conv, m.mid DESC`,
    values: [users, moving.map((m) => m.from), moving.map((m) => m.to)],
  });
  await client.query({
    name: 'set_delivered',
    text: `UPDATE accounts a SET delivered_seq = v.seq FROM unnest($1::bigint[], $2::bigint[]) AS v(id, seq) WHERE a.id = v.id`,
    values: [users, moving.map((m) => m.to)],
  });
  for (const m of moving) counters.delivered.set(m.ack.user, m.to);
  const atOf = new Map(moving.map((m) => [m.ack.user, m.ack.at]));
  const items: NewItem[] = [];
  const owners: AccountId[] = [];
  const groupRows = rows.filter((r) => r.conv !== r.account);
  for (const r of rows) {
    if (r.conv !== r.account) continue;
    const receipt = {
      status: 'delivered' as const,
      by: r.account,
      conv: r.account,
      mid: r.mid,
      ts: r.ts,
      at: atOf.get(r.account)!,
    };
    items.push(receiptItem(r.sender, receipt));
    owners.push(r.account);
  }
  if (groupRows.length > 0) {
    await client.query(
      `INSERT INTO group_delivered (group_id, member, mid)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
       ON CONFLICT (group_id, member) DO UPDATE SET mid = GREATEST(group_delivered.mid, excluded.mid)`,
      [groupRows.map((r) => r.conv), groupRows.map((r) => r.account), groupRows.map((r) => r.mid)],
    );
    // Only once every member's group watermarks in this batch are raised can the group
    // receipts be known; each (group, sender) is looked at once.
    const pairs = new Map(groupRows.map((r) => [`${r.conv}:${r.sender}`, r]));
    for (const r of pairs.values()) {
      const receipt = await groupDeliveryReceipt(client, r.conv, r.sender, atOf.get(r.account)!);
      if (receipt) {
        items.push(receipt);
        owners.push(r.account);
      }
    }
  }
  const deliveries = await appendItems(client, items, counters);
  const byUser = new Map<AccountId, Delivery[]>();
  deliveries.forEach((delivery, k) => {
    const list = byUser.get(owners[k]!) ?? [];
    list.push(delivery);
    byUser.set(owners[k]!, list);
  });
  // The deliveries go with the ack that moved the watermark; a smaller ack of the same user in
  // the same batch moved nothing.
  return acks.map((ack) => (wanted.get(ack.user) === ack ? (byUser.get(ack.user) ?? []) : []));
}

/** Each acking device's own cursor; the account's watermark moves only past every device's. */
async function moveDeviceCursors(
  client: pg.PoolClient,
  acks: AckRequest[],
  counters: Counters,
): Promise<void> {
  const highest = new Map<string, { account: AccountId; device: number; seq: number }>();
  for (const ack of acks) {
    const last = counters.last.get(ack.user);
    if (ack.device <= 0 || last === undefined) continue;
    const seq = Math.min(ack.upToSeq, last);
    const key = `${ack.user}:${ack.device}`;
    if ((highest.get(key)?.seq ?? -1) < seq) highest.set(key, { account: ack.user, device: ack.device, seq });
  }
  if (highest.size === 0) return;
  const rows = [...highest.values()];
  await client.query({
    name: 'move_device_cursors',
    text: `UPDATE devices d SET acked_seq = GREATEST(d.acked_seq, v.seq)
      FROM unnest($1::bigint[], $2::integer[], $3::bigint[]) AS v(account, device, seq)
      WHERE d.account = v.account AND d.device = v.device`,
    values: [rows.map((r) => r.account), rows.map((r) => r.device), rows.map((r) => r.seq)],
  });
}

/** A group message is delivered once every member but its sender has it. */
async function groupDeliveryReceipt(
  client: pg.PoolClient,
  group: AccountId,
  sender: AccountId,
  at: number,
): Promise<NewItem | null> {
  const { rows } = await client.query<{ everyone: number | null }>(
    `SELECT min(COALESCE(d.mid, 0)) AS everyone FROM group_members g
     LEFT JOIN group_delivered d ON d.group_id = g.group_id AND d.member = g.member
     WHERE g.group_id = $1 AND g.member <> $2`,
    [group, sender],
  );
  const everyone = rows[0]?.everyone ?? 0;
  const last = await lastInConversation(client, group, sender, { mid: everyone }, true);
  if (!last || !(await raiseMark(client, sender, group, group, 'delivered', last.mid))) return null;
  return receiptItem(sender, { status: 'delivered', by: group, conv: group, mid: last.mid, ts: last.ts, at });
}

/** The senders whose messages a group read mark covers: they get read receipts. */
async function groupSendersWithin(
  client: pg.PoolClient,
  group: AccountId,
  reader: AccountId,
  mark: ReadMark,
): Promise<AccountId[]> {
  const bound = 'mid' in mark ? 'mid <= $3' : 'ts <= $3';
  const { rows } = await client.query<{ sender: number }>(
    `SELECT DISTINCT sender FROM messages WHERE conv = $1 AND sender <> $2 AND ${bound} AND in_group`,
    [group, reader, 'mid' in mark ? mark.mid : mark.ts],
  );
  return rows.map((r) => r.sender);
}

/** The rows a read mark writes: the reader's (its marks) and the senders'. */
export async function markReadLocks(
  client: pg.PoolClient,
  reader: AccountId,
  conv: AccountId,
  mark: ReadMark,
): Promise<AccountId[]> {
  return [reader, conv, ...(await groupSendersWithin(client, conv, reader, mark))];
}

export async function markRead(
  client: pg.PoolClient,
  reader: AccountId,
  conv: AccountId,
  mark: ReadMark,
  at: number,
  device: number,
  counters: Counters,
): Promise<Delivery[]> {
  const target = await client.query<{ kind: number }>(`SELECT kind FROM accounts WHERE id = $1`, [conv]);
  if (!target.rows[0]) return [];
  const items: NewItem[] = [];
  if (target.rows[0].kind === 2) {
    const member = await client.query(`SELECT 1 FROM group_members WHERE group_id = $1 AND member = $2`, [
      conv,
      reader,
    ]);
    if (member.rowCount === 0) return [];
    for (const sender of await groupSendersWithin(client, conv, reader, mark)) {
      const item = await readReceipt(client, reader, conv, sender, mark, at);
      if (item) items.push(item);
    }
  } else {
    const item = await readReceipt(client, reader, reader, conv, mark, at);
    if (item) items.push(item);
  }
  // The reader's own mark: what `mid` says, or the newest message the receipts found.
  let readMid = 'mid' in mark ? mark.mid : 0;
  for (const item of items) readMid = Math.max(readMid, item.mid ?? 0);
  await unmerged(client, items, counters);
  if (readMid > 0 && (await raiseReadMark(client, reader, conv, readMid))) {
    const devices = await client.query(`SELECT 1 FROM devices WHERE account = $1 LIMIT 2`, [reader]);
    if ((devices.rowCount ?? 0) > 1) {
      items.push({
        to: reader,
        kind: ITEM_READ,
        mid: readMid,
        body: JSON.stringify([conv, device]),
        build: (seq) => ({ seq, kind: 'read', conv, mid: readMid, device }),
      });
    }
  }
  const deliveries = await appendItems(client, items, counters);
  remember(deliveries, counters);
  return deliveries;
}

/**
 * The read receipts appended in each transaction (known by its counters, which every attempt
 * makes anew), per recipient: a later read of the same commit moves such a receipt's mark in
 * place instead of appending another, so a sender gets one receipt per conversation, peer and
 * status for a whole commit.
 */
const inCommit = new WeakMap<Counters, Map<AccountId, Delivery[]>>();

function remember(deliveries: Delivery[], counters: Counters): void {
  let byTo = inCommit.get(counters);
  if (byTo === undefined) inCommit.set(counters, (byTo = new Map()));
  for (const delivery of deliveries) {
    if (delivery.item.kind !== 'receipt') continue;
    const list = byTo.get(delivery.to);
    if (list === undefined) byTo.set(delivery.to, [delivery]);
    else list.push(delivery);
  }
}

/**
 * Takes out of `items` the receipts that an earlier one of this commit covers, rewriting that
 * one's row and delivery to the later mark.
 */
async function unmerged(client: pg.PoolClient, items: NewItem[], counters: Counters): Promise<void> {
  const byTo = inCommit.get(counters);
  if (byTo === undefined) return;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind !== ITEM_RECEIPT) continue;
    const receipt = JSON.parse(item.body as string) as Receipt;
    const earlier = byTo
      .get(item.to)
      ?.find(
        (d) =>
          d.item.kind === 'receipt' &&
          d.item.receipt.conv === receipt.conv &&
          d.item.receipt.by === receipt.by &&
          d.item.receipt.status === receipt.status,
      );
    if (earlier === undefined || earlier.item.kind !== 'receipt') continue;
    if (receipt.mid > earlier.item.receipt.mid) {
      await client.query({
        name: 'rewrite_receipt',
        text: `UPDATE inbox SET mid = $1, body = $2 WHERE account = $3 AND seq = $4`,
        values: [receipt.mid, item.body, item.to, earlier.item.seq],
      });
      earlier.item = { seq: earlier.item.seq, kind: 'receipt', receipt };
    }
    items.splice(i, 1);
  }
}

/** Raises `owner`'s read mark in `conv`; true when it moved. */
async function raiseReadMark(
  client: pg.PoolClient,
  owner: AccountId,
  conv: AccountId,
  mid: number,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO read_marks (owner, conv, mid) VALUES ($1, $2, $3)
     ON CONFLICT (owner, conv) DO UPDATE SET mid = excluded.mid WHERE read_marks.mid < excluded.mid`,
    [owner, conv, mid],
  );
  return rowCount === 1;
}

async function readReceipt(
  client: pg.PoolClient,
  reader: AccountId,
  receiptConv: AccountId,
  sender: AccountId,
  mark: ReadMark,
  at: number,
): Promise<NewItem | null> {
  const inGroup = receiptConv !== reader;
  const last = await lastInConversation(client, receiptConv, sender, mark, inGroup);
  if (!last || !(await raiseMark(client, sender, receiptConv, reader, 'read', last.mid))) return null;
  return receiptItem(sender, readReceiptUpTo(reader, receiptConv, last, at));
}

/** The last message `sender` wrote in `conv` (the recipient, or the group) within the mark. */
async function lastInConversation(
  client: pg.PoolClient,
  conv: AccountId,
  sender: AccountId,
  mark: ReadMark,
  inGroup: boolean,
): Promise<Last | null> {
  const bound = 'mid' in mark ? 'mid <= $3' : 'ts <= $3';
  const { rows } = await client.query<Last>(
    `SELECT mid, ts FROM messages WHERE conv = $1 AND sender = $2 AND ${bound} AND in_group = $4
     ORDER BY mid DESC LIMIT 1`,
    [conv, sender, 'mid' in mark ? mark.mid : mark.ts, inGroup],
  );
  return rows[0] ?? null;
}

/** Moves a receipt watermark forward; false when it already stands at `mid` or beyond. */
async function raiseMark(
  client: pg.PoolClient,
  sender: AccountId,
  conv: AccountId,
  by: AccountId,
  status: ReceiptStatus,
  mid: number,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO receipt_marks (sender, conv, by_id, status, mid) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (sender, conv, by_id, status) DO UPDATE SET mid = excluded.mid
     WHERE receipt_marks.mid < excluded.mid`,
    [sender, conv, by, STATUS[status], mid],
  );
  return rowCount === 1;
}

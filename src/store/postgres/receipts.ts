import type pg from 'pg';
import type { ReadMark } from '../../core/ports.js';
import type { AccountId, Delivery, ReceiptStatus } from '../../core/types.js';
import { ITEM_MSG, appendItems, receiptItem, type NewItem } from './inbox-sql.js';

const STATUS = { delivered: 1, read: 2 } as const;

interface Last {
  mid: number;
  ts: number;
}

/**
 * Delivery and read receipts as watermarks, inside the caller's transaction. Each function
 * first locks the row of whoever's watermark moves (the acking user, the group, the reader),
 * so two nodes handling the same user's acks or marks at once run one after the other and
 * never send one receipt twice or miss one.
 */
export async function ackDelivered(
  client: pg.PoolClient,
  user: AccountId,
  upToSeq: number,
  at: number,
): Promise<Delivery[]> {
  const state = await client.query<{ delivered_seq: number; last_seq: number }>(
    `SELECT delivered_seq, last_seq FROM accounts WHERE id = $1 AND kind = 1 FOR UPDATE`,
    [user],
  );
  const row = state.rows[0];
  if (!row) return [];
  const upTo = Math.min(upToSeq, row.last_seq);
  if (upTo <= row.delivered_seq) return [];
  // One receipt per (sender, conversation) for the whole range, carrying its last message.
  const { rows } = await client.query<{ sender: number; conv: number; mid: number; ts: number }>(
    `SELECT DISTINCT ON (m.sender, m.conv) m.sender, m.conv, m.mid, m.ts
     FROM inbox i JOIN messages m ON m.mid = i.mid
     WHERE i.account = $1 AND i.seq > $2 AND i.seq <= $3 AND i.kind = ${ITEM_MSG}
     ORDER BY m.sender, m.conv, m.mid DESC`,
    [user, row.delivered_seq, upTo],
  );
  await client.query(`UPDATE accounts SET delivered_seq = $2 WHERE id = $1`, [user, upTo]);
  const items: NewItem[] = [];
  const groupRows = [];
  for (const r of rows) {
    if (r.conv === user) {
      items.push(
        receiptItem(r.sender, { status: 'delivered', by: user, conv: user, mid: r.mid, ts: r.ts, at }),
      );
    } else groupRows.push(r);
  }
  if (groupRows.length > 0) {
    const groups = [...new Set(groupRows.map((r) => r.conv))].sort((a, b) => a - b);
    await client.query(`SELECT id FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [
      groups,
    ]);
    await client.query(
      `INSERT INTO group_delivered (group_id, member, mid)
       SELECT g, $2, m FROM unnest($1::bigint[], $3::bigint[]) AS v(g, m)
       ON CONFLICT (group_id, member) DO UPDATE SET mid = GREATEST(group_delivered.mid, excluded.mid)`,
      [groupRows.map((r) => r.conv), user, groupRows.map((r) => r.mid)],
    );
    // Only once this member's group watermarks are all raised can the group receipts be known.
    for (const r of groupRows) {
      const receipt = await groupDeliveryReceipt(client, r.conv, r.sender, at);
      if (receipt) items.push(receipt);
    }
  }
  return appendItems(client, items);
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

export async function markRead(
  client: pg.PoolClient,
  reader: AccountId,
  conv: AccountId,
  mark: ReadMark,
  at: number,
): Promise<Delivery[]> {
  const target = await client.query<{ kind: number }>(`SELECT kind FROM accounts WHERE id = $1`, [conv]);
  if (!target.rows[0]) return [];
  await client.query(`SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, [reader]);
  const items: NewItem[] = [];
  if (target.rows[0].kind === 2) {
    const member = await client.query(`SELECT 1 FROM group_members WHERE group_id = $1 AND member = $2`, [
      conv,
      reader,
    ]);
    if (member.rowCount === 0) return [];
    const bound = 'mid' in mark ? 'mid <= $3' : 'ts <= $3';
    const senders = await client.query<{ sender: number }>(
      `SELECT DISTINCT sender FROM messages WHERE conv = $1 AND sender <> $2 AND ${bound} AND in_group`,
      [conv, reader, 'mid' in mark ? mark.mid : mark.ts],
    );
    for (const { sender } of senders.rows) {
      const item = await readReceipt(client, reader, conv, sender, mark, at);
      if (item) items.push(item);
    }
  } else {
    const item = await readReceipt(client, reader, reader, conv, mark, at);
    if (item) items.push(item);
  }
  return appendItems(client, items);
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
  return receiptItem(sender, {
    status: 'read',
    by: reader,
    conv: receiptConv,
    mid: last.mid,
    ts: last.ts,
    at,
  });
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

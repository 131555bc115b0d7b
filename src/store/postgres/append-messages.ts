import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AppendResult, NewMessage } from '../../core/ports.js';
import type { DeliveredMessage, StoredMessage } from '../../core/types.js';
import { ITEM_MSG, writeItems, type Counters, type NewItem } from './inbox-sql.js';

const TAKE_MIDS = {
  name: 'take_mids',
  text: `SELECT nextval('messages_mid') AS mid FROM generate_series(1, $1)`,
};
const INSERT_MESSAGES = {
  name: 'insert_messages',
  text: `INSERT INTO messages (mid, sender, conv, cid, text, ts, at, in_group)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::boolean[])
    ON CONFLICT DO NOTHING RETURNING mid`,
};
const STORED_BY_CID = {
  name: 'stored_by_cid',
  text: `SELECT m.mid, m.sender, m.conv, m.cid, m.text, m.ts, m.at FROM messages m
    JOIN unnest($1::bigint[], $2::text[]) AS k(sender, cid) ON m.sender = k.sender AND m.cid = k.cid`,
};

/**
 * Stores one turn's messages in the open transaction, in a fixed number of statements whatever
 * their count. With every recipient's counter row locked by the batch (in id order), it takes
 * the mids, inserts the messages (a (sender, cid) already stored, here or by another node,
 * inserts nothing), then writes every inbox row and counter at once.
 *
 * The mids are taken after the counter locks: of two transactions that share a recipient, the
 * one that locks first also takes its mids first, so in every inbox mids rise with seqs.
 * Returns one outcome per message, an Error for one that cannot be stored.
 */
export async function appendMessages(
  client: pg.PoolClient,
  messages: NewMessage[],
  counters: Counters,
): Promise<Array<AppendResult | Error>> {
  const outcomes: Array<AppendResult | Error | undefined> = new Array(messages.length);
  const last = counters.last;
  // The first of each (sender, cid) in the batch is stored; later ones are its duplicates.
  const firstOf = new Map<string, number>();
  const stored: number[] = [];
  const duplicates: number[] = [];
  messages.forEach((message, i) => {
    const missing = message.recipients.find((to) => !last.has(to));
    if (missing !== undefined) {
      outcomes[i] = new MensageiroError('unknown_account', `no account ${missing}`);
      return;
    }
    const key = message.cid === null ? null : `${message.from}\u0000${message.cid}`;
    if (key !== null && firstOf.has(key)) {
      duplicates.push(i);
      return;
    }
    if (key !== null) firstOf.set(key, i);
    stored.push(i);
  });
  const mids = new Map<number, number>();
  if (stored.length > 0) {
    const taken = await client.query<{ mid: number }>({ ...TAKE_MIDS, values: [stored.length] });
    const sorted = taken.rows.map((r) => r.mid).sort((a, b) => a - b);
    stored.forEach((i, k) => mids.set(i, sorted[k]!));
    const rows = stored.map((i) => messages[i]!);
    const inserted = await client.query<{ mid: number }>({
      ...INSERT_MESSAGES,
      values: [
        stored.map((i) => mids.get(i)!),
        rows.map((m) => m.from),
        rows.map((m) => m.to),
        rows.map((m) => m.cid),
        rows.map((m) => m.text),
        rows.map((m) => m.ts),
        rows.map((m) => m.at),
        rows.map((m) => !(m.recipients.length === 1 && m.recipients[0] === m.to)),
      ],
    });
    const insertedMids = new Set(inserted.rows.map((r) => r.mid));
    for (const i of stored) if (!insertedMids.has(mids.get(i)!)) duplicates.push(i);
  }
  await resolveDuplicates(client, messages, duplicates, outcomes);

  const items: NewItem[] = [];
  const owners: number[] = [];
  for (const i of stored) {
    if (outcomes[i] !== undefined) continue;
    const input = messages[i]!;
    const mid = mids.get(i)!;
    const delivered: DeliveredMessage = {
      mid,
      from: input.from,
      to: input.to,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    for (const to of input.recipients) {
      items.push({
        to,
        kind: ITEM_MSG,
        mid,
        body: null,
        build: (seq) => ({ seq, kind: 'msg', msg: delivered }),
      });
      owners.push(i);
    }
    outcomes[i] = { message: { ...delivered, cid: input.cid }, duplicate: false, deliveries: [] };
  }
  const deliveries = await writeItems(client, items, last);
  deliveries.forEach((delivery, k) => (outcomes[owners[k]!] as AppendResult).deliveries.push(delivery));
  return outcomes as Array<AppendResult | Error>;
}

/** A resend is acknowledged with the stored original and delivers nothing. */
async function resolveDuplicates(
  client: pg.PoolClient,
  messages: NewMessage[],
  duplicates: number[],
  outcomes: Array<AppendResult | Error | undefined>,
): Promise<void> {
  if (duplicates.length === 0) return;
  // Those duplicating an earlier message of this batch find it stored by now.
  const { rows } = await client.query<{
    mid: number;
    sender: number;
    conv: number;
    cid: string;
    text: string;
    ts: number;
    at: number;
  }>({
    ...STORED_BY_CID,
    values: [duplicates.map((i) => messages[i]!.from), duplicates.map((i) => messages[i]!.cid)],
  });
  const byKey = new Map(rows.map((r) => [`${r.sender}\u0000${r.cid}`, r]));
  for (const i of duplicates) {
    const input = messages[i]!;
    const row = byKey.get(`${input.from}\u0000${input.cid}`);
    if (!row) {
      outcomes[i] = new MensageiroError('internal', 'the message was not stored');
      continue;
    }
    const message: StoredMessage = {
      mid: row.mid,
      from: row.sender,
      to: row.conv,
      cid: row.cid,
      text: row.text,
      ts: row.ts,
      at: row.at,
    };
    outcomes[i] = { message, duplicate: true, deliveries: [] };
  }
}

import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AppendResult, NewMessage } from '../../core/ports.js';
import type { AccountId, DeliveredMessage, InboxItem, StoredMessage } from '../../core/types.js';
import { ITEM_MSG, ITEM_SENT, lockCounters, type Counters } from './inbox-sql.js';

/**
 * One statement for a turn's messages: it takes their mids (in message order), inserts them (a
 * (sender, cid) already stored, here or by another node, inserts nothing), appends the inbox
 * items of those it inserted, each account's seqs following its counter, and moves the
 * counters. It returns a row per inserted message (its sender's name) and one per item (its
 * seq). The counter rows are locked by the transaction, so reading them here is safe.
 */
const STORE_MESSAGES = {
  name: 'store_messages',
  text: `WITH taken AS MATERIALIZED (
      SELECT nextval('messages_mid') AS mid FROM generate_series(1, cardinality($1::bigint[]))
    ), numbered AS (
      SELECT mid, row_number() OVER (ORDER BY mid) AS ord FROM taken
    ), wanted AS (
      SELECT n.mid, u.* FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[])
        WITH ORDINALITY AS u(sender, conv, cid, text, ts, at, in_group, ord)
      JOIN numbered n USING (ord)
    ), stored AS (
      INSERT INTO messages (mid, sender, conv, cid, text, ts, at, in_group)
      SELECT mid, sender, conv, cid, text, ts, at, in_group FROM wanted
      ON CONFLICT DO NOTHING RETURNING mid, sender
    ), items AS (
      SELECT i.item, i.account, i.kind, w.mid, i.body,
        a.last_seq + row_number() OVER (PARTITION BY i.account ORDER BY i.item) AS seq
      FROM unnest($8::integer[], $9::bigint[], $10::smallint[], $11::text[]) WITH ORDINALITY AS i(message, account, kind, body, item)
      JOIN wanted w ON w.ord = i.message
      JOIN stored s ON s.mid = w.mid
      JOIN accounts a ON a.id = i.account
    ), added AS (
      INSERT INTO inbox (account, seq, kind, mid, body) SELECT account, seq, kind, mid, body FROM items
    ), counted AS (
      UPDATE accounts a SET last_seq = c.last
      FROM (SELECT account, max(seq) AS last FROM items GROUP BY account) c WHERE a.id = c.account
    )
    SELECT w.ord::integer AS message, w.mid, COALESCE(a.display_name, a.username) AS name,
      NULL::integer AS item, NULL::bigint AS seq
    FROM stored s JOIN wanted w ON w.mid = s.mid JOIN accounts a ON a.id = s.sender
    UNION ALL
    SELECT NULL, NULL, NULL, item::integer, seq FROM items`,
};
const STORED_BY_CID = {
  name: 'stored_by_cid',
  text: `SELECT m.mid, m.sender, m.conv, m.cid, m.text, m.ts, m.at FROM messages m
    JOIN unnest($1::bigint[], $2::text[]) AS k(sender, cid) ON m.sender = k.sender AND m.cid = k.cid`,
};

/** An inbox item a message will make if it is inserted. */
interface PlannedItem {
  /** Index of the message in the batch. */
  message: number;
  to: AccountId;
  kind: number;
  body: string | null;
}

/**
 * Stores one turn's messages in the open transaction: with every recipient's counter row
 * locked by the batch (in id order), one statement takes the mids, inserts the messages and
 * writes their inbox rows and counters.
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
  // A group message goes to the members as of this commit (the group row is locked): a change
  // committed after the send was prepared wins, so a member removed in between gets nothing.
  const members = await groupMembers(
    client,
    messages.filter((m) => !isDirect(m)).map((m) => m.to),
  );
  const recipients = messages.map((m) =>
    isDirect(m) ? m.recipients : (members.get(m.to) ?? []).filter((member) => member !== m.from),
  );
  const withDevice = messages.filter((m) => (m.device ?? 0) > 0).map((m) => m.from);
  await lockCounters(client, [...recipients.flat(), ...withDevice], counters);
  const devices = await deviceCounts(client, withDevice);
  // The first of each (sender, cid) in the batch is stored; later ones are its duplicates.
  const firstOf = new Map<string, number>();
  const stored: number[] = [];
  const duplicates: number[] = [];
  messages.forEach((message, i) => {
    if (!isDirect(message) && !members.get(message.to)?.includes(message.from)) {
      outcomes[i] = new MensageiroError('forbidden', `you are not in group ${message.to}`);
      return;
    }
    const missing = recipients[i]!.find((to) => !last.has(to));
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
  if (stored.length === 0) {
    await resolveDuplicates(client, messages, duplicates, outcomes);
    return outcomes as Array<AppendResult | Error>;
  }
  const planned: PlannedItem[] = [];
  stored.forEach((i, k) => {
    const input = messages[i]!;
    for (const to of recipients[i]!) planned.push({ message: k + 1, to, kind: ITEM_MSG, body: null });
    // The sender's other devices get it too, when there are others.
    const device = input.device ?? 0;
    if (device > 0 && (devices.get(input.from) ?? 0) > 1 && !recipients[i]!.includes(input.from)) {
      planned.push({ message: k + 1, to: input.from, kind: ITEM_SENT, body: String(device) });
    }
  });
  const rows = stored.map((i) => messages[i]!);
  const { rows: written } = await client.query<{
    message: number | null;
    mid: number | null;
    name: string | null;
    item: number | null;
    seq: number | null;
  }>({
    ...STORE_MESSAGES,
    values: [
      rows.map((m) => m.from),
      rows.map((m) => m.to),
      rows.map((m) => m.cid),
      rows.map((m) => m.text),
      rows.map((m) => m.ts),
      rows.map((m) => m.at),
      rows.map((m) => !isDirect(m)),
      planned.map((p) => p.message),
      planned.map((p) => p.to),
      planned.map((p) => p.kind),
      planned.map((p) => p.body),
    ],
  });
  const inserted = new Map<number, DeliveredMessage>();
  const seqs = new Map<number, number>();
  for (const row of written) {
    if (row.item !== null) {
      seqs.set(row.item, row.seq!);
      continue;
    }
    const input = rows[row.message! - 1]!;
    const delivered: DeliveredMessage = {
      mid: row.mid!,
      from: input.from,
      to: input.to,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    if (row.name !== null) delivered.fromName = row.name;
    inserted.set(row.message!, delivered);
  }
  stored.forEach((i, k) => {
    const delivered = inserted.get(k + 1);
    if (!delivered) duplicates.push(i);
    else outcomes[i] = { message: { ...delivered, cid: messages[i]!.cid }, duplicate: false, deliveries: [] };
  });
  await resolveDuplicates(client, messages, duplicates, outcomes);
  planned.forEach((p, n) => {
    const seq = seqs.get(n + 1);
    if (seq === undefined) return; // its message was a duplicate
    if (seq > last.get(p.to)!) last.set(p.to, seq);
    const msg = inserted.get(p.message)!;
    const device = Number(p.body);
    const item: InboxItem =
      p.kind === ITEM_MSG ? { seq, kind: 'msg', msg } : { seq, kind: 'sent', msg, device };
    (outcomes[stored[p.message - 1]!] as AppendResult).deliveries.push({ to: p.to, item });
  });
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

const isDirect = (m: NewMessage) => m.recipients.length === 1 && m.recipients[0] === m.to;

/** The rows a batch of messages writes: recipients, groups (their current members), senders. */
export async function messageLocks(client: pg.PoolClient, messages: NewMessage[]): Promise<AccountId[]> {
  const ids: AccountId[] = [];
  const groups: AccountId[] = [];
  for (const m of messages) {
    if (isDirect(m)) ids.push(...m.recipients);
    else groups.push(m.to);
    if ((m.device ?? 0) > 0) ids.push(m.from);
  }
  for (const [gid, members] of await groupMembers(client, groups)) ids.push(gid, ...members);
  return ids;
}

async function groupMembers(
  client: pg.PoolClient,
  groups: AccountId[],
): Promise<Map<AccountId, AccountId[]>> {
  const members = new Map<AccountId, AccountId[]>();
  if (groups.length === 0) return members;
  const { rows } = await client.query<{ group_id: number; member: number }>({
    name: 'group_members_of',
    text: `SELECT group_id, member FROM group_members WHERE group_id = ANY($1::bigint[]) ORDER BY group_id, position`,
    values: [[...new Set(groups)]],
  });
  for (const row of rows) {
    const list = members.get(row.group_id) ?? [];
    list.push(row.member);
    members.set(row.group_id, list);
  }
  return members;
}

async function deviceCounts(client: pg.PoolClient, accounts: AccountId[]): Promise<Map<AccountId, number>> {
  if (accounts.length === 0) return new Map();
  const { rows } = await client.query<{ account: number; count: string }>(
    `SELECT account, count(*) AS count FROM devices WHERE account = ANY($1::bigint[]) GROUP BY account`,
    [[...new Set(accounts)]],
  );
  return new Map(rows.map((r) => [r.account, Number(r.count)]));
}

/** Each account's name as deliveries show it: the display name, else the username. */
export async function namesOf(
  client: pg.PoolClient | pg.Pool,
  ids: AccountId[],
): Promise<Map<AccountId, string | null>> {
  if (ids.length === 0) return new Map();
  const { rows } = await client.query<{ id: number; name: string | null }>({
    name: 'names_of',
    text: `SELECT id, COALESCE(display_name, username) AS name FROM accounts WHERE id = ANY($1::bigint[])`,
    values: [[...new Set(ids)]],
  });
  return new Map(rows.map((r) => [r.id, r.name]));
}

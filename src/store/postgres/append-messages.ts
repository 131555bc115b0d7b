import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AppendResult, NewMessage } from '../../core/ports.js';
import type { AccountId, DeliveredMessage, StoredMessage } from '../../core/types.js';
import { ITEM_MSG, ITEM_SENT, lockCounters, writeItems, type Counters, type NewItem } from './inbox-sql.js';

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
  const names = await namesOf(
    client,
    messages.map((m) => m.from),
  );
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
        rows.map((m) => !isDirect(m)),
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
    const fromName = names.get(input.from) ?? null;
    if (fromName !== null) delivered.fromName = fromName;
    const to = recipients[i]!;
    for (const user of to) {
      items.push({
        to: user,
        kind: ITEM_MSG,
        mid,
        body: null,
        build: (seq) => ({ seq, kind: 'msg', msg: delivered }),
      });
      owners.push(i);
    }
    // The sender's other devices get it too, when there are others.
    const device = input.device ?? 0;
    if (device > 0 && (devices.get(input.from) ?? 0) > 1 && !to.includes(input.from)) {
      items.push({
        to: input.from,
        kind: ITEM_SENT,
        mid,
        body: String(device),
        build: (seq) => ({ seq, kind: 'sent', msg: delivered, device }),
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

import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { GroupChangeRequest, NewGroup } from '../../core/ports.js';
import type { AccountId, Delivery, Group, GroupChange } from '../../core/types.js';
import { namesOf } from './append-messages.js';
import { insertAccount } from './accounts-sql.js';
import { appendItems, noticeItem, type Counters } from './inbox-sql.js';
import { planGroupChange } from '../group-change.js';

/**
 * Groups: current members with an admin flag (`group_members`), and each member's window of
 * messages they may see (`group_access`). Writes run in the batch's transaction, with the
 * group's row and its members' rows locked.
 */

export async function loadGroup(db: pg.PoolClient | pg.Pool, id: AccountId): Promise<Group | null> {
  const { rows } = await db.query<{
    id: number;
    group_name: string | null;
    creator: number | null;
    client_ts: number | null;
    created_at: number;
    members: number[] | null;
    admins: boolean[] | null;
  }>({
    name: 'load_group',
    text: `SELECT a.id, a.group_name, a.creator, a.client_ts, a.created_at,
        (SELECT array_agg(member ORDER BY position) FROM group_members WHERE group_id = a.id) AS members,
        (SELECT array_agg(admin ORDER BY position) FROM group_members WHERE group_id = a.id) AS admins
      FROM accounts a WHERE a.id = $1 AND a.kind = 2`,
    values: [id],
  });
  const row = rows[0];
  if (!row) return null;
  const members = (row.members ?? []).map(Number);
  return {
    id: row.id,
    name: row.group_name ?? '',
    creator: row.creator ?? 0,
    members,
    admins: members.filter((_, i) => row.admins?.[i] === true),
    ts: row.client_ts ?? 0,
    at: row.created_at,
  };
}

/** The newest mid: members added now see the messages after it. */
async function lastMid(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ mid: number }>(`SELECT COALESCE(max(mid), 0) AS mid FROM messages`);
  return rows[0]!.mid;
}

async function addMembers(
  client: pg.PoolClient,
  gid: AccountId,
  members: AccountId[],
  firstPosition: number,
) {
  const from = await lastMid(client);
  await client.query(
    `INSERT INTO group_members (group_id, position, member, admin)
     SELECT $1, $2 + p - 1, m, false FROM unnest($3::bigint[]) WITH ORDINALITY AS v(m, p)`,
    [gid, firstPosition, members],
  );
  await client.query(
    `INSERT INTO group_access (group_id, member, from_mid, to_mid) SELECT $1, m, $2, NULL FROM unnest($3::bigint[]) AS v(m)
     ON CONFLICT (group_id, member) DO UPDATE SET from_mid = excluded.from_mid, to_mid = NULL`,
    [gid, from, members],
  );
}

export async function createGroup(
  client: pg.PoolClient,
  group: NewGroup,
  counters: Counters,
): Promise<{ group: Group; deliveries: Delivery[] }> {
  await insertAccount(client, {
    id: group.id,
    kind: 2,
    username: null,
    secret_hash: null,
    display_name: null,
    group_name: group.name,
    creator: group.creator,
    client_ts: group.ts,
    created_at: group.at,
  });
  await addMembers(client, group.id, group.members, 0);
  const stored: Group = { ...group, members: [...group.members], admins: [] };
  const change: GroupChange = {
    action: 'create',
    by: group.creator,
    affected: [],
    ts: group.ts,
    at: group.at,
  };
  return { group: stored, deliveries: await notify(client, stored, change, stored.members, counters) };
}

export async function changeGroup(
  client: pg.PoolClient,
  change: GroupChangeRequest,
  counters: Counters,
): Promise<{ group: Group; deliveries: Delivery[] }> {
  const group = await loadGroup(client, change.gid);
  if (!group) throw new MensageiroError('unknown_recipient', `unknown group ${change.gid}`);
  const { group: after, affected, removed } = planGroupChange(group, change);
  const gid = group.id;
  switch (change.action) {
    case 'add': {
      const { rows } = await client.query<{ next: number }>(
        `SELECT COALESCE(max(position), -1) + 1 AS next FROM group_members WHERE group_id = $1`,
        [gid],
      );
      await addMembers(client, gid, affected, rows[0]!.next);
      break;
    }
    case 'remove':
    case 'leave': {
      const now = await lastMid(client);
      await client.query(`DELETE FROM group_members WHERE group_id = $1 AND member = ANY($2::bigint[])`, [
        gid,
        removed,
      ]);
      await client.query(
        `UPDATE group_access SET to_mid = $3 WHERE group_id = $1 AND member = ANY($2::bigint[])`,
        [gid, removed, now],
      );
      // Nobody left could manage the group, and its oldest member took over.
      if (after.admins.some((m) => !group.admins.includes(m))) await setAdmins(client, gid, after.admins);
      break;
    }
    case 'rename':
      await client.query(`UPDATE accounts SET group_name = $2 WHERE id = $1`, [gid, after.name]);
      break;
    case 'admins':
      await setAdmins(client, gid, after.admins);
      break;
  }
  const notice: GroupChange = {
    action: change.action,
    by: change.by,
    affected,
    ts: change.ts,
    at: change.at,
  };
  return {
    group: after,
    deliveries: await notify(client, after, notice, [...after.members, ...removed], counters),
  };
}

async function setAdmins(client: pg.PoolClient, gid: AccountId, admins: AccountId[]): Promise<void> {
  await client.query(`UPDATE group_members SET admin = (member = ANY($2::bigint[])) WHERE group_id = $1`, [
    gid,
    admins,
  ]);
}

/** The group notice, stored and forwarded in each of `audience`'s inboxes. */
async function notify(
  client: pg.PoolClient,
  group: Group,
  change: GroupChange,
  audience: AccountId[],
  counters: Counters,
): Promise<Delivery[]> {
  const names = await namesOf(client, group.members);
  const notice = { group, change, names: group.members.map((m) => names.get(m) ?? null) };
  return appendItems(
    client,
    audience.map((member) => noticeItem(member, notice)),
    counters,
  );
}

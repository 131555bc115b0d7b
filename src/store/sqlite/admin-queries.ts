import type Database from 'better-sqlite3';
import type { AccountId } from '../../core/types.js';

/**
 * What an operator reads and changes (mensageiro admin), kept apart from the message path.
 * Every function takes the store's connection and runs synchronously; writes are submitted
 * through the store's group commit by the caller.
 */

/** Operator state the message path never writes: suspensions and when each account last signed in. */
export function ensureAdminTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS suspensions (account INTEGER PRIMARY KEY, at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS last_seen (account INTEGER PRIMARY KEY, at INTEGER NOT NULL);
  `);
}

export interface UserRow {
  id: AccountId;
  username: string | null;
  hasSecret: boolean;
  createdAt: number;
  lastSeen: number | null;
  /** Devices signed in with the secret, each with its token. */
  devices: number;
  suspended: boolean;
  /** Inbox items not yet acknowledged. */
  backlog: number;
}

export function listUsers(db: Database.Database): UserRow[] {
  const rows = db
    .prepare(
      `SELECT a.id, a.username, a.secret_hash IS NOT NULL AS hasSecret, a.created_at AS createdAt,
              l.at AS lastSeen, (SELECT count(*) FROM devices d WHERE d.account = a.id) AS devices,
              s.account IS NOT NULL AS suspended,
              (SELECT COALESCE(MAX(seq), 0) FROM inbox i WHERE i.user = a.id) - a.delivered_seq AS backlog
         FROM accounts a LEFT JOIN last_seen l ON l.account = a.id LEFT JOIN suspensions s ON s.account = a.id
        WHERE a.kind = 'user' ORDER BY a.id`,
    )
    .all() as Array<Omit<UserRow, 'hasSecret' | 'suspended'> & { hasSecret: number; suspended: number }>;
  return rows.map((row) => ({ ...row, hasSecret: row.hasSecret === 1, suspended: row.suspended === 1 }));
}

export interface GroupRow {
  id: AccountId;
  name: string;
  creator: AccountId;
  members: AccountId[];
  createdAt: number;
}

export function listGroups(db: Database.Database): GroupRow[] {
  const groups = db
    .prepare(
      `SELECT id, group_name AS name, creator, created_at AS createdAt FROM accounts WHERE kind = 'group' ORDER BY id`,
    )
    .all() as Array<Omit<GroupRow, 'members'>>;
  const members = db.prepare(`SELECT member FROM group_members WHERE group_id = ? ORDER BY position`).pluck();
  return groups.map((group) => ({ ...group, members: members.all(group.id) as AccountId[] }));
}

/** A user by id or username, or null. */
export function findUser(db: Database.Database, who: string): AccountId | null {
  const id = /^\d{1,13}$/.test(who)
    ? (db.prepare(`SELECT id FROM accounts WHERE id = ? AND kind = 'user'`).pluck().get(Number(who)) as
        number | undefined)
    : (db
        .prepare(`SELECT id FROM accounts WHERE username_key = ? AND kind = 'user'`)
        .pluck()
        .get(who.toLowerCase()) as number | undefined);
  return id ?? null;
}

export function isGroup(db: Database.Database, id: AccountId): boolean {
  return db.prepare(`SELECT 1 FROM accounts WHERE id = ? AND kind = 'group'`).get(id) !== undefined;
}

export function suspendedAccounts(db: Database.Database): AccountId[] {
  return db.prepare(`SELECT account FROM suspensions`).pluck().all() as AccountId[];
}

export function setSuspended(db: Database.Database, id: AccountId, suspended: boolean, at: number): void {
  if (suspended) db.prepare(`INSERT OR IGNORE INTO suspensions (account, at) VALUES (?, ?)`).run(id, at);
  else db.prepare(`DELETE FROM suspensions WHERE account = ?`).run(id);
}

export function saveLastSeen(db: Database.Database, seen: Iterable<[AccountId, number]>): void {
  const upsert = db.prepare(
    `INSERT INTO last_seen (account, at) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET at = max(at, excluded.at)`,
  );
  for (const [account, at] of seen) upsert.run(account, at);
}

/** A new secret hash; the caller revokes the devices signed in with the old one. */
export function setSecret(db: Database.Database, id: AccountId, secretHash: string): void {
  db.prepare(`UPDATE accounts SET secret_hash = ? WHERE id = ?`).run(secretHash, id);
}

export interface DeletedUser {
  removed: { username: string | null; inboxItems: number; messagesToThem: number };
  kept: { messagesSent: number; groups: number };
}

/**
 * Removes a user's name, secret and inbox (the caller revokes the devices first), and the direct messages only they held. The
 * row stays as a suspended tombstone: its id appears in others' history and in group member
 * lists, and a seed-000 client must not take it over by signing in with the bare id. The last
 * inbox row stays too, since the next seq is counted from it.
 */
export function deleteUser(db: Database.Database, id: AccountId, at: number): DeletedUser {
  const username = db.prepare(`SELECT username FROM accounts WHERE id = ?`).pluck().get(id) as string | null;
  const lastSeq = db
    .prepare(`SELECT COALESCE(MAX(seq), 0) FROM inbox WHERE user = ?`)
    .pluck()
    .get(id) as number;
  const keptMid =
    db.prepare(`SELECT mid FROM inbox WHERE user = ? AND seq = ?`).pluck().get(id, lastSeq) ?? null;
  const messagesToThem = db
    .prepare(`DELETE FROM messages WHERE conv = ? AND in_group = 0 AND mid IS NOT ?`)
    .run(id, keptMid).changes;
  const inboxItems = db.prepare(`DELETE FROM inbox WHERE user = ? AND seq < ?`).run(id, lastSeq).changes;
  db.prepare(
    `UPDATE accounts SET username = NULL, username_key = NULL, secret_hash = NULL, delivered_seq = ? WHERE id = ?`,
  ).run(lastSeq, id);
  setSuspended(db, id, true, at);
  db.prepare(`DELETE FROM last_seen WHERE account = ?`).run(id);
  const messagesSent = db.prepare(`SELECT count(*) FROM messages WHERE sender = ?`).pluck().get(id) as number;
  const groups = db.prepare(`SELECT count(*) FROM group_members WHERE member = ?`).pluck().get(id) as number;
  return { removed: { username, inboxItems, messagesToThem }, kept: { messagesSent, groups } };
}

export interface DeletedGroup {
  members: number;
  /** Group messages stay in the inboxes and history of members who received them. */
  keptMessages: number;
}

export function deleteGroup(db: Database.Database, id: AccountId): DeletedGroup {
  const members = db.prepare(`DELETE FROM group_members WHERE group_id = ?`).run(id).changes;
  db.prepare(`DELETE FROM group_delivered WHERE group_id = ?`).run(id);
  // group_access stays: it says which of the group's messages each member may read in history.
  db.prepare(`DELETE FROM accounts WHERE id = ? AND kind = 'group'`).run(id);
  const keptMessages = db
    .prepare(`SELECT count(*) FROM messages WHERE conv = ? AND in_group = 1`)
    .pluck()
    .get(id) as number;
  return { members, keptMessages };
}

/** Inbox items not yet acknowledged, over every user. */
export function inboxBacklog(db: Database.Database): number {
  return db
    .prepare(
      `SELECT count(*) FROM accounts a CROSS JOIN inbox i ON i.user = a.id AND i.seq > a.delivered_seq WHERE a.kind = 'user'`,
    )
    .pluck()
    .get() as number;
}

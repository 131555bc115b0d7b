import type Database from 'better-sqlite3';
import type { GroupChangeRequest } from '../../core/ports.js';
import type { AccountId, Group } from '../../core/types.js';
import { planGroupChange, type PlannedChange } from '../group-change.js';

interface GroupRow {
  id: number;
  kind: string;
  group_name: string | null;
  creator: number | null;
  client_ts: number | null;
  created_at: number;
}

/** A change applied: the group after it, who it touched, and who lost access. */
export type AppliedChange = PlannedChange;

/**
 * Group rows: current members with an admin flag (`group_members`), and each member's window
 * of messages they may see (`group_access`: after `from_mid`, up to `to_mid` once they left).
 * Runs inside the store's transactions.
 */
export class SqliteGroups {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      row: db.prepare(`SELECT * FROM accounts WHERE id = ? AND kind = 'group'`),
      members: db
        .prepare(`SELECT member, admin FROM group_members WHERE group_id = ? ORDER BY position`)
        .raw(),
      lastPosition: db
        .prepare(`SELECT COALESCE(max(position), -1) FROM group_members WHERE group_id = ?`)
        .pluck(),
      insertMember: db.prepare(
        `INSERT INTO group_members (group_id, position, member, admin) VALUES (?, ?, ?, ?)`,
      ),
      removeMember: db.prepare(`DELETE FROM group_members WHERE group_id = ? AND member = ?`),
      setAdmin: db.prepare(`UPDATE group_members SET admin = ? WHERE group_id = ? AND member = ?`),
      rename: db.prepare(`UPDATE accounts SET group_name = ? WHERE id = ?`),
      grantAccess: db.prepare(
        `INSERT INTO group_access (group_id, member, from_mid, to_mid) VALUES (?, ?, ?, NULL)
         ON CONFLICT (group_id, member) DO UPDATE SET from_mid = excluded.from_mid, to_mid = NULL`,
      ),
      endAccess: db.prepare(`UPDATE group_access SET to_mid = ? WHERE group_id = ? AND member = ?`),
      lastMid: db.prepare(`SELECT COALESCE(max(mid), 0) FROM messages`).pluck(),
    };
  }

  load(id: AccountId): Group | null {
    const row = this.sql.row.get(id) as GroupRow | undefined;
    if (!row) return null;
    const rows = this.sql.members.all(id) as Array<[number, number]>;
    return {
      id: row.id,
      name: row.group_name ?? '',
      creator: row.creator ?? 0,
      members: rows.map(([member]) => member),
      admins: rows.filter(([, admin]) => admin === 1).map(([member]) => member),
      ts: row.client_ts ?? 0,
      at: row.created_at,
    };
  }

  /** The member rows of a new group (its account row is the store's): all see what follows. */
  addFounders(group: Group): void {
    const from = this.sql.lastMid.get() as number;
    group.members.forEach((member, position) => {
      this.sql.insertMember.run(group.id, position, member, 0);
      this.sql.grantAccess.run(group.id, member, from);
    });
  }

  apply(group: Group, change: GroupChangeRequest): AppliedChange {
    const now = this.sql.lastMid.get() as number;
    const applied = planGroupChange(group, change);
    const { group: after, affected, removed } = applied;
    switch (change.action) {
      case 'add': {
        let position = this.sql.lastPosition.get(group.id) as number;
        for (const member of affected) {
          this.sql.insertMember.run(group.id, ++position, member, 0);
          this.sql.grantAccess.run(group.id, member, now);
        }
        break;
      }
      case 'remove':
      case 'leave':
        for (const member of removed) {
          this.sql.removeMember.run(group.id, member);
          this.sql.endAccess.run(now, group.id, member);
        }
        // Nobody left could manage the group, and its oldest member took over.
        for (const member of after.admins)
          if (!group.admins.includes(member)) this.sql.setAdmin.run(1, group.id, member);
        break;
      case 'rename':
        this.sql.rename.run(after.name, group.id);
        break;
      case 'admins':
        for (const member of after.members)
          this.sql.setAdmin.run(after.admins.includes(member) ? 1 : 0, group.id, member);
        break;
    }
    return applied;
  }
}

import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type { GroupChangeRequest } from '../../core/ports.js';
import type { AccountId, Group } from '../../core/types.js';

interface GroupRow {
  id: number;
  kind: string;
  group_name: string | null;
  creator: number | null;
  client_ts: number | null;
  created_at: number;
}

/** A change applied: the group after it, who it touched, and who lost access. */
export interface AppliedChange {
  group: Group;
  affected: AccountId[];
  removed: AccountId[];
}

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
    const members = [...group.members];
    let admins = [...group.admins];
    let name = group.name;
    let affected: AccountId[] = [];
    const removed: AccountId[] = [];
    switch (change.action) {
      case 'add': {
        affected = unique(change.members).filter((m) => !members.includes(m));
        if (affected.length === 0) throw new MensageiroError('bad_request', 'they are members already');
        if (members.length + affected.length > change.maxMembers) {
          throw new MensageiroError(
            'group_too_large',
            `a group has at most ${change.maxMembers} members, creator included`,
          );
        }
        let position = this.sql.lastPosition.get(group.id) as number;
        for (const member of affected) {
          this.sql.insertMember.run(group.id, ++position, member, 0);
          this.sql.grantAccess.run(group.id, member, now);
          members.push(member);
        }
        break;
      }
      case 'remove':
      case 'leave': {
        affected = unique(change.members).filter((m) => members.includes(m));
        if (affected.length === 0) throw new MensageiroError('bad_request', 'they are not members');
        for (const member of affected) {
          this.sql.removeMember.run(group.id, member);
          this.sql.endAccess.run(now, group.id, member);
          members.splice(members.indexOf(member), 1);
          removed.push(member);
        }
        admins = admins.filter((m) => members.includes(m));
        const someoneInCharge = members.includes(group.creator) || admins.length > 0;
        if (!someoneInCharge && members.length > 0) {
          // Nobody left may manage the group: its oldest member takes over, as WhatsApp does.
          this.sql.setAdmin.run(1, group.id, members[0]!);
          admins = [members[0]!];
        }
        break;
      }
      case 'rename':
        name = change.name ?? '';
        this.sql.rename.run(name, group.id);
        break;
      case 'admins': {
        const wanted = unique(change.members).filter((m) => members.includes(m) && m !== group.creator);
        for (const member of members)
          this.sql.setAdmin.run(wanted.includes(member) ? 1 : 0, group.id, member);
        admins = members.filter((m) => wanted.includes(m));
        affected = admins;
        break;
      }
    }
    return { group: { ...group, name, members, admins }, affected, removed };
  }
}

function unique(ids: AccountId[]): AccountId[] {
  return [...new Set(ids)];
}

import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type { AccountChange, NewAccount } from '../../core/ports.js';
import type { Account, AccountId } from '../../core/types.js';

interface AccountRow {
  id: number;
  kind: string;
  username: string | null;
  secret_hash: string | null;
  display_name: string | null;
}

export interface NewAccountRow {
  id: number;
  kind: 'user' | 'group';
  username: string | null;
  secretHash: string | null;
  displayName: string | null;
  groupName: string | null;
  creator: number | null;
  clientTs: number | null;
  createdAt: number;
}

/** Past this many, the cache starts over rather than growing with every account ever seen. */
const CACHE_LIMIT = 100_000;

/**
 * Rows of `accounts` (users and groups share the id space), and a cache of users, which every
 * send and every delivered name reads. A change goes to the file and the cache together; the
 * store clears the cache on a rollback.
 */
export class SqliteAccounts {
  private readonly users = new Map<AccountId, Account>();
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      insert: db.prepare(
        `INSERT INTO accounts (id, kind, username, username_key, secret_hash, display_name, group_name, creator, client_ts, created_at)
         VALUES (@id, @kind, @username, @usernameKey, @secretHash, @displayName, @groupName, @creator, @clientTs, @createdAt)`,
      ),
      update: db.prepare(
        `UPDATE accounts SET username = @username, username_key = @usernameKey, secret_hash = @secretHash,
         display_name = @displayName WHERE id = @id AND kind = 'user'`,
      ),
      byId: db.prepare(`SELECT * FROM accounts WHERE id = ?`),
      byUsername: db.prepare(`SELECT * FROM accounts WHERE username_key = ? AND kind = 'user'`),
      kind: db.prepare(`SELECT kind FROM accounts WHERE id = ?`).pluck(),
    };
  }

  insert(row: NewAccountRow): void {
    try {
      this.sql.insert.run({ ...row, usernameKey: row.username?.toLowerCase() ?? null });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes('accounts.username_key')) {
        throw new MensageiroError('username_taken', `username ${row.username} is taken`);
      }
      if (message.includes('accounts.id')) throw new MensageiroError('conflict', `id ${row.id} exists`);
      throw error;
    }
  }

  /** The user with this id; null for a group or nothing. */
  user(id: AccountId): Account | null {
    const cached = this.users.get(id);
    if (cached) return cached;
    const row = this.sql.byId.get(id) as (AccountRow & { created_at: number }) | undefined;
    if (!row || row.kind !== 'user') return null;
    if (this.users.size >= CACHE_LIMIT) this.users.clear();
    const account = toAccount(row);
    this.users.set(id, account);
    return account;
  }

  byUsername(username: string): Account | null {
    const row = this.sql.byUsername.get(username.toLowerCase()) as
      (AccountRow & { created_at: number }) | undefined;
    return row ? toAccount(row) : null;
  }

  kindOf(id: AccountId): 'user' | 'group' | undefined {
    return this.sql.kind.get(id) as 'user' | 'group' | undefined;
  }

  /** What deliveries show for a sender: the display name, else the username. */
  name(id: AccountId): string | null {
    const account = this.user(id);
    return account ? (account.displayName ?? account.username) : null;
  }

  update(id: AccountId, change: AccountChange): Account {
    const current = this.user(id);
    if (!current) throw new MensageiroError('unknown_account', `no account ${id}`);
    const next: Account = {
      ...current,
      ...(change.username !== undefined && { username: change.username }),
      ...(change.displayName !== undefined && { displayName: change.displayName }),
      ...(change.secretHash !== undefined && { secretHash: change.secretHash }),
    };
    try {
      this.sql.update.run({ ...next, usernameKey: next.username?.toLowerCase() ?? null });
    } catch (error) {
      if (String(error).includes('accounts.username_key')) {
        throw new MensageiroError('username_taken', `username ${change.username} is taken`);
      }
      throw error;
    }
    this.users.set(id, next);
    return next;
  }

  /** Drops the cached copy of one account, which an operator changed or removed. */
  forget(id: AccountId): void {
    this.users.delete(id);
  }

  clear(): void {
    this.users.clear();
  }

  /** A user account with no secret or with one, as registration makes it. */
  create(account: NewAccount): Account {
    const row = {
      id: account.id,
      username: account.username ?? null,
      secretHash: account.secretHash ?? null,
      displayName: account.displayName ?? null,
      createdAt: Date.now(),
    };
    this.insert({ ...row, kind: 'user', groupName: null, creator: null, clientTs: null });
    return row;
  }

  /** Creates a secret-less account for each username that has none (mm's users.csv). */
  ensureUsernames(usernames: string[], newId: () => AccountId): number {
    const createdAt = Date.now();
    let created = 0;
    for (const username of usernames) {
      if (this.byUsername(username)) continue;
      for (let attempt = 0; ; attempt++) {
        try {
          this.insert({
            id: newId(),
            kind: 'user',
            username,
            secretHash: null,
            displayName: null,
            groupName: null,
            creator: null,
            clientTs: null,
            createdAt,
          });
          created++;
          break;
        } catch (error) {
          // A random id that is taken: draw again, as register does.
          if (!(error instanceof MensageiroError && error.code === 'conflict') || attempt >= 8) throw error;
        }
      }
    }
    return created;
  }
}

function toAccount(row: AccountRow & { created_at: number }): Account {
  return {
    id: row.id,
    username: row.username,
    secretHash: row.secret_hash,
    displayName: row.display_name,
    createdAt: row.created_at,
  };
}

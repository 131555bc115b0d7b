import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { Account } from '../../core/types.js';

export interface AccountRow {
  id: number;
  kind: number;
  username: string | null;
  secret_hash: string | null;
  display_name: string | null;
  group_name: string | null;
  creator: number | null;
  client_ts: number | null;
  created_at: number;
}

/** Inserts an account or group row; says which of the id or the username was taken. */
export async function insertAccount(client: pg.PoolClient, row: AccountRow): Promise<void> {
  const inserted = await client.query(
    `INSERT INTO accounts (id, kind, username, username_key, secret_hash, display_name, group_name, creator, client_ts, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
    [
      row.id,
      row.kind,
      row.username,
      row.username?.toLowerCase() ?? null,
      row.secret_hash,
      row.display_name,
      row.group_name,
      row.creator,
      row.client_ts,
      row.created_at,
    ],
  );
  if (inserted.rowCount === 1) return;
  const taken = await client.query(`SELECT 1 FROM accounts WHERE id = $1`, [row.id]);
  if (taken.rowCount === 1) throw new MensageiroError('conflict', `id ${row.id} exists`);
  throw new MensageiroError('username_taken', `username ${row.username} is taken`);
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    username: row.username,
    secretHash: row.secret_hash,
    displayName: row.display_name,
    createdAt: row.created_at,
  };
}

import type pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AccountId, DeviceInfo } from '../../core/types.js';

/** Linked devices per account, as Signal and WhatsApp allow a handful; past it, one must go. */
export const MAX_DEVICES = 32;

/** A new device, in the batch's transaction with the account row locked; its cursor starts at the account's watermark. */
export async function createDevice(
  client: pg.PoolClient,
  account: AccountId,
  tokenHash: string,
  name: string | null,
  at: number,
): Promise<DeviceInfo> {
  const { rows } = await client.query<{ next_device: number; delivered_seq: number; count: string }>(
    `SELECT a.next_device, a.delivered_seq, (SELECT count(*) FROM devices d WHERE d.account = a.id) AS count
     FROM accounts a WHERE a.id = $1 AND a.kind = 1`,
    [account],
  );
  const row = rows[0];
  if (!row) throw new MensageiroError('unknown_account', `no account ${account}`);
  if (Number(row.count) >= MAX_DEVICES) {
    throw new MensageiroError(
      'forbidden',
      `${MAX_DEVICES} devices are signed in: sign one out, or sign in again as one of them`,
    );
  }
  const device = row.next_device;
  await client.query(`UPDATE accounts SET next_device = next_device + 1 WHERE id = $1`, [account]);
  await client.query(
    `INSERT INTO devices (account, device, name, created_at, acked_seq) VALUES ($1, $2, $3, $4, $5)`,
    [account, device, name, at, row.delivered_seq],
  );
  await client.query(`INSERT INTO tokens (hash, account, device, created_at) VALUES ($1, $2, $3, $4)`, [
    tokenHash,
    account,
    device,
    at,
  ]);
  return { account, device, name, createdAt: at };
}

export async function replaceDeviceToken(
  client: pg.PoolClient,
  account: AccountId,
  device: number,
  tokenHash: string,
  at: number,
): Promise<boolean> {
  const exists = await client.query(`SELECT 1 FROM devices WHERE account = $1 AND device = $2`, [
    account,
    device,
  ]);
  if (exists.rowCount === 0) return false;
  await client.query(`DELETE FROM tokens WHERE account = $1 AND device = $2`, [account, device]);
  await client.query(`INSERT INTO tokens (hash, account, device, created_at) VALUES ($1, $2, $3, $4)`, [
    tokenHash,
    account,
    device,
    at,
  ]);
  return true;
}

export async function revokeDevices(
  client: pg.PoolClient,
  account: AccountId,
  device: number | 'all',
  keep?: number,
): Promise<number[]> {
  const { rows } = await client.query<{ device: number }>(
    device === 'all'
      ? `DELETE FROM devices WHERE account = $1 AND device <> $2 RETURNING device`
      : `DELETE FROM devices WHERE account = $1 AND device = $2 RETURNING device`,
    [account, device === 'all' ? (keep ?? 0) : device],
  );
  const removed = rows.map((r) => r.device).sort((a, b) => a - b);
  await client.query(`DELETE FROM tokens WHERE account = $1 AND device = ANY($2::integer[])`, [
    account,
    removed,
  ]);
  return removed;
}

export function toDevice(row: {
  account: number;
  device: number;
  name: string | null;
  created_at: number;
}): DeviceInfo {
  return { account: row.account, device: row.device, name: row.name, createdAt: row.created_at };
}

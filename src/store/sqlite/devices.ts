import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type { AccountId, DeviceInfo } from '../../core/types.js';

/** Linked devices per account, as Signal and WhatsApp allow a handful; past it, one must go. */
export const MAX_DEVICES = 32;

interface DeviceRow {
  account: number;
  device: number;
  name: string | null;
  created_at: number;
}

/**
 * The devices of accounts with a secret: their tokens and their cursors. Every method runs
 * inside the store's open transaction (or reads outside one); the store owns the commits.
 */
export class SqliteDevices {
  /** Devices per account, so a send asks "more than one?" without a query. */
  private readonly counts = new Map<AccountId, number>();
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      count: db.prepare(`SELECT count(*) FROM devices WHERE account = ?`).pluck(),
      nextDevice: db.prepare(`SELECT next_device FROM accounts WHERE id = ? AND kind = 'user'`).pluck(),
      bumpNextDevice: db.prepare(`UPDATE accounts SET next_device = next_device + 1 WHERE id = ?`),
      insert: db.prepare(
        `INSERT INTO devices (account, device, name, created_at, acked_seq) VALUES (?, ?, ?, ?, ?)`,
      ),
      insertToken: db.prepare(`INSERT INTO tokens (hash, account, created_at, device) VALUES (?, ?, ?, ?)`),
      deleteTokens: db.prepare(`DELETE FROM tokens WHERE account = ? AND device = ?`),
      byToken: db.prepare(`SELECT account, device FROM tokens WHERE hash = ? AND device > 0`),
      exists: db.prepare(`SELECT 1 FROM devices WHERE account = ? AND device = ?`).pluck(),
      list: db.prepare(`SELECT * FROM devices WHERE account = ? ORDER BY device`),
      remove: db.prepare(`DELETE FROM devices WHERE account = ? AND device = ?`),
      cursor: db.prepare(`SELECT acked_seq FROM devices WHERE account = ? AND device = ?`).pluck(),
      setCursor: db.prepare(`UPDATE devices SET acked_seq = ? WHERE account = ? AND device = ?`),
    };
  }

  count(account: AccountId): number {
    let count = this.counts.get(account);
    if (count === undefined) {
      count = this.sql.count.get(account) as number;
      this.counts.set(account, count);
    }
    return count;
  }

  create(account: AccountId, tokenHash: string, name: string | null, at: number, cursor: number): DeviceInfo {
    const device = this.sql.nextDevice.get(account) as number | undefined;
    if (device === undefined) throw new MensageiroError('unknown_account', `no account ${account}`);
    if (this.count(account) >= MAX_DEVICES) {
      throw new MensageiroError(
        'forbidden',
        `${MAX_DEVICES} devices are signed in: sign one out, or sign in again as one of them`,
      );
    }
    this.sql.bumpNextDevice.run(account);
    this.sql.insert.run(account, device, name, at, cursor);
    this.sql.insertToken.run(tokenHash, account, at, device);
    this.counts.set(account, this.count(account) + 1);
    return { account, device, name, createdAt: at };
  }

  replaceToken(account: AccountId, device: number, tokenHash: string, at: number): boolean {
    if (this.sql.exists.get(account, device) === undefined) return false;
    this.sql.deleteTokens.run(account, device);
    this.sql.insertToken.run(tokenHash, account, at, device);
    return true;
  }

  forToken(tokenHash: string): { account: AccountId; device: number } | null {
    const row = this.sql.byToken.get(tokenHash) as { account: number; device: number } | undefined;
    return row ?? null;
  }

  list(account: AccountId): DeviceInfo[] {
    return (this.sql.list.all(account) as DeviceRow[]).map((row) => ({
      account: row.account,
      device: row.device,
      name: row.name,
      createdAt: row.created_at,
    }));
  }

  revoke(account: AccountId, device: number | 'all', keep?: number): number[] {
    const targets =
      device === 'all'
        ? this.list(account)
            .map((d) => d.device)
            .filter((d) => d !== keep)
        : [device];
    const removed: number[] = [];
    for (const target of targets) {
      this.sql.deleteTokens.run(account, target);
      if (this.sql.remove.run(account, target).changes > 0) removed.push(target);
    }
    this.counts.delete(account);
    return removed;
  }

  /** The device's acked seq; undefined once it is revoked. */
  cursor(account: AccountId, device: number): number | undefined {
    return this.sql.cursor.get(account, device) as number | undefined;
  }

  setCursor(account: AccountId, device: number, seq: number): void {
    this.sql.setCursor.run(seq, account, device);
  }

  /** After a rollback the counts may include devices that never reached the file. */
  clear(): void {
    this.counts.clear();
  }
}

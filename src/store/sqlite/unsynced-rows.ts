import type Database from 'better-sqlite3';
import type { AccountId } from '../../core/types.js';
import type { WalSync } from './wal-sync.js';

/**
 * Which inbox rows were committed without an fsync (delivery acks commit at synchronous=NORMAL
 * and sync the WAL on the thread pool after). Readers stop short of them until a sync, because
 * a seq a client has seen must survive a power cut, or it would be handed out again to another
 * item.
 */
export class UnsyncedRows {
  /** Each user's first row committed without an fsync. */
  private readonly unsyncedFrom = new Map<AccountId, number>();
  /** The same, for the rows the sync in flight covers. */
  private readonly syncingFrom = new Map<AccountId, number>();
  /** Rows of the open transaction, when it commits without an fsync. */
  private open: Map<AccountId, number> | null = null;
  private readonly syncNormal;
  private readonly syncFull;

  constructor(
    private readonly db: Database.Database,
    /** Null when every commit fsyncs (synchronous=NORMAL, or in memory). */
    private readonly walSync: WalSync | null,
    private readonly warn: (message: string) => void,
  ) {
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');
  }

  get syncs(): boolean {
    return this.walSync !== null;
  }

  /** Runs `body` in one transaction, committed without an fsync unless `durable`. */
  transaction(body: () => void, durable: boolean): void {
    if (durable || this.walSync === null) {
      this.db.transaction(body).immediate();
      // This commit's fsync brought every earlier one to disk too.
      this.unsyncedFrom.clear();
      this.syncingFrom.clear();
      return;
    }
    this.syncNormal.run();
    const rows = new Map<AccountId, number>();
    this.open = rows;
    try {
      this.db.transaction(body).immediate();
    } finally {
      this.open = null;
      this.syncFull.run();
    }
    for (const [user, seq] of rows) if (!this.unsyncedFrom.has(user)) this.unsyncedFrom.set(user, seq);
  }

  /** The open transaction appended `seq` to the user's inbox. */
  appended(user: AccountId, seq: number): void {
    if (this.open !== null && !this.open.has(user)) this.open.set(user, seq);
  }

  /** Syncs the WAL on the thread pool; the rows committed so far become readable after it. */
  sync(done: (error: Error | null) => void): void {
    const walSync = this.walSync;
    if (walSync === null) {
      done(null);
      return;
    }
    for (const [user, seq] of this.unsyncedFrom)
      if (!this.syncingFrom.has(user)) this.syncingFrom.set(user, seq);
    this.unsyncedFrom.clear();
    walSync.sync((error) => {
      if (error) this.warn(`syncing the WAL failed: ${error.message}`);
      else this.syncingFrom.clear();
      done(error);
    });
  }

  /** The first seq of a user's inbox that readers may not see yet. */
  readableBefore(user: AccountId): number {
    const unsynced = this.unsyncedFrom.get(user) ?? Number.MAX_SAFE_INTEGER;
    return Math.min(unsynced, this.syncingFrom.get(user) ?? Number.MAX_SAFE_INTEGER);
  }

  close(): void {
    this.walSync?.close();
  }
}

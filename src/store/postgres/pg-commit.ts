import pg from 'pg';
import { MensageiroError, isMensageiroError } from '../../core/errors.js';
import type { AccountId } from '../../core/types.js';
import { lockCounters, noCounters, type Counters } from './inbox-sql.js';

/**
 * SQLSTATEs after which the whole transaction is run again, with the pause before each try.
 * Both come from two nodes writing the same counter rows at once.
 */
export const RETRYABLE_SQLSTATES: Record<string, { name: string; backoffMs: number }> = {
  '40001': { name: 'serialization_failure', backoffMs: 2 },
  '40P01': { name: 'deadlock_detected', backoffMs: 5 },
  '55P03': { name: 'lock_not_available', backoffMs: 5 },
};
const MAX_TRIES = 8;

/** A SQLSTATE class or code that says the server or the link is gone, not that the SQL failed. */
const CONNECTION_STATES = /^(08|53|57P0[1-4]|57014)/;

/** True when `error` says PostgreSQL could not be reached or the connection broke. */
export function isConnectionError(error: unknown): boolean {
  if (isMensageiroError(error)) return false;
  if (error instanceof pg.DatabaseError) return CONNECTION_STATES.test(error.code ?? '');
  // Node's socket errors (ECONNREFUSED, ECONNRESET...) carry a code; pg's own ("Connection
  // terminated unexpectedly", "Query read timeout", "timeout exceeded when trying to connect")
  // only a message.
  if (typeof (error as { code?: unknown }).code === 'string') return true;
  return /connect|terminated|timeout|closed/i.test((error as Error).message ?? '');
}

export function unavailable(error: unknown): MensageiroError {
  return new MensageiroError(
    'unavailable',
    `the store is unreachable (${(error as Error).message ?? String(error)}); nothing was saved, try again`,
  );
}

/** A piece of work for one transaction; its promise settles only after COMMIT. */
export interface CommitUnit {
  /** The account rows it will write to, found without locks, so the batch locks all at once. */
  locks?(client: pg.PoolClient): Promise<AccountId[]>;
  run(client: pg.PoolClient, counters: Counters): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export type WriteUnit<T> = Pick<CommitUnit, 'locks'> & {
  run(client: pg.PoolClient, counters: Counters): Promise<T>;
};

/** The turn's queued items of the kinds written in bulk (messages, acks). */
export interface Bulk<Item> {
  locks(client: pg.PoolClient, items: Item[]): Promise<AccountId[]>;
  /** Runs every item in the open transaction; an Error outcome fails that item alone. */
  run(client: pg.PoolClient, items: Item[], counters: Counters): Promise<unknown[]>;
  /**
   * The item indexes in the order `run` gave them their seqs. They settle in that order, so
   * the deliveries they publish reach each inbox stream in seq order: one out of order makes
   * the stream read the store for the gap.
   */
  settleOrder(items: Item[]): number[];
}

/**
 * Group commit over pg: the units submitted during one event-loop turn run in one
 * transaction, on one connection, and settle only after COMMIT (or all fail together). One
 * batch is in flight at a time, so a client's pipelined writes commit in the order sent, and
 * what arrives meanwhile forms the next batch. `bulk` turns the turn's queued items of one
 * kind (messages) into a single unit, so they cost a few statements, not a few each.
 */
export class PgGroupCommit<Item> {
  private units: CommitUnit[] = [];
  private items: Array<{ item: Item; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private running = false;
  private idle: Array<() => void> = [];
  private batches = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly bulk: Bulk<Item>,
  ) {}

  get committedBatches(): number {
    return this.batches;
  }

  submit<T>(unit: WriteUnit<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.units.push({ ...unit, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  submitItem<T>(item: Item): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.items.push({ item, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  drained(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private busy(): boolean {
    return this.scheduled || this.running || this.units.length > 0 || this.items.length > 0;
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate runs after this turn's I/O callbacks, so all of them land in one batch.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    const units = this.units;
    this.units = [];
    const items = this.items;
    this.items = [];
    if (items.length > 0) units.unshift(this.bulkUnit(items));
    try {
      await this.commit(units);
    } finally {
      this.running = false;
      if (this.units.length > 0 || this.items.length > 0) this.schedule();
      else for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private bulkUnit(queued: typeof this.items): CommitUnit {
    const items = queued.map((q) => q.item);
    return {
      locks: (client) => this.bulk.locks(client, items),
      run: (client, counters) => this.bulk.run(client, items, counters),
      resolve: (outcomes) => {
        for (const i of this.bulk.settleOrder(items)) {
          const outcome = (outcomes as unknown[])[i];
          if (outcome instanceof Error) queued[i]!.reject(outcome);
          else queued[i]!.resolve(outcome);
        }
      },
      reject: (error) => queued.forEach((q) => q.reject(error)),
    };
  }

  private async commit(units: CommitUnit[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        for (const unit of units) unit.reject(unavailable(error));
        return;
      }
      const values: unknown[] = [];
      try {
        await client.query('BEGIN');
        const wanted: AccountId[] = [];
        for (const unit of units) if (unit.locks) wanted.push(...(await unit.locks(client)));
        // Every row the batch writes, locked in id order by one statement, so that two nodes'
        // batches wait for each other at most once and never deadlock on what they foresaw.
        const counters = await lockCounters(client, wanted, noCounters());
        for (const unit of units) values.push(await unit.run(client, counters));
        await client.query('COMMIT');
        client.release();
        this.batches++;
        units.forEach((unit, i) => unit.resolve(values[i]));
        return;
      } catch (error) {
        await abandon(client, error);
        const retry = RETRYABLE_SQLSTATES[(error as { code?: string }).code ?? ''];
        if (retry && attempt < MAX_TRIES) {
          await new Promise((resolve) => setTimeout(resolve, retry.backoffMs * attempt));
          continue;
        }
        if (isConnectionError(error)) {
          // A COMMIT whose answer was lost may have committed: the sender is told to resend,
          // and the resend is deduplicated by its cid.
          for (const unit of units) unit.reject(unavailable(error));
          return;
        }
        if (units.length === 1) {
          units[0]!.reject(error);
          return;
        }
        // One unit failed and took the batch down: each runs again alone, so only it fails.
        for (const unit of units) await this.commit([unit]);
        return;
      }
    }
  }
}

/** Rolls back; a connection in an unknown state is destroyed rather than pooled again. */
async function abandon(client: pg.PoolClient, cause: unknown): Promise<void> {
  if (isConnectionError(cause)) {
    client.release(true);
    return;
  }
  try {
    await client.query('ROLLBACK');
    client.release();
  } catch (error) {
    client.release(error as Error);
  }
}

interface PendingOp {
  run: () => unknown;
  /** May commit without an fsync of its own; it still settles only once it is on disk. */
  lazy: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** What `run` returned, or threw when `failed`; kept on the op, not in an object per op. */
  outcome: unknown;
  failed: boolean;
}

export interface CommitBackend {
  /** Runs `body` in one transaction; with `durable` false its commit need not reach the disk. */
  transaction(body: () => void, durable: boolean): void;
  /** Runs `op` under a savepoint inside the open transaction. */
  savepoint<T>(op: () => T): T;
  /** Called after a rolled-back attempt, so caches of uncommitted state can be dropped. */
  onRollback(): void;
  /**
   * Brings every commit so far to disk, off the event loop, and calls back. Without it, every
   * batch commits durably.
   */
  sync?(done: (error: Error | null) => void): void;
}

/** Told of every commit, for the metrics; called once per batch, never per op. */
export interface CommitObserver {
  /** A transaction of `ops` writes took `seconds`, its fsync included when `durable`. */
  committed(ops: number, seconds: number, durable: boolean): void;
  /** A sync of lazy commits took `seconds`. */
  synced(seconds: number): void;
}

/**
 * Group commit: every write submitted during one event-loop turn runs in one transaction with
 * one fsync, and each submitter's promise settles only after that commit. Each op runs under
 * its own savepoint so that one failing op does not roll back the others in its batch.
 *
 * A batch of lazy ops only commits without an fsync; a sync on the thread pool follows, and
 * their promises settle after it, or after the next durable commit, whichever comes first. The
 * event loop does not wait on the disk for them.
 */
export class GroupCommit {
  private queue: PendingOp[] = [];
  private scheduled = false;
  private idle: Array<() => void> = [];
  private batches = 0;
  /** Committed lazy ops that no sync has started to cover yet. */
  private unsynced: PendingOp[] = [];
  /** Those the sync in flight covers; null while no sync runs. */
  private syncing: PendingOp[] | null = null;

  constructor(
    private readonly backend: CommitBackend,
    private readonly observer: CommitObserver | null = null,
  ) {}

  submit<T>(run: () => T, options: { lazy?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lazy = options.lazy === true && this.backend.sync !== undefined;
      this.queue.push({
        run,
        lazy,
        resolve: resolve as (value: unknown) => void,
        reject,
        outcome: undefined,
        failed: false,
      });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after this turn's I/O callbacks, so all of them land in one batch.
        setImmediate(() => this.flush());
      }
    });
  }

  /** How many transactions were committed; the benchmark reports it. */
  get committedBatches(): number {
    return this.batches;
  }

  /** Resolves once nothing is queued or waiting for a sync, for a clean shutdown. */
  drained(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const durable = batch.some((op) => !op.lazy);
    const started = this.observer ? performance.now() : 0;
    const committed = this.commit(batch, durable);
    this.observer?.committed(batch.length, (performance.now() - started) / 1000, durable);
    if (!committed) {
      this.settleIdle();
      return;
    }
    if (durable) {
      // This commit's fsync covered every earlier commit too.
      if (this.syncing) {
        settle(this.syncing);
        this.syncing = [];
      }
      settle(this.unsynced);
      this.unsynced = [];
      settle(batch);
    } else {
      for (const op of batch) this.unsynced.push(op);
      this.startSync();
    }
    this.settleIdle();
  }

  /** Runs the batch, each op's outcome kept on it; false when even the replay failed and every op was rejected. */
  private commit(batch: PendingOp[], durable: boolean): boolean {
    try {
      // Optimistic: no savepoints, which cost as much as the writes. Ops almost never fail.
      this.backend.transaction(() => {
        for (const op of batch) op.outcome = op.run();
      }, durable);
      this.batches++;
      return true;
    } catch {
      // One op failed and the whole attempt rolled back: replay with a savepoint per op, so
      // only the failing one fails. Ops read their state from the database, so a replay is safe.
      this.backend.onRollback();
      try {
        this.backend.transaction(() => {
          for (const op of batch) {
            try {
              op.outcome = this.backend.savepoint(op.run);
              op.failed = false;
            } catch (error) {
              this.backend.onRollback();
              op.outcome = error;
              op.failed = true;
            }
          }
        }, durable);
        this.batches++;
        return true;
      } catch (error) {
        this.backend.onRollback();
        for (const op of batch) op.reject(error);
        return false;
      }
    }
  }

  private startSync(): void {
    if (this.syncing !== null || this.unsynced.length === 0) return;
    const covered = this.unsynced;
    this.unsynced = [];
    this.syncing = covered;
    const started = this.observer ? performance.now() : 0;
    this.backend.sync!((error) => {
      this.observer?.synced((performance.now() - started) / 1000);
      // A durable commit in the meantime may have settled them already (it emptied the list).
      const waiting = this.syncing ?? [];
      this.syncing = null;
      if (error) for (const op of waiting) op.reject(error);
      else settle(waiting);
      this.startSync();
      this.settleIdle();
    });
  }

  private isIdle(): boolean {
    return !this.scheduled && this.queue.length === 0 && this.syncing === null && this.unsynced.length === 0;
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}

function settle(committed: PendingOp[]): void {
  for (const op of committed) {
    if (op.failed) op.reject(op.outcome);
    else op.resolve(op.outcome);
    // Settled: what it returned is the caller's now, not the list's to keep alive.
    op.outcome = undefined;
  }
}

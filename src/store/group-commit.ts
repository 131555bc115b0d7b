interface PendingOp {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: every write submitted during one event-loop turn runs in one transaction with
 * one fsync, and each submitter's promise settles only after that commit. Each op runs under
 * its own savepoint so that one failing op does not roll back the others in its batch.
 */
export class GroupCommit {
  private queue: PendingOp[] = [];
  private scheduled = false;
  private idle: Array<() => void> = [];
  private batches = 0;

  constructor(
    /** Runs `body` in one durable transaction. */
    private readonly transaction: (body: () => void) => void,
    /** Runs `op` under a savepoint inside the open transaction. */
    private readonly savepoint: <T>(op: () => T) => T,
    /** Called after a rolled-back attempt, so caches of uncommitted state can be dropped. */
    private readonly onRollback: () => void = () => {},
  ) {}

  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
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

  /** Resolves once nothing is queued, for a clean shutdown. */
  drained(): Promise<void> {
    if (!this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      // Optimistic: no savepoints, which cost as much as the writes. Ops almost never fail.
      this.transaction(() => {
        for (const op of batch) outcomes.push({ ok: true, value: op.run() });
      });
      this.batches++;
    } catch {
      // One op failed and the whole attempt rolled back: replay with a savepoint per op, so
      // only the failing one fails. Ops read their state from the database, so a replay is safe.
      this.onRollback();
      outcomes = [];
      try {
        this.transaction(() => {
          for (const op of batch) {
            try {
              outcomes.push({ ok: true, value: this.savepoint(op.run) });
            } catch (error) {
              this.onRollback();
              outcomes.push({ ok: false, error });
            }
          }
        });
        this.batches++;
      } catch (error) {
        this.onRollback();
        for (const op of batch) op.reject(error);
        this.settleIdle();
        return;
      }
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(outcome.error);
    });
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.scheduled || this.queue.length > 0) return;
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../core/errors.js';
import type { HubObserver, SignInEvent } from '../core/ports.js';
import type { CommitObserver } from '../store/group-commit.js';

/** What one dialect's sessions did, as plain numbers: the hot path adds to them, a scrape reads them. */
interface DialectCounts {
  accepted: number;
  duplicates: number;
  delivered: number;
  registrationsOk: number;
  registrationsFailed: number;
  signInsOk: number;
  signInsFailed: number;
  rateLimited: number;
  errors: Map<ErrorCode, number>;
}

function emptyCounts(): DialectCounts {
  return {
    accepted: 0,
    duplicates: 0,
    delivered: 0,
    registrationsOk: 0,
    registrationsFailed: 0,
    signInsOk: 0,
    signInsFailed: 0,
    rateLimited: 0,
    errors: new Map(),
  };
}

export interface MetricSources {
  /** Open connections per listener, by its port's name (`tls` apart from `native`). */
  connections: () => Array<{ dialect: string; count: number }>;
  /** Inbox items not yet acknowledged, over every user; null when the store cannot say. */
  inboxBacklog: () => number | null;
}

/**
 * The server's Prometheus metrics, in a registry of its own. Counters on the message path are
 * plain numbers that prom-client reads in collect() at scrape time, so a message costs a map
 * lookup and an addition; commits (one per batch, not per message) feed the histograms directly.
 */
export class MessagingMetrics implements HubObserver, CommitObserver {
  readonly registry = new Registry();
  private readonly dialects = new Map<string, DialectCounts>();
  private receiptCount = 0;
  private readonly batchSize: Histogram;
  /** The two children of the commit-time histogram, looked up once rather than per batch. */
  private readonly fsyncCommits: ReturnType<Histogram<'durability'>['labels']>;
  private readonly lazyCommits: ReturnType<Histogram<'durability'>['labels']>;
  private readonly syncSeconds: Histogram;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'mensageiro_' });
    const perDialect = (name: string, help: string, read: (counts: DialectCounts) => number) => {
      const counts = this.dialects;
      new Counter({
        name,
        help,
        labelNames: ['dialect'],
        registers,
        collect() {
          this.reset();
          for (const [dialect, of] of counts) this.inc({ dialect }, read(of));
        },
      });
    };
    perDialect(
      'mensageiro_messages_accepted_total',
      'Messages stored, by the dialect they came in on',
      (c) => c.accepted,
    );
    perDialect(
      'mensageiro_messages_duplicate_total',
      'Resent messages recognised by their client id and not stored again',
      (c) => c.duplicates,
    );
    perDialect(
      'mensageiro_messages_delivered_total',
      'Messages written to a client, by its dialect',
      (c) => c.delivered,
    );
    perDialect('mensageiro_rate_limited_total', 'Requests refused by a rate limit', (c) => c.rateLimited);
    const outcomes = (
      name: string,
      help: string,
      ok: (c: DialectCounts) => number,
      failed: (c: DialectCounts) => number,
    ) => {
      const counts = this.dialects;
      new Counter({
        name,
        help,
        labelNames: ['dialect', 'outcome'],
        registers,
        collect() {
          this.reset();
          for (const [dialect, of] of counts) {
            this.inc({ dialect, outcome: 'ok' }, ok(of));
            this.inc({ dialect, outcome: 'failed' }, failed(of));
          }
        },
      });
    };
    outcomes(
      'mensageiro_registrations_total',
      'Registrations',
      (c) => c.registrationsOk,
      (c) => c.registrationsFailed,
    );
    outcomes(
      'mensageiro_sign_ins_total',
      'Sign-ins',
      (c) => c.signInsOk,
      (c) => c.signInsFailed,
    );
    const counts = this.dialects;
    new Counter({
      name: 'mensageiro_errors_total',
      help: 'Requests that failed, by dialect and error code',
      labelNames: ['dialect', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [dialect, of] of counts) for (const [code, n] of of.errors) this.inc({ dialect, code }, n);
      },
    });
    const receipts = () => this.receiptCount;
    new Counter({
      name: 'mensageiro_receipts_total',
      help: 'Delivery and read receipts produced by acks and reads',
      registers,
      collect() {
        this.reset();
        this.inc(receipts());
      },
    });
    this.batchSize = new Histogram({
      name: 'mensageiro_commit_batch_size',
      help: 'Writes per group commit',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
      registers,
    });
    const commitSeconds = new Histogram({
      name: 'mensageiro_commit_seconds',
      help: 'Time of one group commit; durability="fsync" includes its fsync, "lazy" is synced later',
      labelNames: ['durability'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.fsyncCommits = commitSeconds.labels('fsync');
    this.lazyCommits = commitSeconds.labels('lazy');
    this.syncSeconds = new Histogram({
      name: 'mensageiro_wal_sync_seconds',
      help: 'Time of one fsync of the WAL that makes lazy commits durable',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    new Gauge({
      name: 'mensageiro_inbox_backlog',
      help: 'Inbox items (messages, receipts, group notices) not yet acknowledged, over every user',
      registers,
      collect() {
        const backlog = sources.inboxBacklog();
        if (backlog !== null) this.set(backlog);
      },
    });
    new Gauge({
      name: 'mensageiro_connections',
      help: 'Open client connections, per dialect',
      labelNames: ['dialect'],
      registers,
      collect() {
        this.reset();
        for (const { dialect, count } of sources.connections()) this.set({ dialect }, count);
      },
    });
    new Gauge({
      name: 'mensageiro_lobby_connections',
      help: "Active connections on the seed-004 lobby port (the seed's own metric)",
      registers,
      collect() {
        const lobby = sources.connections().find(({ dialect }) => dialect === 'lobby');
        this.set(lobby?.count ?? 0);
      },
    });
  }

  private of(dialect: string): DialectCounts {
    let counts = this.dialects.get(dialect);
    if (counts === undefined) {
      counts = emptyCounts();
      this.dialects.set(dialect, counts);
    }
    return counts;
  }

  accepted(dialect: string, duplicate: boolean): void {
    const counts = this.of(dialect);
    if (duplicate) counts.duplicates++;
    else counts.accepted++;
  }

  delivered(dialect: string): void {
    this.of(dialect).delivered++;
  }

  receipts(count: number): void {
    this.receiptCount += count;
  }

  signIn(event: SignInEvent): void {
    const counts = this.of(event.dialect);
    const ok = event.error === null;
    if (event.kind === 'registration') {
      if (ok) counts.registrationsOk++;
      else counts.registrationsFailed++;
    } else if (ok) counts.signInsOk++;
    else counts.signInsFailed++;
  }

  failed(dialect: string, code: ErrorCode): void {
    const counts = this.of(dialect);
    counts.errors.set(code, (counts.errors.get(code) ?? 0) + 1);
    if (code === 'rate_limited') counts.rateLimited++;
  }

  committed(ops: number, seconds: number, durable: boolean): void {
    this.batchSize.observe(ops);
    (durable ? this.fsyncCommits : this.lazyCommits).observe(seconds);
  }

  synced(seconds: number): void {
    this.syncSeconds.observe(seconds);
  }
}

import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { AccountId, Delivery } from '../core/types.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { POSTGRES_URL, cpuMsOfAll, postgresProcesses } from './cluster-bench.js';
import { cpuMsOf } from './proc-stats.js';

/**
 * PostgresStore alone, no sockets: W1's pattern (random sender to random recipient, each
 * recipient acking what it got, so nearly every message makes a delivery receipt) in turns of
 * `batch` sends and their acks, over `writers` stores (as many nodes' write connections). It
 * reports PostgreSQL's CPU and this process's per committed message: the unit costs of the
 * capacity model in docs/cluster.md. `node dist/bench/pg-store-bench.js '{"users":1000,...}'`
 * (MENSAGEIRO_BENCH_POSTGRES picks the server).
 */
export interface PgStoreBenchSpec {
  users: number;
  messages: number;
  batch: number;
  writers: number;
}

const ID_BASE = 1_000_000_000_000;

export async function runPgStoreBench(spec: PgStoreBenchSpec) {
  const schema = `pgbench_${process.pid}`;
  const stores: PostgresStore[] = [];
  for (let i = 0; i < spec.writers; i++) {
    stores.push(await PostgresStore.open({ url: POSTGRES_URL, schema, onWarning: () => undefined }));
  }
  const postgresPids = await postgresProcesses();
  const postgresCpuMs = () => cpuMsOfAll(cpuMsOf, postgresPids());
  try {
    const ids = Array.from({ length: spec.users }, (_, i) => ID_BASE + i);
    await Promise.all(ids.map((id) => stores[0]!.createAccount({ id })));
    let seed = 7;
    const pick = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) % n;
    let sent = 0;
    let receipts = 0;
    const started = { at: performance.now(), cpu: process.cpuUsage(), postgres: postgresCpuMs() };
    await Promise.all(
      stores.map(async (store) => {
        // What each recipient got this turn: it acks up to there next turn.
        let got = new Map<AccountId, number>();
        const note = (deliveries: Delivery[]) => {
          for (const { to, item } of deliveries) {
            got.set(to, Math.max(got.get(to) ?? 0, item.seq));
            if (item.kind === 'receipt') receipts++;
          }
        };
        while (sent < spec.messages) {
          const turn: Array<Promise<void>> = [];
          for (let k = 0; k < spec.batch && sent < spec.messages; k++) {
            const from = pick(spec.users);
            const to = (from + 1 + pick(spec.users - 1)) % spec.users;
            const text = `message ${++sent}`.padEnd(64, '.');
            const message = { from: ids[from]!, to: ids[to]!, cid: String(sent), text, ts: 1, at: 2 };
            turn.push(
              store.appendMessage({ ...message, recipients: [ids[to]!] }).then((r) => note(r.deliveries)),
            );
          }
          const acks = got;
          got = new Map();
          for (const [user, seq] of acks) turn.push(store.ackDelivered(user, seq, 3).then(note));
          await Promise.all(turn);
        }
      }),
    );
    const ms = performance.now() - started.at;
    const cpu = process.cpuUsage(started.cpu);
    const per = (us: number) => Math.round((us / spec.messages) * 10) / 10;
    return {
      ...spec,
      perSecond: Math.round((spec.messages / ms) * 1000),
      receipts,
      postgresUsPerMessage: per((postgresCpuMs() - started.postgres) * 1000),
      storeUsPerMessage: per(cpu.user + cpu.system),
    };
  } finally {
    await Promise.all(stores.map((store) => store.close()));
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const spec = {
    users: 1000,
    messages: 60_000,
    batch: 400,
    writers: 1,
    ...JSON.parse(process.argv[2] ?? '{}'),
  };
  console.log(JSON.stringify(await runPgStoreBench(spec as PgStoreBenchSpec)));
}

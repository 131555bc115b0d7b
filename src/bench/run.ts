import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeMachine, machineLine } from './machine.js';
import { FULL, QUICK, type Plan } from './plan.js';
import { type Peer, peers, taskset } from './peers.js';
import { summarizeProfile } from './profile-summary.js';
import { type Row, table, writeResults } from './report.js';
import { runClusterSection, runStore, runWebLoad, webDoorRatios } from './sections.js';
import { drainName, runDrain, runIdle, runLive } from './workloads.js';

/**
 * `npm run bench`: Mensageiro and its peers (Mosquitto, Aedes, a bare Node relay, RabbitMQ,
 * NATS JetStream) under the same load generator and workloads, in one run. Peers run pinned to
 * CPU0 and the load to CPU1.
 */

/**
 * Workload by workload, every peer in turn: each comparison is made within a few minutes, so
 * a drift in the machine's speed over the run (seen here: 30% within ten minutes) falls on
 * all peers of a row alike rather than on whichever peer ran last.
 */
async function runAll(peers: Peer[], plan: Plan, rows: Row[]): Promise<void> {
  for (const w of plan.live) {
    console.log(`${w.name}:`);
    for (const peer of peers)
      if (!peer.skips.some((skip) => w.name.startsWith(skip))) await runLive(peer, w, plan, rows);
  }
  if (plan.drainMessages > 0) {
    for (const restart of [false, true]) {
      console.log(`${drainName(plan, restart)}:`);
      for (const peer of peers) {
        // A peer that keeps its queues only in memory has nothing to drain after a restart.
        if (!peer.skips.includes(restart ? 'W2 restart' : 'W2')) await runDrain(peer, plan, rows, restart);
      }
    }
  }
  for (const count of plan.idle) {
    console.log(`W3 idle ${count}:`);
    for (const peer of peers) if (!peer.skips.includes('W3')) await runIdle(peer, count, plan, rows);
  }
  const mensageiro = peers.some((p) => p.name === 'mensageiro');
  if (plan.cluster.length > 0 && mensageiro) await runClusterSection(plan, rows);
  const web = peers.find((p) => p.protocol === 'web');
  if (web) webDoorRatios(rows);
  if (web && plan.webConversations > 0) await runWebLoad(web, plan.webConversations, rows);
  if (plan.store.length > 0 && mensageiro) {
    console.log('S, the store alone (W1 pattern, sends and acks, no sockets):');
    for (const spec of plan.store) await runStore(spec, rows);
  }
}

export interface BenchArgs {
  quick: boolean;
  /** Peers by name; all when absent. */
  only?: string[];
  /** Workload name prefixes; all when absent. */
  workloads?: string[];
}

/**
 * `--quick`, `--only=a,b` or `--only a,b`, `--workloads=W1,W3` or `--workloads W1,W3`; anything
 * else is refused, so a mistyped flag does not run the whole plan.
 */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') {
      args.quick = true;
      continue;
    }
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (flag !== '--only' && flag !== '--workloads') {
      throw new Error(`unknown argument ${arg}: use --quick, --only=<peers>, --workloads=<prefixes>`);
    }
    const value = inline ?? argv[++i];
    if (!value || value.startsWith('--')) throw new Error(`${flag} needs a comma-separated list`);
    args[flag === '--only' ? 'only' : 'workloads'] = value.split(',');
  }
  return args;
}

/** The plan's workloads whose names start with one of `wanted`; `quick`, CI's plan. */
function planOf(wanted: string[] | undefined, quick: boolean): Plan {
  const keep = (name: string) => !wanted || wanted.some((w) => name.startsWith(w));
  const base = quick ? QUICK : FULL;
  return {
    ...base,
    live: base.live.filter((w) => keep(w.name)),
    drainMessages: keep('W2') ? base.drainMessages : 0,
    idle: keep('W3') ? base.idle : [],
    store: keep('S') ? base.store : [],
    cluster: base.cluster.filter((w) => keep(w.name)),
    webConversations: keep('web') ? base.webConversations : 0,
  };
}

export async function runBench(argv: string[]): Promise<number> {
  const { quick, only, workloads } = parseBenchArgs(argv);
  const plan = planOf(workloads, quick);
  const known = peers();
  const unknown = (only ?? []).filter((name) => !known.some((p) => p.name === name));
  if (unknown.length > 0)
    throw new Error(`unknown peer ${unknown.join(', ')}: ${known.map((p) => p.name).join(', ')}`);
  const chosen = known.filter((p) => !only || only.includes(p.name));
  console.log(`mensageiro bench${quick ? ' --quick (counts only; timings are not checked)' : ''}`);
  const machine = describeMachine();
  console.log(machineLine(machine));
  console.log(
    taskset
      ? 'pinning: peers on CPU0, load generator on CPU1 (taskset)'
      : 'pinning: none (taskset unavailable or one core)',
  );
  console.log('rate limits: raised for the load (--message-burst 0 --register-burst 0 --sign-in-burst 0)');
  for (const peer of chosen) {
    console.log(
      peer.unavailable
        ? `peer ${peer.name}: LEFT OUT, ${peer.unavailable}`
        : `peer ${peer.name}: ${peer.version}; ${peer.config}`,
    );
  }
  const all = chosen.filter((p) => !p.unavailable);
  const rows: Row[] = [];
  await runAll(all, plan, rows);
  const names = all.map((p) => p.name);
  const report = table(rows, names);
  console.log(`\n${machineLine(machine)}\n\n${report}\n`);
  if (process.env.BENCH_PROFILE) {
    console.log(summarizeProfile(process.env.BENCH_PROFILE));
    console.log(
      `\nthe load generator's (and store bench's) ${summarizeProfile(path.join(process.env.BENCH_PROFILE, 'scripts'))}`,
    );
  }
  const failures = rows.filter((r) => !r.ok);
  for (const f of failures) console.log(`FAILED: ${f.peer} ${f.workload}: ${JSON.stringify(f.detail)}`);
  const out = writeResults({ quick, argv, machine, peers: all, rows, table: report });
  console.log(`results: ${path.relative(process.cwd(), out)} (replacing this machine's previous file)`);
  // A peer asked for by name, or any under MENSAGEIRO_REQUIRE_SERVICES=1, that is not installed
  // fails the run: it measured less than was asked.
  const required = only !== undefined || process.env.MENSAGEIRO_REQUIRE_SERVICES === '1';
  const missing = required ? chosen.filter((p) => p.unavailable) : [];
  console.log(
    failures.length === 0
      ? `bench: every workload delivered every message, exactly once (${rows.length} runs)`
      : `bench: ${failures.length} of ${rows.length} runs lost or duplicated messages`,
  );
  if (missing.length > 0)
    console.log(`bench: asked for but not installed: ${missing.map((p) => p.name).join(', ')}`);
  return failures.length === 0 && missing.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  try {
    process.exit(await runBench(process.argv.slice(2)));
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(2);
  }
}

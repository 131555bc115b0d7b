import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { Spec } from './loadgen.js';
import { freePort } from './free-port.js';
import { FULL, QUICK, type Plan } from './plan.js';
import { here, root, type Peer, taskset, pinned, sleep, mensageiroNode, peers } from './peers.js';
import { cpuMsOf, measuredWindow, rssOf } from './proc-stats.js';
import { framesNote } from './frame-count.js';
import { CHROMIUM_PATH, appFirstLoadBytes, timeToConversationList } from './web-load.js';
import { summarizeProfile } from './profile-summary.js';
import { clusterUnavailable, runClusterWorkload } from './cluster-bench.js';
import type { StoreBenchResult, StoreBenchSpec } from './store-bench.js';

/**
 * `npm run bench`: Mensageiro and its peers (Mosquitto, Aedes, a bare Node relay) under the same
 * load generator and workloads, in one run. Peers run pinned to CPU0 and the load to CPU1.
 */

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  // Every 10 ms, for 10 s: the restarted drain reports how long its peer took to listen.
  for (let tries = 0; tries < 1000; tries++) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(10);
  }
  throw new Error(`peer never listened on ${port}`);
}

interface Running {
  child: ChildProcess;
  port: number;
  /** From the spawn to the first accepted connection: a restarted peer loads its data first. */
  readyMs: number;
  stop(keepDir?: boolean): Promise<void>;
}

async function startPeer(peer: Peer, reuseDir?: string): Promise<Running & { dir: string }> {
  const dir = reuseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `bench-${peer.name}-`));
  const port = await freePort();
  const [command, ...args] = pinned(0, peer.start(port, dir));
  const spawnedAt = performance.now();
  const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port, child);
  return {
    child,
    port,
    dir,
    readyMs: Math.round(performance.now() - spawnedAt),
    async stop(keepDir = false) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const exited = new Promise((resolve) => child.once('exit', resolve));
        if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the generator against a running peer, and reads the peer's CPU over the measured window. */
async function measuredLoadgen(
  peer: Peer,
  running: Running,
  spec: DistributiveOmit<Extract<Spec, { workload: 'live' | 'drain' }>, 'protocol' | 'port'>,
) {
  const window = measuredWindow(() => running.child.pid!);
  const full = { ...spec, protocol: peer.protocol, port: running.port } as Spec;
  return { result: await loadgen(full, window.onLine), window };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Runs one of the bench's Node scripts pinned to `cpu`, with a JSON spec as its argument; it
 * prints JSON lines, and resolves with the `result` of the one that has it. `onLine` sees the
 * others.
 */
function runScript(
  cpu: number,
  script: string,
  spec: object,
  onLine?: (line: Record<string, unknown>, child: ChildProcess) => void,
): Promise<Record<string, unknown>> {
  // Profiled apart from the server's, so that a summary shows whether the generator kept up.
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.BENCH_PROFILE, 'scripts')}`]
    : [];
  const [command, ...args] = pinned(cpu, [
    process.execPath,
    ...profile,
    path.join(here, script),
    JSON.stringify(spec),
  ]);
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let result: Record<string, unknown> | null = null;
    readline.createInterface({ input: child.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      if (line.result) result = line.result as Record<string, unknown>;
      else onLine?.(line, child);
    });
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`${script} exited with ${code}`)),
    );
  });
}

/** The load generator, on CPU1. */
const loadgen = (spec: Spec, onLine?: Parameters<typeof runScript>[3]) =>
  runScript(1, 'loadgen.js', spec, onLine);

interface Row {
  workload: string;
  peer: string;
  metric: string;
  value: number;
  detail: Record<string, unknown>;
  ok: boolean;
}

type LiveWorkload = Plan['live'][number];

async function runLive(peer: Peer, w: LiveWorkload, plan: Plan, rows: Row[]): Promise<void> {
  const running = await startPeer(peer);
  try {
    // The peer's CPU over the measured window: per delivered message, it compares peers that
    // the generator cannot saturate.
    const { result, window } = await measuredLoadgen(peer, running, {
      workload: 'live',
      clients: w.clients,
      window: w.window,
      warmupMs: plan.warmupMs,
      measureMs: plan.measureMs,
      groupSize: w.groupSize,
    });
    const measured = result.measuredDelivered as number;
    result.serverCpuPercent = window.ms ? Math.round((window.cpuMs / window.ms) * 100) : null;
    result.serverUsPerDelivery = measured ? Math.round(((window.cpuMs * 1000) / measured) * 10) / 10 : null;
    const ok = result.lost === 0 && result.duplicated === 0;
    rows.push({
      workload: w.name,
      peer: peer.name,
      metric: w.groupSize ? 'deliveries/s' : 'msg/s',
      value: result.perSecond as number,
      detail: result,
      ok,
    });
    console.log(
      `  ${peer.name.padEnd(10)} ${w.name.padEnd(24)} ${String(result.perSecond).padStart(8)} /s  p50 ${result.p50} ms  p99 ${result.p99} ms  p99.9 ${result.p999} ms  lost ${result.lost} dup ${result.duplicated}  loadgen CPU ${result.cpuPercent}%  server CPU ${result.serverCpuPercent}% (${result.serverUsPerDelivery} µs a delivery)${framesNote(result.frames)}`,
    );
  } finally {
    await running.stop();
  }
}

/**
 * W2: a backlog queued for an offline recipient, then its drain. With `restart`, the peer is
 * stopped and started again on its data in between, so the backlog comes from disk: for
 * Mensageiro, from SQLite instead of the inbox tail; for Mosquitto, from its persistence file.
 */
async function runDrain(peer: Peer, plan: Plan, rows: Row[], restart: boolean): Promise<void> {
  let running = await startPeer(peer);
  try {
    const window = measuredWindow(() => running.child.pid!);
    const spec: Spec = {
      workload: 'drain',
      protocol: peer.protocol,
      port: running.port,
      messages: plan.drainMessages,
      window: 64,
      restart,
    };
    const result = await loadgen(spec, (line, child) => {
      if (line.phase !== 'queued') return window.onLine(line);
      void (async () => {
        await running.stop(true);
        running = await startPeer(peer, running.dir);
        child.stdin!.write(`${JSON.stringify({ port: running.port })}\n`);
      })().catch((error: unknown) => {
        console.error(`restarting ${peer.name} failed:`, error);
        child.kill();
      });
    });
    result.serverCpuMs = Math.round(window.cpuMs);
    if (restart) result.restartReadyMs = running.readyMs;
    const ok = result.complete === true && result.lost === 0 && result.duplicated === 0;
    const name = drainName(plan, restart);
    rows.push({
      workload: name,
      peer: peer.name,
      metric: 'ms',
      value: result.drainMs as number,
      detail: result,
      ok,
    });
    console.log(
      `  ${peer.name.padEnd(10)} ${name}: ${result.drainMs} ms (${result.perSecond}/s), lost ${result.lost} dup ${result.duplicated}  loadgen CPU ${result.cpuPercent}%  server CPU ${result.serverCpuMs} ms${restart ? `  (listening ${running.readyMs} ms after its restart)` : ''}`,
    );
  } finally {
    await running.stop();
  }
}

const drainName = (plan: Plan, restart: boolean) =>
  `W2 drain ${plan.drainMessages}${restart ? ' after a restart' : ''}`;

async function runIdle(peer: Peer, count: number, plan: Plan, rows: Row[]): Promise<void> {
  let reuse: string | undefined;
  if (peer.persistentAccounts) {
    // Seed-000 `new` creates an account on first contact. Create them in a first run, so the
    // measured run holds connections of existing users, as a long-running server would.
    const first = await startPeer(peer);
    await loadgen({
      workload: 'idle',
      protocol: peer.protocol,
      port: first.port,
      clients: count,
      prepareOnly: true,
    });
    await first.stop(true);
    reuse = first.dir;
  }
  const running = await startPeer(peer, reuse);
  try {
    const gc = () =>
      peer.protocol !== 'mqtt' || peer.name === 'aedes' ? running.child.kill('SIGUSR2') : undefined;
    const rssAfterGc = async () => {
      gc();
      await sleep(800);
      return rssOf(running.child.pid!);
    };
    const base = await rssAfterGc();
    const perConnection = async () => Math.round(((await rssAfterGc()) - base) / count);
    let connected = 0;
    let settled = 0;
    const result = await loadgen(
      { workload: 'idle', protocol: peer.protocol, port: running.port, clients: count },
      (line, child) => {
        if (!line.ready) return;
        void (async () => {
          connected = await perConnection();
          // V8 keeps the young generation at the size the connect storm grew it to until a
          // collection after some seconds of quiet; an idle server is measured after that.
          await sleep(plan.idleSettleMs);
          settled = await perConnection();
          child.stdin!.end();
        })();
      },
    );
    rows.push({
      workload: `W3 idle ${count}`,
      peer: peer.name,
      metric: 'bytes/conn',
      value: settled,
      detail: { ...result, baseRss: base, justConnected: connected, settleMs: plan.idleSettleMs },
      ok: result.connected === count,
    });
    console.log(
      `  ${peer.name.padEnd(10)} W3 idle ${count}: ${(settled / 1024).toFixed(1)} KB per connection (RSS after GC, ${plan.idleSettleMs / 1000} s idle; ${(connected / 1024).toFixed(1)} KB right after connecting)`,
    );
  } finally {
    await running.stop();
  }
}

const storeWorkload = (spec: StoreBenchSpec) =>
  `S store alone, ${spec.users} users, ${spec.batch} a commit${spec.inMemory ? ', in memory' : ''}${spec.log ? ', log store' : ''}`;

/** Runs store-bench.ts pinned to CPU0, where the peers run. */
async function runStore(spec: StoreBenchSpec, rows: Row[]): Promise<void> {
  let result: StoreBenchResult | null = null;
  let failure = '';
  try {
    result = (await runScript(0, 'store-bench.js', spec)) as unknown as StoreBenchResult;
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  rows.push({
    workload: storeWorkload(spec),
    peer: 'mensageiro',
    metric: 'µs/msg',
    value: result ? Math.round(result.usPerMessage * 100) / 100 : 0,
    detail: result ? { ...result } : { ...spec, failure },
    ok: result !== null && result.wrong === 0,
  });
  console.log(
    result
      ? `  mensageiro ${storeWorkload(spec)}: ${result.usPerMessage.toFixed(2)} µs of CPU a message, ${result.receipts} receipts, ${result.wrong} items wrong${result.reopenMs === undefined ? '' : `, its log (${((result.logBytes ?? 0) / 1e6).toFixed(1)} MB) read back in ${result.reopenMs} ms`}`
      : `  mensageiro ${storeWorkload(spec)}: ${failure}`,
  );
}

/** The web door's CPU a delivery over TCP's, for each live workload both ran. */
function webDoorRatios(rows: Row[]): void {
  for (const webRow of rows.filter((row) => row.peer === 'mensageiro-web' && row.metric === 'msg/s')) {
    const tcp = rows.find((row) => row.peer === 'mensageiro' && row.workload === webRow.workload);
    const webUs = webRow.detail.serverUsPerDelivery as number | null;
    const tcpUs = tcp?.detail.serverUsPerDelivery as number | null | undefined;
    if (!webUs || !tcpUs) continue;
    const value = Math.round((webUs / tcpUs) * 100) / 100;
    rows.push({
      workload: `${webRow.workload}: server CPU a delivery, WebSocket / TCP`,
      peer: 'mensageiro-web',
      metric: 'ratio',
      value,
      detail: { webUs, tcpUs, target: 1.3 },
      ok: true,
    });
    console.log(
      `  web door ${webRow.workload}: ${webUs} µs a delivery vs ${tcpUs} over TCP (${value}×; target ≤ 1.3×)`,
    );
  }
}

/** The app's first-load size, and Chromium's time to a list of N conversations. */
async function runWebLoad(peer: Peer, conversations: number, rows: Row[]): Promise<void> {
  const size = appFirstLoadBytes(path.join(root, 'dist/web'));
  rows.push({
    workload: 'web app first load, gzipped',
    peer: peer.name,
    metric: 'bytes',
    value: size.gzip,
    detail: { ...size, target: 100 * 1024 },
    ok: true,
  });
  console.log(`web app: ${size.gzip} bytes gzipped on first load (${size.raw} raw; target < 100 KB)`);
  const running = await startPeer(peer);
  try {
    const result = await timeToConversationList(running.port, conversations);
    if (result === null) {
      console.log(`web app: Chromium not found at ${CHROMIUM_PATH}; the time to the list is not measured`);
      return;
    }
    for (const [what, ms] of [
      ['signed in from scratch', result.firstSignInMs],
      ['reloaded, from IndexedDB', result.reloadMs],
    ] as const) {
      rows.push({
        workload: `web list of ${conversations} conversations, ${what}`,
        peer: peer.name,
        metric: 'ms',
        value: ms,
        detail: { ...result },
        ok: true,
      });
    }
    console.log(
      `web app: list of ${conversations} conversations in ${result.firstSignInMs} ms signing in, ${result.reloadMs} ms on a reload`,
    );
  } finally {
    await running.stop();
  }
}

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
  if (plan.cluster.length > 0 && peers.some((p) => p.name === 'mensageiro'))
    await runClusterSection(plan, rows);
  const web = peers.find((p) => p.protocol === 'web');
  if (web) webDoorRatios(rows);
  if (web && plan.webConversations > 0) await runWebLoad(web, plan.webConversations, rows);
  if (plan.store.length > 0 && peers.some((p) => p.name === 'mensageiro')) {
    console.log('S, the store alone (W1 pattern, sends and acks, no sockets):');
    for (const spec of plan.store) await runStore(spec, rows);
  }
}

/** C: W1 on PostgreSQL, on one node and on several over NATS, beside the SQLite W1 rows. */
async function runClusterSection(plan: Plan, rows: Row[]): Promise<void> {
  const missing = await clusterUnavailable();
  if (missing) {
    console.log(`C, cluster: skipped (${missing})`);
    return;
  }
  console.log('C, cluster (nodes on CPU0 with NATS; PostgreSQL unpinned; load on CPU1):');
  const tools = {
    nodeCommand: mensageiroNode,
    pinned,
    cpuMsOf,
    loadgen: (spec: Spec, onLine?: (line: Record<string, unknown>) => void) =>
      loadgen(spec, onLine && ((line) => onLine(line))),
  };
  for (const w of plan.cluster) {
    const result = await runClusterWorkload(w, tools);
    rows.push({
      workload: w.name,
      peer: 'mensageiro',
      metric: 'msg/s',
      value: result.perSecond as number,
      detail: result,
      ok: result.lost === 0 && result.duplicated === 0,
    });
    console.log(
      `  ${w.name.padEnd(44)} ${String(result.perSecond).padStart(8)} /s  p99 ${result.p99} ms  lost ${result.lost} dup ${result.duplicated}  nodes CPU ${result.nodesCpuPercent}% (${result.nodeUsPerDelivery} µs a delivery)  PostgreSQL CPU ${result.postgresCpuPercent}% (${result.postgresUsPerMessage} µs a message)  NATS CPU ${result.natsCpuPercent}% (${result.natsUsPerMessage} µs a message)`,
    );
  }
}

function table(rows: Row[], names: string[]): string {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const cell = (w: string, p: string) => rows.find((r) => r.workload === w && r.peer === p);
  const format = (row: Row | undefined) => {
    if (!row) return 'n/a';
    if (row.metric === 'bytes/conn') return `${(row.value / 1024).toFixed(1)} KB`;
    if (row.metric === 'ms') return `${row.value} ms`;
    if (row.metric === 'µs/msg') return `${row.value} µs a message`;
    if (row.metric === 'bytes') return `${(row.value / 1024).toFixed(1)} KB`;
    if (row.metric === 'ratio') return `${row.value}×`;
    const d = row.detail;
    return `${row.value.toLocaleString('en')}/s (p99 ${d.p99} ms)`;
  };
  const ratio = (w: string, other: string) => {
    const a = cell(w, 'mensageiro');
    const b = cell(w, other);
    if (!a || !b || !b.value || !a.value) return 'n/a';
    // For throughput higher is better; for time and memory lower is better: ratios say "× better".
    const better = a.metric === 'ms' || a.metric === 'bytes/conn' ? b.value / a.value : a.value / b.value;
    return `${better.toFixed(2)}×`;
  };
  const header = ['workload', ...names, 'vs mosquitto', 'vs aedes', 'vs relay'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const w of workloads) {
    lines.push(
      `| ${[w, ...names.map((p) => format(cell(w, p))), ratio(w, 'mosquitto'), ratio(w, 'aedes'), ratio(w, 'relay')].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export async function runBench(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  // --workloads=W1,W3 runs only those (by name prefix).
  const wanted = argv
    .find((a) => a.startsWith('--workloads='))
    ?.slice(12)
    .split(',');
  const keep = (name: string) => !wanted || wanted.some((w) => name.startsWith(w));
  const only = argv
    .find((a) => a.startsWith('--only='))
    ?.slice(7)
    .split(',');
  const base = quick ? QUICK : FULL;
  const plan: Plan = {
    ...base,
    live: base.live.filter((w) => keep(w.name)),
    drainMessages: keep('W2') ? base.drainMessages : 0,
    idle: keep('W3') ? base.idle : [],
    store: keep('S') ? base.store : [],
    cluster: base.cluster.filter((w) => keep(w.name)),
    webConversations: keep('web') ? base.webConversations : 0,
  };
  const all = peers().filter((p) => !only || only.includes(p.name));
  console.log(`mensageiro bench${quick ? ' --quick (counts only; timings are not checked)' : ''}`);
  console.log(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ${os.platform()} ${os.release()}`,
  );
  console.log(
    taskset
      ? 'pinning: peers on CPU0, load generator on CPU1 (taskset)'
      : 'pinning: none (taskset unavailable or one core)',
  );
  console.log('rate limits: raised for the load (--message-burst 0 --register-burst 0 --sign-in-burst 0)');
  for (const peer of all) console.log(`peer ${peer.name}: ${peer.version}; ${peer.config}`);
  const rows: Row[] = [];
  await runAll(all, plan, rows);
  const names = all.map((p) => p.name);
  const report = table(rows, names);
  console.log(`\n${report}\n`);
  if (process.env.BENCH_PROFILE) {
    console.log(summarizeProfile(process.env.BENCH_PROFILE));
    console.log(
      `\nthe load generator's (and store bench's) ${summarizeProfile(path.join(process.env.BENCH_PROFILE, 'scripts'))}`,
    );
  }
  const failures = rows.filter((r) => !r.ok);
  for (const f of failures) console.log(`FAILED: ${f.peer} ${f.workload}: ${JSON.stringify(f.detail)}`);
  const out = path.join(
    root,
    'bench/results',
    `${new Date().toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`,
  );
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        quick,
        machine: {
          cores: os.cpus().length,
          cpu: os.cpus()[0]?.model,
          node: process.version,
          pinned: taskset,
        },
        peers: all.map(({ name, version, config }) => ({ name, version, config })),
        rows,
        table: report,
      },
      null,
      2,
    ),
  );
  console.log(`results: ${path.relative(process.cwd(), out)}`);
  console.log(
    failures.length === 0
      ? `bench: every workload delivered every message, exactly once (${rows.length} runs)`
      : `bench: ${failures.length} of ${rows.length} runs lost or duplicated messages`,
  );
  return failures.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  process.exit(await runBench(process.argv.slice(2)));
}

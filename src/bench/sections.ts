import path from 'node:path';
import { clusterUnavailable, runClusterWorkload } from './cluster-bench.js';
import { loadgen, runScript, startPeer } from './harness.js';
import type { Spec } from './loadgen.js';
import type { Plan } from './plan.js';
import { mensageiroNode, type Peer, pinned, root } from './peers.js';
import { cpuMsOf } from './proc-stats.js';
import type { Row } from './report.js';
import type { StoreBenchResult, StoreBenchSpec } from './store-bench.js';
import { CHROMIUM_PATH, appFirstLoadBytes, timeToConversationList } from './web-load.js';

/** The sections that measure Mensageiro alone: S (the store), C (the cluster), the web door and app. */

const storeWorkload = (spec: StoreBenchSpec) =>
  `S store alone, ${spec.users} users, ${spec.batch} a commit${spec.inMemory ? ', in memory' : ''}${spec.log ? ', log store' : ''}`;

/** Runs store-bench.ts pinned to CPU0, where the peers run. */
export async function runStore(spec: StoreBenchSpec, rows: Row[]): Promise<void> {
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
export function webDoorRatios(rows: Row[]): void {
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
export async function runWebLoad(peer: Peer, conversations: number, rows: Row[]): Promise<void> {
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

/** C: W1 on PostgreSQL, on one node and on several over NATS, beside the SQLite W1 rows. */
export async function runClusterSection(plan: Plan, rows: Row[]): Promise<void> {
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

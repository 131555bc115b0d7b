import type { Spec } from './loadgen.js';
import { framesNote } from './frame-count.js';
import { loadgen, measuredLoadgen, startPeer } from './harness.js';
import type { Plan } from './plan.js';
import { type Peer, sleep } from './peers.js';
import { measuredWindow, rssOf } from './proc-stats.js';
import type { Row } from './report.js';

/** The workloads every peer runs: W1 and W4 (live), W2 (drain), W3 (idle connections). */

type LiveWorkload = Plan['live'][number];

/** CPU µs per delivered message, to a tenth; null when nothing was delivered. */
const usPer = (cpuMs: number, messages: number) =>
  messages ? Math.round(((cpuMs * 1000) / messages) * 10) / 10 : null;

export async function runLive(peer: Peer, w: LiveWorkload, plan: Plan, rows: Row[]): Promise<void> {
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
    result.serverUsPerDelivery = usPer(window.cpuMs, measured);
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

export const drainName = (plan: Plan, restart: boolean) =>
  `W2 drain ${plan.drainMessages}${restart ? ' after a restart' : ''}`;

/**
 * W2: a backlog queued for an offline recipient, then its drain. With `restart`, the peer is
 * stopped and started again on its data in between, so the backlog comes from disk: for
 * Mensageiro, from SQLite instead of the inbox tail; for Mosquitto, from its persistence file.
 */
export async function runDrain(peer: Peer, plan: Plan, rows: Row[], restart: boolean): Promise<void> {
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
    result.serverUsPerDelivery = usPer(window.cpuMs, result.unique as number);
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
      `  ${peer.name.padEnd(10)} ${name}: ${result.drainMs} ms (${result.perSecond}/s), lost ${result.lost} dup ${result.duplicated}  loadgen CPU ${result.cpuPercent}%  server CPU ${result.serverCpuMs} ms (${result.serverUsPerDelivery} µs a message)${restart ? `  (listening ${running.readyMs} ms after its restart)` : ''}`,
    );
  } finally {
    await running.stop();
  }
}

export async function runIdle(peer: Peer, count: number, plan: Plan, rows: Row[]): Promise<void> {
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

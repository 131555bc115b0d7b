import { once } from 'node:events';
import readline from 'node:readline';
import hdr from 'hdr-histogram-js';
import { createClient, type BenchClient, type Protocol } from './clients.js';
import { makePayload, parsePayload } from './payload.js';
import { frameCount, framesPerDelivery } from './frame-count.js';

/**
 * The load generator: one process, pinned to its own core, speaking every peer's protocol with
 * the same workloads. It prints one JSON line of results. Every loop is bounded by a count or a
 * deadline.
 */

export type Spec =
  | {
      workload: 'live';
      protocol: Protocol;
      port: number;
      clients: number;
      window: number;
      warmupMs: number;
      measureMs: number;
      groupSize?: number;
      /** Cluster nodes: client i connects to ports[i % n] instead of `port`. */
      ports?: number[];
    }
  | {
      workload: 'drain';
      protocol: Protocol;
      port: number;
      messages: number;
      window: number;
      /** The harness restarts the peer once the backlog is queued, and sends its new port. */
      restart?: boolean;
    }
  | { workload: 'idle'; protocol: Protocol; port: number; clients: number; prepareOnly?: boolean };

export interface LiveResult {
  sent: number;
  delivered: number;
  measuredDelivered: number;
  perSecond: number;
  p50: number;
  p99: number;
  p999: number;
  /** Native frames each way per measured delivery (null for MQTT and the relay). */
  frames: ReturnType<typeof framesPerDelivery>;
  lost: number;
  duplicated: number;
  cpuPercent: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connectAll(
  clients: BenchClient[],
  options: (c: BenchClient) => Parameters<BenchClient['connect']>[0] = () => ({}),
) {
  for (let at = 0; at < clients.length; at += 200) {
    await Promise.all(clients.slice(at, at + 200).map((c) => c.connect(options(c))));
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** W1 (and W4 with groupSize): closed loop, `window` unacknowledged sends per client. */
async function live(spec: Extract<Spec, { workload: 'live' }>): Promise<LiveResult> {
  const group = spec.groupSize ?? 0;
  const portOf = (i: number) => (spec.ports ? spec.ports[i % spec.ports.length]! : spec.port);
  const clients = Array.from({ length: spec.clients }, (_, i) => createClient(spec.protocol, i, portOf(i)));
  await connectAll(clients, (c) => ({ group: group ? Math.floor(c.index / group) : undefined }));
  const groups: Array<number | { group: number }> = [];
  if (group) {
    for (let g = 0; g * group < clients.length; g++) {
      const members = clients.slice(g * group, (g + 1) * group);
      groups.push({ group: members[0]!.makeGroup ? await members[0]!.makeGroup(members) : g });
    }
    await sleep(200);
  }
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  // Every peer delivers each sender's messages to a receiver in order, so one number per
  // (receiver, sender) pair tells a duplicate: a seq at or below the last one seen. No Set of
  // every message, which cost the generator more than the peers it measures.
  const lastSeen = new Float64Array(clients.length * clients.length).fill(-1);
  let measuring = false;
  let stopped = false;
  let sent = 0;
  let acked = 0;
  let delivered = 0;
  let measuredDelivered = 0;
  let duplicated = 0;
  const nextSeq = clients.map(() => 0);
  const inFlight = clients.map(() => 0);

  const fire = (client: BenchClient) => {
    while (!stopped && inFlight[client.index]! < spec.window) {
      const to = group
        ? groups[Math.floor(client.index / group)]!
        : (client.index + 1 + Math.floor(Math.random() * (clients.length - 1))) % clients.length;
      inFlight[client.index]!++;
      sent++;
      client.send(to, makePayload(client.index, nextSeq[client.index]!++));
    }
  };
  for (const client of clients) {
    client.onAck = () => {
      inFlight[client.index]!--;
      acked++;
      fire(client);
    };
    const row = client.index * clients.length;
    client.onDeliver = (payload) => {
      const { sentAt, sender, seq } = parsePayload(payload);
      if (seq <= lastSeen[row + sender]!) duplicated++;
      else lastSeen[row + sender] = seq;
      delivered++;
      if (measuring) {
        measuredDelivered++;
        histogram.recordValue(Math.max(1, Math.round(performance.now() * 1000) - sentAt));
      }
    };
  }
  for (const client of clients) fire(client);
  await sleep(spec.warmupMs);
  measuring = true;
  frameCount.counting = true;
  // The harness reads the peer's CPU time at these two lines.
  console.log(JSON.stringify({ phase: 'measuring' }));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await sleep(spec.measureMs);
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  measuring = false;
  frameCount.counting = false;
  console.log(JSON.stringify({ phase: 'measured' }));
  stopped = true;
  // Drain: everything acknowledged must arrive. A peer that acks on receipt (MQTT) may hold a
  // backlog of many seconds, so the wait goes on while deliveries do, and gives up only after
  // 10 s without one (or 5 minutes in all).
  const fanout = group ? group - (spec.protocol === 'native' ? 1 : 0) : 1;
  const drainedAll = () => inFlight.every((n) => n === 0) && delivered - duplicated >= acked * fanout;
  const drainDeadline = Date.now() + 300_000;
  for (let before = -1; !drainedAll() && delivered !== before && Date.now() < drainDeadline;) {
    before = delivered;
    await until(drainedAll, 10_000);
  }
  const expected = acked * fanout;
  for (const client of clients) client.close();
  return {
    sent,
    delivered,
    measuredDelivered,
    perSecond: Math.round((measuredDelivered / elapsed) * 1000),
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    p999: histogram.getValueAtPercentile(99.9) / 1000,
    frames: framesPerDelivery(measuredDelivered),
    lost: Math.max(0, expected - (delivered - duplicated)),
    duplicated,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 100),
  };
}

/** W2: `messages` queued for an offline recipient, then the time to connect and receive them. */
async function drain(spec: Extract<Spec, { workload: 'drain' }>) {
  const recipient = createClient(spec.protocol, 0, spec.port);
  await recipient.connect({ persistent: true });
  recipient.close();
  await sleep(200);
  const sender = createClient(spec.protocol, 1, spec.port);
  await sender.connect({ subscribe: false });
  let acked = 0;
  let sent = 0;
  const fire = () => {
    while (sent < spec.messages && sent - acked < spec.window) sender.send(0, makePayload(1, sent++));
  };
  sender.onAck = () => {
    acked++;
    fire();
  };
  fire();
  const queued = await until(() => acked >= spec.messages, 300_000);
  sender.close();
  const port = spec.restart ? await restartedPort() : spec.port;
  const back = createClient(spec.protocol, 0, port);
  const seen = new Uint8Array(spec.messages);
  let unique = 0;
  let received = 0;
  back.onDeliver = (payload) => {
    received++;
    const { seq } = parsePayload(payload);
    if (seen[seq] === 0) {
      seen[seq] = 1;
      unique++;
    }
  };
  console.log(JSON.stringify({ phase: 'measuring' }));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await back.connect({ persistent: true });
  const complete = await until(() => unique >= spec.messages, 300_000);
  const drainMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ phase: 'measured' }));
  back.close();
  return {
    queued: queued ? spec.messages : acked,
    received,
    unique,
    complete,
    drainMs: Math.round(drainMs),
    perSecond: Math.round((unique / drainMs) * 1000),
    lost: spec.messages - unique,
    duplicated: received - unique,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / drainMs) * 100),
  };
}

/** Asks the harness to restart the peer, and waits (bounded) for the port it listens on now. */
async function restartedPort(): Promise<number> {
  console.log(JSON.stringify({ phase: 'queued' }));
  const lines = readline.createInterface({ input: process.stdin });
  const line = await Promise.race([once(lines, 'line'), sleep(60_000).then(() => null)]);
  lines.close();
  if (line === null) throw new Error('the harness did not restart the peer within 60 s');
  return (JSON.parse(String(line[0])) as { port: number }).port;
}

/** W3: idle connections; the harness reads the server's RSS while they are held. */
async function idle(spec: Extract<Spec, { workload: 'idle' }>) {
  const clients = Array.from({ length: spec.clients }, (_, i) => createClient(spec.protocol, i, spec.port));
  await connectAll(clients, () => ({ subscribe: false }));
  if (spec.prepareOnly) {
    // Only creating the accounts, for a later, measured run on the same data.
    for (const client of clients) client.close();
    return { connected: clients.length };
  }
  console.log(JSON.stringify({ ready: clients.length }));
  // Hold them until the harness has measured (it closes stdin), or a bound passes.
  await Promise.race([new Promise((resolve) => process.stdin.once('end', resolve).resume()), sleep(120_000)]);
  for (const client of clients) client.close();
  return { connected: clients.length };
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const result =
  spec.workload === 'live'
    ? await live(spec)
    : spec.workload === 'drain'
      ? await drain(spec)
      : await idle(spec);
console.log(JSON.stringify({ result }));
process.exit(0);

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { stopProcess, waitForPort } from './processes.js';
import type { Spec } from './loadgen.js';

/**
 * The cluster section of `npm run bench`: W1 on nodes that share PostgreSQL (and, from two
 * nodes on, a private nats-server), clients spread over the nodes, with the CPU that the
 * nodes, PostgreSQL and NATS each spent over the measured window.
 */

export interface ClusterWorkload {
  name: string;
  nodes: number;
  clients: number;
  window: number;
}

export interface ClusterTools {
  /** The command line of one node with these server flags (its own are added here). */
  nodeCommand(flags: string[]): string[];
  /** Wraps a command so it runs on that CPU (or not at all, without taskset). */
  pinned(cpu: number, command: string[]): string[];
  cpuMsOf(pid: number): number;
  loadgen(spec: Spec, onLine?: (line: Record<string, unknown>) => void): Promise<Record<string, unknown>>;
}

export const POSTGRES_URL =
  process.env.MENSAGEIRO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The nats-server binary of the cluster section and of the JetStream peer. */
export const NATS_SERVER = process.env.MENSAGEIRO_BENCH_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Why the section cannot run here, or null when PostgreSQL and nats-server are both present. */
export async function clusterUnavailable(): Promise<string | null> {
  if (!fs.existsSync(NATS_SERVER)) return `no nats-server at ${NATS_SERVER}`;
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return null;
  } catch (error) {
    return `PostgreSQL at ${POSTGRES_URL} unreachable (${(error as Error).message})`;
  }
}

/** Runs one workload; returns the loadgen's result with the CPU figures added. */
export async function runClusterWorkload(
  w: ClusterWorkload,
  tools: ClusterTools,
): Promise<Record<string, unknown>> {
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const store = `${POSTGRES_URL}?schema=${schema}`;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  try {
    let busArgs: string[] = [];
    let nats: ChildProcess | null = null;
    if (w.nodes > 1) {
      const natsPort = await freePort();
      const [command, ...args] = tools.pinned(0, [NATS_SERVER, '-a', '127.0.0.1', '-p', String(natsPort)]);
      nats = spawn(command!, args, { stdio: 'ignore' });
      children.push(nats);
      await waitForPort(natsPort, nats);
      busArgs = ['--bus', `nats://127.0.0.1:${natsPort}`, '--bus-prefix', schema];
    }
    const ports: number[] = [];
    const nodes: ChildProcess[] = [];
    for (let i = 0; i < w.nodes; i++) {
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-node-'));
      dirs.push(dir);
      const [command, ...args] = tools.pinned(
        0,
        tools.nodeCommand([
          '--data',
          dir,
          '--native-port',
          String(port),
          '--store',
          store,
          '--node-id',
          `bench${i}`,
          ...busArgs,
        ]),
      );
      const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      nodes.push(child);
      // One at a time: the first makes the schema.
      await waitForPort(port, child);
      ports.push(port);
    }
    const postgresPids = await postgresProcesses();
    let before = { nodes: 0, postgres: 0, nats: 0, at: 0 };
    let after = before;
    const sample = () => ({
      nodes: nodes.reduce((sum, child) => sum + tools.cpuMsOf(child.pid!), 0),
      postgres: cpuMsOfAll(tools.cpuMsOf, postgresPids()),
      nats: nats ? tools.cpuMsOf(nats.pid!) : 0,
      at: performance.now(),
    });
    const result = await tools.loadgen(
      {
        workload: 'live',
        protocol: 'native',
        port: ports[0]!,
        ports,
        clients: w.clients,
        window: w.window,
        warmupMs: 2000,
        measureMs: Number(process.env.BENCH_CLUSTER_MEASURE_MS ?? 10_000),
      },
      (line) => {
        if (line.phase === 'measuring') before = sample();
        else if (line.phase === 'measured') after = sample();
      },
    );
    const ms = after.at - before.at;
    const delivered = result.measuredDelivered as number;
    const per = (cpuMs: number) => (delivered ? Math.round(((cpuMs * 1000) / delivered) * 10) / 10 : null);
    const percent = (cpuMs: number) => (ms ? Math.round((cpuMs / ms) * 100) : null);
    return {
      ...result,
      nodes: w.nodes,
      nodesCpuPercent: percent(after.nodes - before.nodes),
      postgresCpuPercent: percent(after.postgres - before.postgres),
      natsCpuPercent: percent(after.nats - before.nats),
      nodeUsPerDelivery: per(after.nodes - before.nodes),
      postgresUsPerMessage: per(after.postgres - before.postgres),
      natsUsPerMessage: per(after.nats - before.nats),
    };
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

/**
 * The PIDs whose CPU counts as PostgreSQL's: the postmaster serving POSTGRES_URL and its
 * children (backends, WAL writer, checkpointer...), read again at each sample since backends
 * come and go. Without access to its data directory, every process named postgres.
 */
export async function postgresProcesses(): Promise<() => number[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  let postmaster: number | null = null;
  try {
    const { rows } = await client.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'data_directory'`,
    );
    const pidFile = rows[0] ? path.join(rows[0].setting, 'postmaster.pid') : null;
    if (pidFile && fs.existsSync(pidFile))
      postmaster = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    // Not a superuser, or another machine's data directory: count every postgres process.
  } finally {
    await client.end();
  }
  return () => {
    const pids: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const pid = Number(entry);
        if (postmaster !== null) {
          const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
          const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          if (pid === postmaster || parent === postmaster) pids.push(pid);
          continue;
        }
        const comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'postgres' || comm.startsWith('postgres:')) pids.push(pid);
      } catch {
        // The process ended between the listing and the read.
      }
    }
    return pids;
  };
}

/** The CPU of these processes, in ms; one that ended since it was listed counts nothing. */
export function cpuMsOfAll(cpuMsOf: (pid: number) => number, pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuMsOf(pid);
    } catch {
      // ended
    }
  }
  return total;
}

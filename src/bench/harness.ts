import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { freePort } from './free-port.js';
import type { Spec } from './loadgen.js';
import { type Peer, pinned, SCRIPTS } from './peers.js';
import { stopProcess, waitForPort } from './processes.js';
import { measuredWindow } from './proc-stats.js';

/** The harness's side of a run: peers started pinned to CPU0, and its scripts (the load) on CPU1. */

export interface Running {
  child: ChildProcess;
  port: number;
  dir: string;
  /** From the spawn to the first accepted connection: a restarted peer loads its data first. */
  readyMs: number;
  stop(keepDir?: boolean): Promise<void>;
}

/** A peer's errors reach the bench's output; a helper's do not (epmd complains of every probe). */
const spawnPinned = (command: string[], options: { env?: Record<string, string>; quiet?: boolean }) => {
  const [program, ...args] = pinned(0, command);
  return spawn(program!, args, {
    stdio: ['ignore', 'ignore', options.quiet ? 'ignore' : 'inherit'],
    env: options.env && { ...process.env, ...options.env },
  });
};

/** Starts a peer on a free port, in a fresh data directory or on `reuseDir`'s data. */
export async function startPeer(peer: Peer, reuseDir?: string): Promise<Running> {
  const dir = reuseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `bench-${peer.name}-`));
  const port = await freePort();
  const started = await peer.start(port, dir);
  const launch = Array.isArray(started) ? { command: started } : started;
  const helpers: ChildProcess[] = [];
  let child: ChildProcess | null = null;
  const stopAll = async () => {
    if (child) await stopProcess(child);
    for (const helper of helpers.reverse()) await stopProcess(helper);
  };
  try {
    for (const helper of launch.helpers ?? []) {
      helpers.push(spawnPinned(helper.command, { quiet: true }));
      await waitForPort(helper.port, helpers.at(-1)!);
    }
    const spawnedAt = performance.now();
    child = spawnPinned(launch.command, { env: launch.env });
    await waitForPort(port, child);
    const running: Running = {
      child,
      port,
      dir,
      readyMs: Math.round(performance.now() - spawnedAt),
      async stop(keepDir = false) {
        await stopAll();
        if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return running;
  } catch (error) {
    await stopAll();
    throw new Error(`${peer.name} did not start: ${(error as Error).message}`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Runs the generator against a running peer, and reads the peer's CPU over the measured window. */
export async function measuredLoadgen(
  peer: Peer,
  running: Running,
  spec: DistributiveOmit<Extract<Spec, { workload: 'live' | 'drain' }>, 'protocol' | 'port'>,
) {
  const window = measuredWindow(() => running.child.pid!);
  const full = { ...spec, protocol: peer.protocol, port: running.port } as Spec;
  return { result: await loadgen(full, window.onLine), window };
}

/**
 * Runs one of the bench's Node scripts pinned to `cpu`, with a JSON spec as its argument; it
 * prints JSON lines, and resolves with the `result` of the one that has it. `onLine` sees the
 * others.
 */
export function runScript(
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
    path.join(SCRIPTS, script),
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
export const loadgen = (spec: Spec, onLine?: Parameters<typeof runScript>[3]) =>
  runScript(1, 'loadgen.js', spec, onLine);

import os from 'node:os';
import { taskset } from './peers.js';

/**
 * The machine a run measured: its cores, its CPU model, and what a trivial system call costs
 * there. Ratios between peers move with the machine (a costly system call weighs more on the
 * peer that makes more of them), so every result carries these.
 */

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  kernel: string;
  pinned: boolean;
  /** The one-minute load average when the run began: other work on a shared machine. */
  loadAverage: number;
  syscall: SyscallCost;
}

export interface SyscallCost {
  /** Wall time of one call, in ns: the fastest of the rounds. */
  ns: number;
  /** CPU time (user and system) of one call in that round, in ns. */
  cpuNs: number;
  method: string;
}

const CALLS = 100_000;
const ROUNDS = 5;

/**
 * Node reads `process.ppid` with a getppid(2) each time (strace counts one a read), the
 * cheapest system call it exposes: the round's time over its calls is the cost of entering and
 * leaving the kernel, plus a few ns of the binding. The fastest round is kept, as the one the
 * machine's other work disturbed least.
 */
export function measureSyscall(): SyscallCost {
  let best: { ns: number; cpuNs: number } | null = null;
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink += process.ppid;
    const ns = Number(process.hrtime.bigint() - started) / CALLS;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuNs = ((cpu.user + cpu.system) * 1000) / CALLS;
    if (!best || ns < best.ns) best = { ns, cpuNs };
  }
  if (sink === 0) throw new Error('process.ppid read 0');
  return {
    ns: Math.round(best!.ns),
    cpuNs: Math.round(best!.cpuNs),
    method: `getppid(2) through process.ppid, ${CALLS} calls a round, the fastest of ${ROUNDS} rounds`,
  };
}

export function describeMachine(): Machine {
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? '?',
    node: process.version,
    kernel: `${os.platform()} ${os.release()}`,
    pinned: taskset,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    syscall: measureSyscall(),
  };
}

export const machineLine = (m: Machine) =>
  `machine: ${m.cores} cores (${m.cpu}), a system call ${(m.syscall.ns / 1000).toFixed(2)} µs ` +
  `(${(m.syscall.cpuNs / 1000).toFixed(2)} µs of CPU), load average ${m.loadAverage}; node ${m.node}, ${m.kernel}`;

/** The results file's name for this machine: one file a machine, replaced by each run. */
export const machineSlug = (m: Machine) =>
  `${m.cpu.replace(/\((r|tm)\)/gi, '')} ${m.cores} cores`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** What the bench reads of a running peer from /proc: CPU time, resident memory, its processes. */

/**
 * The CPU time of a peer's processes and the wall time between the generator's `measuring` and
 * `measured` lines; `pid` is read at each, so a peer restarted before the window is measured as
 * it runs.
 */
export function measuredWindow(pid: () => number) {
  let cpuAtStart = 0;
  let startedAt = 0;
  const window = {
    cpuMs: 0,
    ms: 0,
    onLine(line: Record<string, unknown>) {
      if (line.phase === 'measuring') {
        cpuAtStart = treeCpuMsOf(pid());
        startedAt = performance.now();
      } else if (line.phase === 'measured') {
        window.cpuMs = treeCpuMsOf(pid()) - cpuAtStart;
        window.ms = performance.now() - startedAt;
      }
    },
  };
  return window;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces), from field 3 on. */
function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User and system CPU time of a process and all its threads, in ms. */
export function cpuMsOf(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * The CPU time of a process and of every process below it, in ms: a peer started through a
 * script (RabbitMQ's) does its work in a child (the Erlang VM).
 */
export function treeCpuMsOf(pid: number): number {
  let total = 0;
  for (const { pid: each } of [{ pid, startTime: 0 }, ...descendantsOf(pid)]) {
    try {
      total += cpuMsOf(each);
    } catch {
      // It ended between the listing and the read.
    }
  }
  return total;
}

/** A process as /proc names it: its start time tells it apart from a later one with its pid. */
export interface ProcessId {
  pid: number;
  startTime: number;
}

/** Every process below `pid` (children, their children...), read from /proc. */
export function descendantsOf(pid: number): ProcessId[] {
  const children = new Map<number, ProcessId[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(Number(entry));
      const parent = Number(fields[1]);
      const list = children.get(parent) ?? [];
      list.push({ pid: Number(entry), startTime: Number(fields[19]) });
      children.set(parent, list);
    } catch {
      // It ended between the listing and the read.
    }
  }
  const found: ProcessId[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next: number[] = [];
    for (const parent of queue) {
      for (const child of children.get(parent) ?? []) {
        found.push(child);
        next.push(child.pid);
      }
    }
    queue = next;
  }
  return found;
}

/**
 * Whether that process still runs: not ended, not a zombie waiting for its parent, and not a
 * later process that reused its pid.
 */
export function stillRunning(process: ProcessId): boolean {
  try {
    const fields = statFields(process.pid);
    return fields[0] !== 'Z' && Number(fields[19]) === process.startTime;
  } catch {
    return false;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

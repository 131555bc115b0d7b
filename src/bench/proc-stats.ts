import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** What the bench reads of a running peer from /proc: CPU time, resident memory. */

/**
 * The peer's CPU time and the wall time between the generator's `measuring` and `measured`
 * lines; `pid` is read at each, so a peer restarted before the window is measured as it runs.
 */
export function measuredWindow(pid: () => number) {
  let cpuAtStart = 0;
  let startedAt = 0;
  const window = {
    cpuMs: 0,
    ms: 0,
    onLine(line: Record<string, unknown>) {
      if (line.phase === 'measuring') {
        cpuAtStart = cpuMsOf(pid());
        startedAt = performance.now();
      } else if (line.phase === 'measured') {
        window.cpuMs = cpuMsOf(pid()) - cpuAtStart;
        window.ms = performance.now() - startedAt;
      }
    },
  };
  return window;
}

/** User and system CPU time of a process and all its threads, in ms. */
export function cpuMsOf(pid: number): number {
  // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name, which may hold spaces.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
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

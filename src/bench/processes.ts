import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { descendantsOf, stillRunning } from './proc-stats.js';

/** Waiting for a process the bench started to listen, and stopping it with all it started. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `port` accepts a connection, polling every 10 ms; fails if `child` exits first
 * or nothing listens within `timeoutMs` (a RabbitMQ node takes seconds to boot).
 */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before listening on ${port}`);
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
  throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`);
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; then SIGKILL, by pid, to whatever the process had
 * started and left running (a shell's child when the shell was killed).
 */
export async function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  const started = child.pid === undefined ? [] : descendantsOf(child.pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    if ((await Promise.race([exited, sleep(graceMs).then(() => 'timeout')])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  }
  const left = started.filter((each) => stillRunning(each));
  for (const each of left) {
    try {
      process.kill(each.pid, 'SIGKILL');
    } catch {
      // It ended between the check and the signal.
    }
  }
  // Gone before the caller removes their data directory or reuses their ports.
  for (let tries = 0; tries < 500 && left.some((each) => stillRunning(each)); tries++) await sleep(10);
}

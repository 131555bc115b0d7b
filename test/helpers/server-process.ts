import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface ServerProcess {
  child: ChildProcess;
  ports: Record<string, number>;
  /** Every log line the server printed, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts the real `mensageiro server` (the built CLI) on loopback, every port 0 unless given,
 * and waits until each listener has logged its bound port.
 */
export async function spawnServer(
  dataDir: string,
  args: string[] = [],
  expect = ['native'],
  /** A command that runs the server, such as `prlimit --nofile=300:300`. */
  wrapper: string[] = [],
): Promise<ServerProcess> {
  const command = [...wrapper, process.execPath];
  const child = spawn(
    command[0]!,
    [
      ...command.slice(1),
      CLI,
      'server',
      '--host',
      '127.0.0.1',
      '--data',
      dataDir,
      '--log-level',
      'info',
      '--native-port',
      '0',
      '--mm-port',
      '0',
      '--zap-port',
      '0',
      '--p2p-port',
      '0',
      '--lobby-port',
      '0',
      '--metrics-port',
      '0',
      '--web-port',
      '0',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Array<Record<string, unknown>> = [];
  const ports: Record<string, number> = {};
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start; stderr: ${stderr}`)), 20_000);
    void exited.then((code) => reject(new Error(`server exited with ${code}; stderr: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening') ports[entry.dialect as string] = entry.port as number;
      if (expect.every((name) => ports[name] !== undefined)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    child,
    ports,
    logs,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { machineSlug, type Machine } from '../src/bench/machine.js';
import { cpuMsOf, descendantsOf, treeCpuMsOf } from '../src/bench/proc-stats.js';
import { stopProcess } from '../src/bench/processes.js';
import { type Row, table } from '../src/bench/report.js';
import { parseBenchArgs } from '../src/bench/run.js';

/** A shell that runs `script` (which prints a pid) and waits for what it started; and that pid. */
async function shellWith(script: string) {
  const shell = spawn('sh', ['-c', `${script}\nwait`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: shell.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    shell.once('exit', (code) => reject(new Error(`sh exited with ${code}`)));
  });
  return { shell, childPid: Number(line) };
}

/** Running, as opposed to gone or a zombie waiting for its new parent to reap it. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe("the bench's process handling", () => {
  it('stops a process and what it started, also when the process leaves its child behind', async () => {
    // dash ends on SIGTERM during `wait`, leaving the sleep to run on, as RabbitMQ's start
    // script would leave its Erlang VM if the script alone were signalled.
    const { shell, childPid } = await shellWith('sleep 30 & echo $!');
    expect(descendantsOf(shell.pid!).map((p) => p.pid)).toContain(childPid);
    await stopProcess(shell, 2000);
    expect(running(childPid)).toBe(false);
  });

  it("counts the CPU of a process's descendants in its own", async () => {
    // The child burns 100 ms of CPU before it says its pid, then idles.
    const burn =
      'node -e "while (process.cpuUsage().user < 100000); console.log(process.pid); setTimeout(() => {}, 30000)" &';
    const { shell, childPid } = await shellWith(burn);
    try {
      expect(cpuMsOf(childPid)).toBeGreaterThan(0);
      expect(treeCpuMsOf(shell.pid!)).toBeGreaterThanOrEqual(cpuMsOf(shell.pid!) + cpuMsOf(childPid));
    } finally {
      await stopProcess(shell, 2000);
    }
  });
});

describe("the bench's report", () => {
  const machine = (cpu: string): Machine => ({
    cores: 2,
    cpu,
    node: 'v20',
    kernel: 'linux',
    pinned: true,
    loadAverage: 0,
    syscall: { ns: 1, cpuNs: 1, method: '' },
  });

  it('names the results file after the machine, so a run replaces its previous one', () => {
    expect(machineSlug(machine('AMD EPYC'))).toBe('amd-epyc-2-cores');
    expect(machineSlug(machine('Intel(R) Xeon(R) Processor'))).toBe('intel-xeon-processor-2-cores');
  });

  it("sets every peer's CPU a delivery beside its figure, and Mensageiro against each other peer", () => {
    const row = (peer: string, metric: string, value: number, us: number): Row => ({
      workload: metric === 'ms' ? 'W2' : 'W1',
      peer,
      metric,
      value,
      detail: { p99: 5, serverUsPerDelivery: us },
      ok: true,
    });
    const rows = [
      row('mensageiro', 'msg/s', 30000, 20),
      row('rabbitmq', 'msg/s', 10000, 60),
      row('mensageiro', 'ms', 500, 5),
      row('rabbitmq', 'ms', 1000, 9),
    ];
    expect(table(rows, ['mensageiro', 'rabbitmq']).split('\n')).toEqual([
      '| workload | mensageiro | rabbitmq | vs rabbitmq |',
      '|---|---|---|---|',
      '| W1 | 30,000/s, 20 µs (p99 5 ms) | 10,000/s, 60 µs (p99 5 ms) | 3.00× |',
      '| W2 | 500 ms, 5 µs | 1,000 ms, 9 µs | 2.00× |',
    ]);
  });
});

describe("the bench's arguments", () => {
  it('takes both the = and the space form, and refuses what it does not know', () => {
    expect(parseBenchArgs(['--only', 'mensageiro,rabbitmq', '--workloads=W1,W2', '--quick'])).toEqual({
      quick: true,
      only: ['mensageiro', 'rabbitmq'],
      workloads: ['W1', 'W2'],
    });
    expect(() => parseBenchArgs(['--onyl=mensageiro'])).toThrow(/unknown argument --onyl/);
    expect(() => parseBenchArgs(['--only'])).toThrow(/--only needs/);
    expect(() => parseBenchArgs(['--only', '--quick'])).toThrow(/--only needs/);
  });
});

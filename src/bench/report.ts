import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { machineSlug, type Machine } from './machine.js';
import { root, type Peer } from './peers.js';

/** One measured figure, and the table and the results file a run ends with. */

export interface Row {
  workload: string;
  peer: string;
  metric: string;
  value: number;
  detail: Record<string, unknown>;
  ok: boolean;
}

/** Peers whose rows are Mensageiro's: the others each get a ratio column. */
const OURS = new Set(['mensageiro', 'mensageiro-web']);

function format(row: Row | undefined): string {
  if (!row) return 'n/a';
  const d = row.detail;
  const us =
    d.serverUsPerDelivery === undefined || d.serverUsPerDelivery === null
      ? ''
      : `, ${d.serverUsPerDelivery} µs`;
  if (row.metric === 'bytes/conn') return `${(row.value / 1024).toFixed(1)} KB`;
  if (row.metric === 'ms') return `${row.value.toLocaleString('en')} ms${us}`;
  if (row.metric === 'µs/msg') return `${row.value} µs a message`;
  if (row.metric === 'bytes') return `${(row.value / 1024).toFixed(1)} KB`;
  if (row.metric === 'ratio') return `${row.value}×`;
  return `${row.value.toLocaleString('en')}/s${us} (p99 ${d.p99} ms)`;
}

/**
 * Workloads down, peers across; each cell its figure with the peer's CPU µs per delivered
 * message; then Mensageiro against each other peer, in "× better" (throughput over the
 * peer's; the peer's time or memory over ours).
 */
export function table(rows: Row[], names: string[]): string {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const cell = (w: string, p: string) => rows.find((r) => r.workload === w && r.peer === p);
  const others = names.filter((name) => !OURS.has(name));
  const ratio = (w: string, other: string) => {
    const a = cell(w, 'mensageiro');
    const b = cell(w, other);
    if (!a || !b || !b.value || !a.value) return 'n/a';
    const better = a.metric === 'ms' || a.metric === 'bytes/conn' ? b.value / a.value : a.value / b.value;
    return `${better.toFixed(2)}×`;
  };
  const header = ['workload', ...names, ...others.map((other) => `vs ${other}`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const w of workloads) {
    lines.push(
      `| ${[w, ...names.map((p) => format(cell(w, p))), ...others.map((other) => ratio(w, other))].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const commit = () => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
};

/**
 * Writes `bench/results/<machine>.json`, replacing that machine's previous file: the directory
 * keeps one recent run a machine (git keeps the older ones). A quick run writes
 * `<machine>-quick.json`, which git ignores.
 */
export function writeResults(run: {
  quick: boolean;
  argv: string[];
  machine: Machine;
  peers: Peer[];
  rows: Row[];
  table: string;
}): string {
  const out = path.join(
    root,
    'bench/results',
    `${machineSlug(run.machine)}${run.quick ? '-quick' : ''}.json`,
  );
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const { quick, argv, machine, rows } = run;
  const peers = run.peers.map(({ name, version, config }) => ({ name, version, config }));
  const body = { date: new Date().toISOString(), commit: commit(), quick, argv, machine, peers, rows };
  fs.writeFileSync(out, `${JSON.stringify({ ...body, table: run.table }, null, 2)}\n`);
  return out;
}

// `npm run cluster -- --nodes 3`: several Mensageiro nodes on this machine, sharing PostgreSQL
// (MENSAGEIRO_STORE, default postgres://postgres@127.0.0.1:5432/test) and NATS (MENSAGEIRO_BUS, or a
// private nats-server started here on a free port). Node i listens on each default port + i.
// Ctrl-C stops every process this script started.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli/main.js');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const nodes = Number(option('nodes', '3'));
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) {
  console.error('--nodes takes 1 to 9');
  process.exit(2);
}
const host = option('host', '127.0.0.1');
const store = process.env.MENSAGEIRO_STORE ?? 'postgres://postgres@127.0.0.1:5432/test';
const PORTS = { native: 7333, mm: 3333, zap: 12345, p2p: 10000, lobby: 18000, metrics: 9464, web: 8080 };
const children = [];

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function natsServerBinary() {
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // Not this one.
    }
  }
  return null;
}

async function startBus() {
  if (process.env.MENSAGEIRO_BUS) return process.env.MENSAGEIRO_BUS;
  const binary = natsServerBinary();
  if (!binary) {
    console.error('no nats-server found: install it (apt-get install nats-server) or set MENSAGEIRO_BUS');
    process.exit(1);
  }
  const port = await freePort();
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'inherit' });
  children.push(child);
  console.log(`nats-server (pid ${child.pid}) on 127.0.0.1:${port}`);
  return `nats://127.0.0.1:${port}`;
}

let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1000).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

const bus = await startBus();
const rows = [];
for (let i = 0; i < nodes; i++) {
  const data = path.join(root, 'data', 'cluster', `node${i}`);
  fs.mkdirSync(data, { recursive: true });
  const flags = ['--host', host, '--data', data, '--store', store, '--bus', bus, '--node-id', `node${i}`];
  for (const [dialect, port] of Object.entries(PORTS)) flags.push(`--${dialect}-port`, String(port + i));
  const child = spawn(process.execPath, [cli, 'server', ...flags], { stdio: 'inherit' });
  children.push(child);
  child.once('exit', (code) => {
    console.error(`node${i} exited with ${code}; stopping the cluster`);
    stopAll(1);
  });
  rows.push(
    `node${i} (pid ${child.pid}): ${Object.entries(PORTS)
      .map(([d, p]) => `${d} ${p + i}`)
      .join(', ')}`,
  );
}
console.log(`${nodes} nodes on ${store} and ${bus}:\n  ${rows.join('\n  ')}\nCtrl-C stops them all.`);

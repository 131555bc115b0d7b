import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Protocol } from './clients.js';
import { jetstreamPeer } from './peer-jetstream.js';
import { rabbitmqPeer } from './peer-rabbitmq.js';
import { logStorePeer } from './log-peer.js';

/** The servers the bench compares, how each starts, pinned to its CPU, and the flags they share. */

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The bench's compiled scripts that run as processes of their own (also when a test imports src/). */
export const SCRIPTS = path.join(root, 'dist/bench');
export const CLI = path.join(root, 'dist/cli/main.js');
export const GC_HOOK = pathToFileURL(path.join(SCRIPTS, 'gc-hook.js')).href;

/** A peer's start when a command line is not enough: its environment, and processes it needs first. */
export interface PeerLaunch {
  command: string[];
  env?: Record<string, string>;
  /** Started before the peer, pinned like it, each ready once its port accepts; stopped after it. */
  helpers?: Array<{ command: string[]; port: number }>;
}

export interface Peer {
  name: string;
  protocol: Protocol;
  version: string;
  config: string;
  /** Workloads it cannot run (the relay stores nothing and has no groups). */
  skips: string[];
  /** Keeps accounts across runs: W3 creates them in a first server run, then measures a fresh one. */
  persistentAccounts?: boolean;
  /** Why this machine cannot run it (a server not installed); the run leaves it out and says so. */
  unavailable?: string;
  start(port: number, dir: string): string[] | PeerLaunch | Promise<PeerLaunch>;
}

export const taskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
})();

export const pinned = (cpu: number, command: string[]) =>
  taskset ? ['taskset', '-c', String(cpu), ...command] : command;
// Every Node peer gets the young generation that `npm start` gives Mensageiro (64 MiB semi-spaces:
// fewer scavenges under load); GC hooks let W3 collect before reading RSS.
export const SEMI_SPACES = '--max-semi-space-size=64';
export const NODE_FLAGS = [SEMI_SPACES, '--expose-gc', `--import=${GC_HOOK}`];
export const nodePeer = (script: string[]) => [process.execPath, ...NODE_FLAGS, ...script];
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Mosquitto's version line, or null when it is not installed (the bench installs nothing). */
export function mosquittoVersion(): string | null {
  try {
    return execFileSync('mosquitto', ['-h'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch (error) {
    const output = (error as { stdout?: string }).stdout;
    if (output && output.includes('mosquitto version')) return output.split('\n')[0]!.trim();
    return null;
  }
}

/** Mensageiro's server as the bench runs it, with these flags added (data, ports, store...). */
export const mensageiroNode = (flags: string[]) =>
  nodePeer([
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    CLI,
    'server',
    '--host',
    '127.0.0.1',
    '--mm-port',
    'off',
    '--zap-port',
    'off',
    '--p2p-port',
    'off',
    '--lobby-port',
    'off',
    '--metrics-port',
    'off',
    '--web-port',
    'off',
    '--message-burst',
    '0',
    '--register-burst',
    '0',
    '--sign-in-burst',
    '0',
    '--log-level',
    'warn',
    '--max-connections',
    '25000',
    '--max-connections-per-ip',
    '25000',
    '--handshake-timeout',
    '120000',
    ...flags,
  ]);

export const WEB_SKIPS = [
  'W1 C=1000',
  'W1 C=100 window 1',
  'W1 C=20 window 1',
  'W2',
  'W2 restart',
  'W3',
  'W4',
];

/** The version of an installed npm package. */
const pkg = (name: string) =>
  (
    JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

export function peers(): Peer[] {
  const own = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
    .version;
  const mosquitto = mosquittoVersion();
  return [
    {
      name: 'mensageiro',
      protocol: 'native',
      version: `mensageiro ${own}, node ${process.version}`,
      config:
        'native dialect, SQLite WAL synchronous=FULL, ack after the fsynced group commit; rate limits off for the load; ' +
        `node ${SEMI_SPACES}`,
      skips: [],
      persistentAccounts: true,
      start: (port, dir) => mensageiroNode(['--data', dir, '--native-port', String(port)]),
    },
    logStorePeer(`mensageiro ${own}, node ${process.version}`),
    {
      name: 'mensageiro-web',
      protocol: 'web',
      version: `mensageiro ${own}, ws ${pkg('ws')}, node ${process.version}`,
      config: 'the same server and session behind the web door (WebSocket, one JSON object a message)',
      // Only the row that compares the door's cost with TCP's.
      skips: WEB_SKIPS,
      // The last --web-port wins, so this opens the door the base list turned off.
      start: (port, dir) =>
        mensageiroNode(['--data', dir, '--native-port', 'off', '--web-port', String(port)]),
    },
    {
      name: 'mosquitto',
      protocol: 'mqtt',
      version: mosquitto ?? 'not installed',
      unavailable: mosquitto ? undefined : 'mosquitto not found (Debian package mosquitto)',
      config:
        'QoS 1, persistence true (saved on shutdown and autosave, not per message), max_queued_messages 1000000',
      skips: [],
      start: (port, dir) => {
        // Started as root, Mosquitto drops to its own user, which must be able to write its
        // persistence file here, or it saves nothing ("Permission denied", with logging off).
        fs.chmodSync(dir, 0o777);
        const conf = path.join(dir, 'mosquitto.conf');
        fs.writeFileSync(
          conf,
          [
            `listener ${port} 127.0.0.1`,
            'allow_anonymous true',
            'persistence true',
            `persistence_location ${dir}/`,
            'max_queued_messages 1000000',
            'max_inflight_messages 0',
            'max_connections -1',
            'log_type none',
            '',
          ].join('\n'),
        );
        return ['mosquitto', '-c', conf];
      },
    },
    {
      name: 'aedes',
      protocol: 'mqtt',
      version: `aedes ${pkg('aedes')}, node ${process.version}`,
      config: `QoS 1, default in-memory persistence; node ${SEMI_SPACES}`,
      skips: ['W2 restart'],
      start: (port) => nodePeer([path.join(SCRIPTS, 'aedes-server.js'), String(port)]),
    },
    {
      name: 'relay',
      protocol: 'relay',
      version: `bare relay, node ${process.version}`,
      config: `length-prefixed frames forwarded to the destination socket, acked, no storage; node ${SEMI_SPACES}`,
      skips: ['W2', 'W2 restart', 'W4'],
      start: (port) => nodePeer([path.join(SCRIPTS, 'relay.js'), String(port)]),
    },
    rabbitmqPeer(pkg),
    jetstreamPeer(pkg),
  ];
}

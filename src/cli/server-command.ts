import type { Command } from 'commander';
import { CONFIG_KEYS, DEFAULTS, envName, loadConfig, type ServerConfig } from '../server/config.js';
import { startServer } from '../server/server.js';

const HELP: Partial<Record<keyof ServerConfig, string>> = {
  host: 'address to listen on',
  data: 'data directory for the embedded SQLite store',
  sync: 'FULL fsyncs every group commit; NORMAL is faster and may lose the last commits on power loss',
  nativePort: 'native (seed 000) port, or "off"',
  mmPort: 'MeuMensageiro (seed 001) port, or "off"',
  zapPort: 'zap (seed 002) port, or "off"',
  p2pPort: 'P2P directory (seed 003) port, or "off"',
  lobbyPort: 'lobby (seed 004) port, or "off"',
  metricsPort: 'Prometheus /metrics port, or "off"',
  maxFrame: 'largest frame accepted, in bytes',
  maxConnections: 'connections in total',
  maxConnectionsPerIp: 'connections from one address',
  maxWriteBuffer: 'bytes queued to one client before it is dropped as a slow consumer',
  inboxTailMib: 'MiB of unacked inbox items kept in memory for reconnecting clients (0 turns it off)',
  handshakeTimeout: 'ms a native client has to identify itself',
  seedHandshakeTimeout: 'ms a seed-dialect client has to send its first frame',
  p2pKeepalive: 'ms of silence after which a P2P directory client is dropped',
  zapFrameIdle: 'ms after which an undelimited zap 05/10 frame is taken as complete',
  maxGroupSize: 'members a group may have, creator included (as seed 002)',
  logLevel: 'trace, debug, info, warn, error or silent',
  logFormat: 'auto (readable on a terminal, JSON otherwise), pretty or json',
  retainDays: 'remove messages older than this many days once every recipient has them (0 keeps all)',
  users: 'users.csv to load at start-up (seed 001)',
  messages: 'messages.csv that read mm messages are appended to (default <data>/messages.csv)',
  writeStallTimeout: 'ms a client may leave its buffer full before it is dropped as a slow consumer',
  messageBurst: 'messages an account may send at once (0 turns the limit off)',
  messageRate: 'messages per second an account may send after the burst',
  registerBurst: 'registrations one address may make at once (0 turns the limit off)',
  registerRate: 'registrations per second one address may make after the burst',
  signInBurst: 'sign-in attempts one address may make at once (0 turns the limit off)',
  signInRate: 'sign-in attempts per second one address may make after the burst',
  tlsPort: 'native-over-TLS port, used when --tls-cert and --tls-key are given',
  tlsCert: 'PEM certificate (chain) for TLS',
  tlsKey: 'PEM private key for TLS',
  store:
    'postgres://host:port/db for a store shared by many nodes, or log:<dir> (log: alone: --data) for the embedded append-only log (default: embedded SQLite in --data)',
  bus: 'nats://host:port[,nats://...] to route between nodes (needs --store postgres://...)',
  busPrefix: 'NATS subject prefix, one per cluster',
  nodeId: "this node's name in logs, NATS and PostgreSQL (default <hostname>-<pid>)",
  webPort: 'web app and its WebSocket (/ws) port, or "off"; HTTPS/WSS with --tls-cert and --tls-key',
  webOrigin: "origins besides the server's own that may open the WebSocket (comma-separated, or *)",
};

/** Defaults worked out when the server starts, so the help's own value would mislead. */
const COMPUTED_DEFAULTS = new Set<keyof ServerConfig>(['nodeId']);

const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function addServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('start the server on every dialect port, with the embedded store')
    .option('--config <file>', 'JSON config file with the same keys as the flags, camelCased');
  for (const key of CONFIG_KEYS) {
    const fallback = COMPUTED_DEFAULTS.has(key) ? null : DEFAULTS[key];
    command.option(
      `--${flagName(key)} <value>`,
      `${HELP[key] ?? key} (env ${envName(key)}${fallback === null ? '' : `, default ${String(fallback)}`})`,
    );
  }
  command.action(async (options: Record<string, unknown>) => {
    const { config: file, ...flags } = options;
    const config = loadConfig({ flags, env: process.env, file: (file as string | undefined) ?? null });
    const server = await startServer(config);
    let stopping = false;
    const exit = (code: number) => {
      server.log.flush();
      process.exit(code);
    };
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: the user wants out now.
        server.log.warn({ signal }, 'second signal: exiting without waiting');
        exit(1);
      }
      stopping = true;
      server.log.info({ signal }, 'signal received');
      // A connection that will not close must not keep the process up forever.
      setTimeout(() => {
        server.log.error('graceful shutdown took over 10 s; exiting');
        exit(1);
      }, 10_000).unref();
      server
        .close()
        .then(() => exit(0))
        .catch((error: unknown) => {
          server.log.error({ err: error }, 'unclean shutdown');
          exit(1);
        });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

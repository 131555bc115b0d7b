import fs from 'node:fs';
import os from 'node:os';
import { MensageiroError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/hub.js';

/** A port number, 0 for any free port, or null when the listener is off. */
export type PortSetting = number | null;

export interface ServerConfig {
  host: string;
  data: string;
  sync: 'FULL' | 'NORMAL';
  nativePort: PortSetting;
  mmPort: PortSetting;
  zapPort: PortSetting;
  p2pPort: PortSetting;
  lobbyPort: PortSetting;
  metricsPort: PortSetting;
  maxFrame: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxWriteBuffer: number;
  /** Memory for every user's unacked inbox items, so reconnecting clients are served without a read of the file (MiB; 0 turns it off). */
  inboxTailMib: number;
  /** Handshake timeout for the native dialect, whose clients are programs. */
  handshakeTimeout: number;
  /** Handshake timeout for the seed dialects, whose users may be reading a menu first. */
  seedHandshakeTimeout: number;
  p2pKeepalive: number;
  zapFrameIdle: number;
  /** Members a group may have, creator included; seed 002 says 8. */
  maxGroupSize: number;
  logLevel: string;
  /** auto: readable lines on a terminal, JSON otherwise. */
  logFormat: 'auto' | 'pretty' | 'json';
  /** Acked messages older than this many days are removed (0 keeps everything). */
  retainDays: number;
  users: string | null;
  messages: string | null;
  /** A connection whose buffer stays over the high-water mark this long is dropped (ms). */
  writeStallTimeout: number;
  messageBurst: number;
  messageRate: number;
  registerBurst: number;
  registerRate: number;
  signInBurst: number;
  signInRate: number;
  tlsPort: PortSetting;
  tlsCert: string | null;
  tlsKey: string | null;
  /**
   * postgres://... for a PostgreSQL store shared by many nodes; `log:<dir>` for the embedded
   * append-only log store (`log:` alone: in `data`); null for the embedded SQLite one.
   */
  store: string | null;
  /** nats://... (several comma-separated) to route between nodes; null for the in-process bus. */
  bus: string | null;
  /** The subject prefix on NATS: one per cluster. */
  busPrefix: string;
  /** This node's name in logs, metrics, NATS and pg_stat_activity. */
  nodeId: string;
  /** The web app and its WebSocket (HTTPS/WSS with the TLS certificate and key). */
  webPort: PortSetting;
  /** Origins besides the server's own allowed to open the WebSocket: a comma-separated list, or `*`. */
  webOrigin: string | null;
}

export const DEFAULTS: ServerConfig = {
  host: '0.0.0.0',
  data: './data',
  sync: 'FULL',
  nativePort: 7333,
  mmPort: 3333,
  zapPort: 12345,
  p2pPort: 10000,
  lobbyPort: 18000,
  metricsPort: 9464,
  maxFrame: 1024 * 1024,
  maxConnections: 20_000,
  maxConnectionsPerIp: 500,
  maxWriteBuffer: 8 * 1024 * 1024,
  inboxTailMib: 64,
  handshakeTimeout: 10_000,
  seedHandshakeTimeout: 5 * 60_000,
  p2pKeepalive: 15_000,
  zapFrameIdle: 50,
  maxGroupSize: 8,
  logLevel: 'info',
  logFormat: 'auto',
  retainDays: 0,
  users: null,
  messages: null,
  writeStallTimeout: 30_000,
  messageBurst: DEFAULT_LIMITS.messages.burst,
  messageRate: DEFAULT_LIMITS.messages.perSecond,
  registerBurst: DEFAULT_LIMITS.registrations.burst,
  registerRate: DEFAULT_LIMITS.registrations.perSecond,
  signInBurst: DEFAULT_LIMITS.signIns.burst,
  signInRate: DEFAULT_LIMITS.signIns.perSecond,
  tlsPort: 7334,
  tlsCert: null,
  tlsKey: null,
  store: null,
  bus: null,
  busPrefix: 'mensageiro',
  nodeId: `${os.hostname()}-${process.pid}`,
  webPort: 8080,
  webOrigin: null,
};

type Kind = 'string' | 'number' | 'port' | 'sync' | 'path' | 'logFormat';

const KINDS: Record<keyof ServerConfig, Kind> = {
  host: 'string',
  data: 'string',
  sync: 'sync',
  nativePort: 'port',
  mmPort: 'port',
  zapPort: 'port',
  p2pPort: 'port',
  lobbyPort: 'port',
  metricsPort: 'port',
  maxFrame: 'number',
  maxConnections: 'number',
  maxConnectionsPerIp: 'number',
  maxWriteBuffer: 'number',
  inboxTailMib: 'number',
  handshakeTimeout: 'number',
  seedHandshakeTimeout: 'number',
  p2pKeepalive: 'number',
  zapFrameIdle: 'number',
  maxGroupSize: 'number',
  logLevel: 'string',
  logFormat: 'logFormat',
  retainDays: 'number',
  users: 'path',
  messages: 'path',
  writeStallTimeout: 'number',
  messageBurst: 'number',
  messageRate: 'number',
  registerBurst: 'number',
  registerRate: 'number',
  signInBurst: 'number',
  signInRate: 'number',
  tlsPort: 'port',
  tlsCert: 'path',
  tlsKey: 'path',
  store: 'path',
  bus: 'path',
  busPrefix: 'string',
  nodeId: 'string',
  webPort: 'port',
  webOrigin: 'path',
};

export const CONFIG_KEYS = Object.keys(KINDS) as Array<keyof ServerConfig>;

/** `nativePort` is `--native-port` on the command line and `MENSAGEIRO_NATIVE_PORT` in the environment. */
export function envName(key: string): string {
  return `MENSAGEIRO_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function coerce(key: keyof ServerConfig, raw: unknown, source: string): unknown {
  const kind = KINDS[key];
  const fail = (expected: string) =>
    new MensageiroError('bad_request', `${source}: ${key} must be ${expected}, got ${JSON.stringify(raw)}`);
  switch (kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw fail('a non-empty string');
      return raw;
    case 'path':
      if (raw === null || raw === '') return null;
      if (typeof raw !== 'string') throw fail('a path');
      return raw;
    case 'sync': {
      const value = String(raw).toUpperCase();
      if (value !== 'FULL' && value !== 'NORMAL') throw fail('FULL or NORMAL');
      return value;
    }
    case 'logFormat': {
      const value = String(raw).toLowerCase();
      if (value !== 'auto' && value !== 'pretty' && value !== 'json') throw fail('auto, pretty or json');
      return value;
    }
    case 'number': {
      const value = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(value) || value < 0) throw fail('a non-negative number');
      return value;
    }
    case 'port': {
      if (raw === null || raw === false || raw === 'off') return null;
      const value = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isInteger(value) || value < 0 || value > 65535) throw fail('a port (0-65535) or "off"');
      return value;
    }
  }
}

export interface ConfigSources {
  /** Values from the command line, already camelCased; undefined means not given. */
  flags?: Partial<Record<keyof ServerConfig, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** A JSON file with the same keys as the flags, camelCased. */
  file?: string | null;
}

/** The one config loader: defaults, then the file, then the environment, then the flags. */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const config: Record<string, unknown> = { ...DEFAULTS };
  const apply = (values: Record<string, unknown>, source: string) => {
    for (const [key, raw] of Object.entries(values)) {
      if (raw === undefined) continue;
      if (!(key in KINDS)) throw new MensageiroError('bad_request', `${source}: unknown setting ${key}`);
      config[key] = coerce(key as keyof ServerConfig, raw, source);
    }
  };
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(sources.file, 'utf8'));
    } catch (error) {
      throw new MensageiroError('bad_request', `config file ${sources.file}: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new MensageiroError('bad_request', `config file ${sources.file}: expected a JSON object`);
    }
    apply(parsed as Record<string, unknown>, sources.file);
  }
  const env = sources.env ?? {};
  const fromEnv: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[envName(key)];
    if (value !== undefined) fromEnv[key] = value;
  }
  apply(fromEnv, 'environment');
  apply(sources.flags ?? {}, 'command line');
  checkEngines(config as unknown as ServerConfig);
  return config as unknown as ServerConfig;
}

/** The directory of the embedded log store when `store` is `log:<dir>`; null for any other store. */
export function logStoreDir(config: Pick<ServerConfig, 'store' | 'data'>): string | null {
  if (config.store === null || !config.store.startsWith('log:')) return null;
  return config.store.slice('log:'.length) || config.data;
}

/** The store and the bus must fit each other: nodes sharing a bus must share a store. */
function checkEngines(config: ServerConfig): void {
  if (config.store !== null && !/^postgres(ql)?:\/\//.test(config.store) && logStoreDir(config) === null) {
    throw new MensageiroError(
      'bad_request',
      `store must be a postgres:// URL or log:<dir> (or unset for SQLite), got ${config.store}`,
    );
  }
  if (config.bus !== null && logStoreDir(config) !== null) {
    throw new MensageiroError(
      'bad_request',
      'a NATS bus joins nodes that must share one store: the log store belongs to one process',
    );
  }
  if (config.retainDays > 0 && logStoreDir(config) !== null) {
    throw new MensageiroError('bad_request', 'retention (--retain-days) needs the SQLite store, not log:');
  }
  if (config.bus !== null && !config.bus.split(',').every((url) => /^nats:\/\//.test(url))) {
    throw new MensageiroError(
      'bad_request',
      `bus must be nats:// URLs (or unset for the in-process bus), got ${config.bus}`,
    );
  }
  if (config.bus !== null && config.store === null) {
    throw new MensageiroError(
      'bad_request',
      'a NATS bus joins nodes that must share one store: give --store postgres://... too (the SQLite store belongs to one process)',
    );
  }
}

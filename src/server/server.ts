import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Hub } from '../core/hub.js';
import type { Bus, Store } from '../core/ports.js';
import { LocalBus } from '../bus/local/local-bus.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LogStore } from '../store/log/log-store.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { NatsBus } from '../bus/nats/nats-bus.js';
import { nativeDialect } from '../dialects/native/dialect.js';
import { zapDialect } from '../dialects/zap/session.js';
import { createMmDialect } from '../dialects/mm/session.js';
import { lobbyDialect } from '../dialects/lobby/session.js';
import { p2pDialect } from '../dialects/p2p/session.js';
import { inboxBacklog } from '../store/sqlite/admin-queries.js';
import { RetentionSchedule, prepareForRetention } from '../store/sqlite/retention.js';
import { AdminService } from './admin-service.js';
import { serveAdmin } from './admin-socket.js';
import { DataLock } from './data-lock.js';
import { serveMonitor, type HealthCheck } from './health.js';
import { MessagingMetrics } from './metrics.js';
import { logStoreDir, type PortSetting, type ServerConfig } from './config.js';
import type { Dialect } from './dialect.js';
import { ConnectionLimits, DialectListener } from './listener.js';
import { ActivityLog, createLogger, startUpSummary } from './logger.js';
import { WebDoor } from './web-door.js';

export type DialectName = 'native' | 'tls' | 'mm' | 'zap' | 'p2p' | 'lobby' | 'metrics' | 'web';

/** Each dialect with the setting that holds its port; a factory, since some keep per-server state. */
const DIALECTS: Array<{
  create: () => Dialect;
  port: (config: ServerConfig) => PortSetting;
  /** The key in `ports` when it is not the dialect's name; TLS listeners need a certificate. */
  key?: DialectName;
  tls?: boolean;
}> = [
  { create: () => nativeDialect, port: (config) => config.nativePort },
  {
    create: () => nativeDialect,
    port: (config) => (config.tlsCert && config.tlsKey ? config.tlsPort : null),
    key: 'tls',
    tls: true,
  },
  { create: createMmDialect, port: (config) => config.mmPort },
  { create: () => zapDialect, port: (config) => config.zapPort },
  { create: () => p2pDialect, port: (config) => config.p2pPort },
  { create: () => lobbyDialect, port: (config) => config.lobbyPort },
];

export interface RunningServer {
  hub: Hub;
  store: Store;
  log: Logger;
  /** The bound port of every listener that is on. */
  ports: Partial<Record<DialectName, number>>;
  listeners: DialectListener[];
  /** The web app and its WebSocket, unless --web-port is off. */
  web: WebDoor | null;
  metrics: MessagingMetrics;
  /** With the embedded store: the operator's commands, also served on the admin socket. */
  admin: AdminService | null;
  /** With --retain-days: the removal of old acknowledged messages. */
  retention: RetentionSchedule | null;
  close(): Promise<void>;
}

const RETENTION_INTERVAL_MS = 60_000;
const LAST_SEEN_INTERVAL_MS = 60_000;

export interface ServerParts {
  log?: Logger;
  store?: Store;
  bus?: Bus;
}

function tlsFiles(config: ServerConfig): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  return { cert: fs.readFileSync(config.tlsCert), key: fs.readFileSync(config.tlsKey) };
}

export async function startServer(config: ServerConfig, parts: ServerParts = {}): Promise<RunningServer> {
  const base = parts.log ?? createLogger(config.logLevel, config.logFormat);
  // In a cluster every line says which node wrote it; a lone server's lines stay as they are.
  const logDir = logStoreDir(config);
  const clustered = (config.store !== null && logDir === null) || config.bus !== null;
  const log = clustered ? base.child({ node: config.nodeId }) : base;
  const listeners: DialectListener[] = [];
  /** Each listener's name in `ports`, for the metrics and health checks. */
  const keys = new Map<DialectListener, DialectName>();
  let sqlite: SqliteStore | null = parts.store instanceof SqliteStore ? parts.store : null;
  const metrics = new MessagingMetrics({
    connections: () => [
      ...listeners.map((listener) => ({ dialect: keys.get(listener)!, count: listener.connectionCount })),
      ...(web ? [{ dialect: 'web', count: web.connectionCount }] : []),
    ],
    inboxBacklog: () => (sqlite ? inboxBacklog(sqlite.database) : null),
  });
  const embedded = parts.store === undefined && config.store === null && config.data !== ':memory:';
  // One server per data directory: a second one would route live messages only to its own sessions.
  const lockDir = parts.store === undefined ? (logDir ?? (embedded ? config.data : null)) : null;
  const lock = lockDir === null ? null : DataLock.acquire(lockDir);
  let store: Store;
  let bus: Bus;
  try {
    store = parts.store ?? (await openStore(config, log, metrics));
  } catch (error) {
    lock?.release();
    throw error;
  }
  try {
    bus = parts.bus ?? (await openBus(config, log));
  } catch (error) {
    await store.close();
    lock?.release();
    throw error;
  }
  if (store instanceof SqliteStore) sqlite = store;
  const activity = new ActivityLog(log);
  let admin: AdminService | null = null;
  const hub = new Hub({
    store,
    bus,
    maxGroupSize: config.maxGroupSize,
    limits: {
      messages: { burst: config.messageBurst, perSecond: config.messageRate },
      registrations: { burst: config.registerBurst, perSecond: config.registerRate },
      signIns: { burst: config.signInBurst, perSecond: config.signInRate },
    },
    // A node unheard for 3 beats is dropped: its p2p entries expire by the keepalive rule.
    ...(config.bus !== null && { cluster: { node: config.nodeId, heartbeatMs: config.p2pKeepalive / 3 } }),
    observer: {
      accepted: (dialect, duplicate) => metrics.accepted(dialect, duplicate),
      delivered: (dialect) => metrics.delivered(dialect),
      receipts: (count) => metrics.receipts(count),
      signIn: (event) => {
        metrics.signIn(event);
        activity.signIn(event);
        if (event.account) admin?.noteSignIn(event.account.id, Date.now());
      },
      failed: (dialect, code, key) => {
        metrics.failed(dialect, code);
        activity.failed(dialect, code, key);
      },
    },
  });
  const limits = new ConnectionLimits(config, log);
  const started: Dialect[] = [];
  const ports: RunningServer['ports'] = {};
  const stopDialects = () => Promise.all(started.map((dialect) => dialect.stop?.()));
  let monitor: Awaited<ReturnType<typeof serveMonitor>> | null = null;
  let web: WebDoor | null = null;
  let adminSocket: Awaited<ReturnType<typeof serveAdmin>> | null = null;
  let retention: RetentionSchedule | null = null;
  let lastSeenTimer: NodeJS.Timeout | null = null;
  try {
    if (sqlite) {
      admin = new AdminService(sqlite, hub);
      if (config.retainDays > 0) {
        // The one-time VACUUM it may need runs now, before any client can wait on it.
        prepareForRetention(sqlite.database);
        retention = new RetentionSchedule(sqlite, config.retainDays, (pass, error) => {
          if (error) log.error({ err: error }, 'retention pass failed');
          else if (pass && pass.inboxItems + pass.messages > 0)
            log.info(pass, 'retention: old acknowledged messages removed');
        });
      }
    }
    for (const entry of DIALECTS) {
      const wanted = entry.port(config);
      if (wanted === null) continue;
      const dialect = entry.create();
      const key = entry.key ?? (dialect.name as DialectName);
      const context = { hub: hub.forDialect(key), config, log };
      if (!started.includes(dialect)) {
        await dialect.start?.(context);
        started.push(dialect);
      }
      const listener = new DialectListener(
        dialect,
        context,
        limits,
        entry.tls ? tlsFiles(config) : undefined,
      );
      const bound = await listener.listen(wanted, config.host);
      listeners.push(listener);
      keys.set(listener, key);
      ports[key] = bound;
      log.info({ dialect: key, port: bound, host: config.host }, 'listening');
    }
    if (config.webPort !== null) {
      const secure = tlsFiles(config);
      web = new WebDoor({ hub: hub.forDialect('web'), config, log }, limits, secure);
      ports.web = await web.listen(config.webPort, config.host);
      log.info(
        { dialect: 'web', port: ports.web, host: config.host, tls: secure !== undefined },
        'listening',
      );
    }
    if (config.metricsPort !== null) {
      const liveness: HealthCheck[] = listeners.map((listener) => ({
        type: 'listener',
        name: `${keys.get(listener)} listener`,
        check: async () => (listener.isListening ? null : 'not listening'),
      }));
      if (web) {
        const door = web;
        liveness.push({
          type: 'listener',
          name: 'web listener',
          check: async () => (door.isListening ? null : 'not listening'),
        });
      }
      const storeCheck: HealthCheck = {
        type: 'store',
        name: 'store',
        check: async () => {
          await store.idExists(1);
          return null;
        },
      };
      const busCheck: HealthCheck = {
        type: 'bus',
        name: 'bus',
        check: async () => (bus instanceof NatsBus && !bus.isConnected ? 'NATS unreachable' : null),
      };
      monitor = await serveMonitor(
        { registry: metrics.registry, liveness, readiness: [...liveness, storeCheck, busCheck], log },
        config.metricsPort,
        config.host,
      );
      ports.metrics = monitor.boundPort;
      log.info({ dialect: 'metrics', port: monitor.boundPort, host: config.host }, 'listening');
    }
    if (admin && embedded) {
      adminSocket = await serveAdmin(admin, config.data, log);
      const save = admin;
      lastSeenTimer = setInterval(() => void save.saveLastSeen().catch(() => {}), LAST_SEEN_INTERVAL_MS);
      lastSeenTimer.unref();
    }
    retention?.start(RETENTION_INTERVAL_MS);
    startUpSummary(log, config, ports, store);
  } catch (error) {
    await Promise.all([...listeners.map((listener) => listener.close()), web?.close()]);
    await new Promise((resolve) => (monitor ? monitor.close(resolve) : resolve(undefined)));
    adminSocket?.close();
    await stopDialects();
    hub.close();
    await bus.close();
    await store.close();
    lock?.release();
    throw error;
  }

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down: no new connections, flushing the store');
      if (lastSeenTimer) clearInterval(lastSeenTimer);
      await retention?.stop();
      await new Promise((resolve) => (adminSocket ? adminSocket.close(resolve) : resolve(undefined)));
      await Promise.all([...listeners.map((listener) => listener.close()), web?.close()]);
      await new Promise((resolve) => (monitor ? monitor.close(resolve) : resolve(undefined)));
      await stopDialects();
      hub.close();
      await bus.close();
      await admin?.saveLastSeen().catch(() => {});
      await store.close();
      lock?.release();
      log.info('stopped');
    })();
    return closing;
  };
  return { hub, store, log, ports, listeners, web, metrics, admin, retention, close };
}

async function openStore(config: ServerConfig, log: Logger, metrics: MessagingMetrics): Promise<Store> {
  const logDir = logStoreDir(config);
  if (logDir !== null) {
    const store = new LogStore({ dataDir: logDir });
    log.info({ store: 'log', dir: path.resolve(logDir), ...store.recovery }, 'store open');
    return store;
  }
  if (config.store === null) {
    return new SqliteStore({
      dataDir: config.data,
      synchronous: config.sync,
      inboxTailBytes: config.inboxTailMib * 1024 * 1024,
      onWarning: (message) => log.warn({ store: 'sqlite' }, message),
      commitObserver: metrics,
    });
  }
  const store = await PostgresStore.open({
    url: config.store,
    applicationName: config.nodeId,
    onWarning: (message) => log.warn({ store: 'postgres' }, message),
  });
  log.info({ store: 'postgres', schema: store.schema }, 'store open');
  return store;
}

async function openBus(config: ServerConfig, log: Logger): Promise<Bus> {
  if (config.bus === null) return new LocalBus();
  const bus = await NatsBus.connect({
    url: config.bus,
    prefix: config.busPrefix,
    name: config.nodeId,
    onEvent: (event, detail) => log.warn({ bus: 'nats', event, detail }, `bus: ${event}`),
    onFatal: (error) => {
      // Without routing this node would serve stale inboxes; better to stop and be restarted.
      log.fatal({ bus: 'nats', err: error }, 'bus closed for good; exiting');
      log.flush();
      process.exit(1);
    },
  });
  log.info({ bus: 'nats', prefix: config.busPrefix }, 'bus connected');
  return bus;
}

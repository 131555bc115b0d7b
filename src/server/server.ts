import fs from 'node:fs';
import type { Logger } from 'pino';
import { Hub } from '../core/hub.js';
import type { Bus, Store } from '../core/ports.js';
import { LocalBus } from '../bus/local/local-bus.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { NatsBus } from '../bus/nats/nats-bus.js';
import { nativeDialect } from '../dialects/native/dialect.js';
import { zapDialect } from '../dialects/zap/session.js';
import { createMmDialect } from '../dialects/mm/session.js';
import { lobbyDialect } from '../dialects/lobby/session.js';
import { p2pDialect } from '../dialects/p2p/session.js';
import { createMetrics, serveMetrics } from './metrics.js';
import type { PortSetting, ServerConfig } from './config.js';
import type { Dialect } from './dialect.js';
import { ConnectionLimits, DialectListener } from './listener.js';
import { createLogger } from './logger.js';

export type DialectName = 'native' | 'tls' | 'mm' | 'zap' | 'p2p' | 'lobby' | 'metrics';

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
  close(): Promise<void>;
}

export interface ServerParts {
  log?: Logger;
  store?: Store;
  bus?: Bus;
}

export async function startServer(config: ServerConfig, parts: ServerParts = {}): Promise<RunningServer> {
  const log = (parts.log ?? createLogger(config.logLevel)).child({ node: config.nodeId });
  const store = parts.store ?? (await openStore(config, log));
  let bus: Bus;
  try {
    bus = parts.bus ?? (await openBus(config, log));
  } catch (error) {
    await store.close();
    throw error;
  }
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
  });
  const limits = new ConnectionLimits(config);
  const context = { hub, config, log };
  const listeners: DialectListener[] = [];
  const started: Dialect[] = [];
  const ports: RunningServer['ports'] = {};
  const stopDialects = () => Promise.all(started.map((dialect) => dialect.stop?.()));
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  try {
    for (const entry of DIALECTS) {
      const wanted = entry.port(config);
      if (wanted === null) continue;
      const dialect = entry.create();
      if (!started.includes(dialect)) {
        await dialect.start?.(context);
        started.push(dialect);
      }
      const secure = entry.tls
        ? { cert: fs.readFileSync(config.tlsCert!), key: fs.readFileSync(config.tlsKey!) }
        : undefined;
      const listener = new DialectListener(dialect, context, limits, secure);
      const bound = await listener.listen(wanted, config.host);
      listeners.push(listener);
      const key = entry.key ?? (dialect.name as DialectName);
      ports[key] = bound;
      log.info({ dialect: key, port: bound, host: config.host }, 'listening');
    }
    if (config.metricsPort !== null) {
      metricsServer = await serveMetrics(
        createMetrics(() => listeners),
        config.metricsPort,
        config.host,
      );
      ports.metrics = metricsServer.boundPort;
      log.info({ dialect: 'metrics', port: metricsServer.boundPort, host: config.host }, 'listening');
    }
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close()));
    await stopDialects();
    hub.close();
    await bus.close();
    await store.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down: no new connections, flushing the store');
      await Promise.all(listeners.map((listener) => listener.close()));
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await stopDialects();
      hub.close();
      await bus.close();
      await store.close();
      log.info('stopped');
    })();
    return closing;
  };
  return { hub, store, log, ports, listeners, close };
}

async function openStore(config: ServerConfig, log: Logger): Promise<Store> {
  if (config.store === null) {
    return new SqliteStore({
      dataDir: config.data,
      synchronous: config.sync,
      inboxTailBytes: config.inboxTailMib * 1024 * 1024,
      onWarning: (message) => log.warn({ store: 'sqlite' }, message),
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

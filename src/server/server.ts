import fs from 'node:fs';
import type { Logger } from 'pino';
import { Hub } from '../core/hub.js';
import type { Bus, Store } from '../core/ports.js';
import { LocalBus } from '../bus/local-bus.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
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
  web: WebDoor | null;
  close(): Promise<void>;
}

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
  const log = parts.log ?? createLogger(config.logLevel);
  const store =
    parts.store ??
    new SqliteStore({
      dataDir: config.data,
      synchronous: config.sync,
      inboxTailBytes: config.inboxTailMib * 1024 * 1024,
      onWarning: (message) => log.warn({ store: 'sqlite' }, message),
    });
  const bus = parts.bus ?? new LocalBus();
  const hub = new Hub({
    store,
    bus,
    maxGroupSize: config.maxGroupSize,
    limits: {
      messages: { burst: config.messageBurst, perSecond: config.messageRate },
      registrations: { burst: config.registerBurst, perSecond: config.registerRate },
      signIns: { burst: config.signInBurst, perSecond: config.signInRate },
    },
  });
  const limits = new ConnectionLimits(config, log);
  const context = { hub, config, log };
  const listeners: DialectListener[] = [];
  const started: Dialect[] = [];
  const ports: RunningServer['ports'] = {};
  const stopDialects = () => Promise.all(started.map((dialect) => dialect.stop?.()));
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  let web: WebDoor | null = null;
  try {
    for (const entry of DIALECTS) {
      const wanted = entry.port(config);
      if (wanted === null) continue;
      const dialect = entry.create();
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
      const key = entry.key ?? (dialect.name as DialectName);
      ports[key] = bound;
      log.info({ dialect: key, port: bound, host: config.host }, 'listening');
    }
    if (config.webPort !== null) {
      const secure = tlsFiles(config);
      web = new WebDoor(context, limits, secure);
      ports.web = await web.listen(config.webPort, config.host);
      log.info(
        { dialect: 'web', port: ports.web, host: config.host, tls: secure !== undefined },
        'listening',
      );
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
    await Promise.all([...listeners.map((listener) => listener.close()), web?.close()]);
    await stopDialects();
    await store.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down: no new connections, flushing the store');
      await Promise.all([...listeners.map((listener) => listener.close()), web?.close()]);
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await stopDialects();
      await bus.close();
      await store.close();
      log.info('stopped');
    })();
    return closing;
  };
  return { hub, store, log, ports, listeners, web, close };
}

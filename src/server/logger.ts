import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { ErrorCode } from '../core/errors.js';
import type { HubObserver, SignInEvent, Store } from '../core/ports.js';
import type { ServerConfig } from './config.js';

export type { Logger };

/** `auto` is readable lines on a terminal and JSON everywhere else (a pipe, a file, journald). */
export type LogFormat = 'auto' | 'pretty' | 'json';

/** Fields every line carries that a person reading a terminal does not need. */
const PRETTY_IGNORED = 'pid,hostname,service';

export function createLogger(
  level: string,
  format: LogFormat = 'auto',
  destination: NodeJS.WritableStream = process.stdout,
): Logger {
  const options = { level, base: { service: 'mensageiro' } };
  const readable =
    format === 'pretty' || (format === 'auto' && (destination as { isTTY?: boolean }).isTTY === true);
  if (!readable) return destination === process.stdout ? pino(options) : pino(options, destination);
  // In-process and synchronous rather than a worker transport: the last lines before an exit
  // are written, and a worker thread is not worth it at the rate a server logs at info.
  return pino(
    options,
    pretty({
      destination,
      sync: true,
      colorize: (destination as { isTTY?: boolean }).isTTY === true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: PRETTY_IGNORED,
      singleLine: true,
    }),
  );
}

const MINUTE_MS = 60_000;
/** Past this many keys the oldest are dropped, so a flood of addresses cannot grow the map. */
const MAX_KEYS = 10_000;

/** Says whether a line about `key` may be logged now: once a minute per key. */
export class OncePerMinute {
  private readonly last = new Map<string | number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  allow(key: string | number): boolean {
    const now = this.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < MINUTE_MS) return false;
    if (this.last.size >= MAX_KEYS) {
      for (const [old, at] of this.last) if (now - at >= MINUTE_MS) this.last.delete(old);
      if (this.last.size >= MAX_KEYS) this.last.clear();
    }
    this.last.delete(key);
    this.last.set(key, now);
    return true;
  }
}

/** The hub's sign-ins, registrations and rate limits as log lines. Never a secret or a token. */
export class ActivityLog implements Pick<HubObserver, 'signIn' | 'failed'> {
  private readonly rateLimited = new OncePerMinute();

  constructor(private readonly log: Logger) {}

  signIn(event: SignInEvent): void {
    const { dialect, kind, ip } = event;
    if (event.account !== null) {
      const { id, username } = event.account;
      this.log.info({ dialect, ip, id, username }, kind === 'registration' ? 'registered' : 'signed in');
    } else if (event.error!.code !== 'rate_limited') {
      const { code, message } = event.error!;
      this.log.info({ dialect, ip, code, reason: message }, `${kind} refused`);
    }
  }

  failed(dialect: string, code: ErrorCode, key: string | number | null): void {
    if (code !== 'rate_limited' || key === null || !this.rateLimited.allow(key)) return;
    this.log.warn({ dialect, key }, 'rate limited (logged once a minute per address or account)');
  }
}

function packageVersion(): string {
  try {
    const file = path.resolve(import.meta.dirname, '../../package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const EVERY_INTERFACE = new Set(['0.0.0.0', '::', '']);

/** One line that says what this server is and where it listens, and a warning if that is everywhere. */
export function startUpSummary(
  log: Logger,
  config: ServerConfig,
  ports: Record<string, number | undefined>,
  store: Store,
): void {
  const listening = Object.fromEntries(
    Object.entries(ports).map(([dialect, port]) => [dialect, `${config.host}:${port}`]),
  );
  const where =
    store.constructor.name === 'SqliteStore'
      ? { data: path.resolve(config.data) }
      : { store: store.constructor.name };
  log.info(
    {
      version: packageVersion(),
      ...where,
      listening,
      tls: ports.tls !== undefined ? 'on' : 'off',
      sync: config.sync,
      retainDays: config.retainDays === 0 ? 'keep everything' : config.retainDays,
    },
    `mensageiro ${packageVersion()} started`,
  );
  if (EVERY_INTERFACE.has(config.host)) {
    log.warn(
      { host: config.host },
      'listening on every network interface: anyone who can reach this machine can connect (--host 127.0.0.1 keeps it local)',
    );
  }
}

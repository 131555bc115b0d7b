import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

/** One dependency a health answer looks at; `check` resolves to null when it is fine, or why not. */
export interface HealthCheck {
  type: 'listener' | 'store' | 'bus';
  name: string;
  check(): Promise<string | null>;
}

export interface MonitorOptions {
  registry: Registry;
  /** /healthz: is the process serving (its listeners are open). */
  liveness: HealthCheck[];
  /** /readyz: can it do its work (the liveness checks, and the store answers). */
  readiness: HealthCheck[];
  log: Logger;
}

const CHECK_TIMEOUT_MS = 2000;

async function run(check: HealthCheck): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer in ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check.check(), timeout]);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs every check, then decides the status once from whether any failed: 200 {"status":"ok"}
 * or 503 with the first error; `?details=true` lists every check with its outcome.
 */
async function answer(
  checks: HealthCheck[],
  details: boolean,
  log: Logger,
): Promise<{ status: number; body: unknown }> {
  const results = await Promise.all(
    checks.map(async (check) => ({ type: check.type, name: check.name, error: await run(check) })),
  );
  const failed = results.filter((result) => result.error !== null);
  for (const failure of failed)
    log.warn({ check: failure.name, reason: failure.error }, 'health check failed');
  const status = failed.length === 0 ? 200 : 503;
  if (details) {
    return {
      status,
      body: {
        status: failed.length === 0 ? 'ok' : 'unavailable',
        checks: results.map(({ type, name, error }) =>
          error === null ? { type, name, ok: true } : { type, name, ok: false, error },
        ),
      },
    };
  }
  if (failed.length === 0) return { status, body: { status: 'ok' } };
  return { status, body: { status: 'unavailable', error: `${failed[0]!.name}: ${failed[0]!.error}` } };
}

/** The metrics port: GET /metrics (Prometheus text), /healthz and /readyz (JSON). */
export async function serveMonitor(
  options: MonitorOptions,
  port: number,
  host: string,
): Promise<http.Server & { boundPort: number }> {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://monitor');
    const details = url.searchParams.get('details') === 'true';
    const checks =
      url.pathname === '/healthz' ? options.liveness : url.pathname === '/readyz' ? options.readiness : null;
    if (checks !== null) {
      void answer(checks, details, options.log).then(({ status, body }) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`),
      );
      return;
    }
    if (url.pathname !== '/metrics') {
      response.writeHead(404).end('try /metrics, /healthz or /readyz\n');
      return;
    }
    options.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return Object.assign(server, { boundPort: (server.address() as { port: number }).port });
}

import http from 'node:http';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DialectListener } from './listener.js';

/** Prometheus metrics, read from the live listeners at scrape time (no bookkeeping on the hot path). */
export function createMetrics(listeners: () => DialectListener[]): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mensageiro_' });
  new Gauge({
    name: 'mensageiro_connections',
    help: 'Open client connections, per dialect',
    labelNames: ['dialect'],
    registers: [registry],
    collect() {
      this.reset();
      for (const listener of listeners())
        this.set({ dialect: listener.dialect.name }, listener.connectionCount);
    },
  });
  new Gauge({
    name: 'mensageiro_lobby_connections',
    help: 'Active connections on the seed-004 lobby port',
    registers: [registry],
    collect() {
      this.set(listeners().find((listener) => listener.dialect.name === 'lobby')?.connectionCount ?? 0);
    },
  });
  return registry;
}

/** Serves GET /metrics in the Prometheus text format. */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host: string,
): Promise<http.Server & { boundPort: number }> {
  const server = http.createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end('try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return Object.assign(server, { boundPort: (server.address() as { port: number }).port });
}

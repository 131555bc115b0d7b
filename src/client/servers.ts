import { MensageiroError } from '../core/errors.js';

export interface ServerAddress {
  host: string;
  port: number;
}

/** `host:port` as shown to people. */
export function serverLabel(server: ServerAddress): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/**
 * `a:7333,b:7333` (or one address) into a list. A missing host is `defaultHost`, a missing port
 * `defaultPort`; `[::1]:7333` is accepted for IPv6.
 */
export function parseServers(list: string, defaultPort: number, defaultHost = '127.0.0.1'): ServerAddress[] {
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new MensageiroError('bad_request', 'no server given');
  return entries.map((entry) => {
    const match = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d*))?$/.exec(entry);
    if (!match) throw new MensageiroError('bad_request', `bad server address ${entry}; write host:port`);
    const host = match[1] ?? (match[2] || defaultHost);
    const port = match[3] === undefined ? defaultPort : Number(match[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new MensageiroError('bad_request', `bad port in ${entry}; a port is 1 to 65535`);
    return { host, port };
  });
}

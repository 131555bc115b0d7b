import crypto from 'node:crypto';
import pg from 'pg';
import { NatsServerProcess } from './nats-server.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import { tempDir } from './server.js';
import { POSTGRES_URL, testSchema } from './services.js';

export interface TestCluster {
  nats: NatsServerProcess;
  /** The --store URL every node uses (its schema is this cluster's own). */
  storeUrl: string;
  prefix: string;
  nodes: ServerProcess[];
  /** Starts node `i` again (after a kill) with the same arguments. */
  restart(i: number): Promise<ServerProcess>;
  close(): Promise<void>;
}

/**
 * `count` real node processes (the built CLI) on port 0, sharing a private nats-server, one
 * PostgreSQL schema of their own and one bus prefix. `storeUrl` may point at a fault proxy.
 */
export async function startCluster(
  file: string,
  count: number,
  options: { args?: string[]; storeUrl?: (schemaUrl: string) => string } = {},
): Promise<TestCluster> {
  const nats = await NatsServerProcess.start();
  const schema = testSchema(file);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  const storeUrl = options.storeUrl ? options.storeUrl(url.toString()) : url.toString();
  const prefix = `c${crypto.randomBytes(4).toString('hex')}`;
  const argsFor = (i: number) => [
    '--store',
    storeUrl,
    '--bus',
    nats.url,
    '--bus-prefix',
    prefix,
    '--node-id',
    `node${i}`,
    ...(options.args ?? []),
  ];
  const dirs = Array.from({ length: count }, () => tempDir('mensageiro-node-'));
  const start = (i: number) => spawnServer(dirs[i]!, argsFor(i), ['native', 'p2p', 'lobby']);
  // One first, so the others find the schema made rather than all racing to make it.
  const nodes = [await start(0)];
  nodes.push(...(await Promise.all(dirs.slice(1).map((_, i) => start(i + 1)))));
  return {
    nats,
    storeUrl,
    prefix,
    nodes,
    async restart(i) {
      nodes[i] = await start(i);
      return nodes[i]!;
    },
    async close() {
      await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
      await nats.stop();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

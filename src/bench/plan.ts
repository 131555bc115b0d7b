import type { ClusterWorkload } from './cluster-bench.js';
import type { StoreBenchSpec } from './store-bench.js';

/** What a bench run measures: the full plan, and the quick one CI runs for counts only. */

export interface Plan {
  live: Array<{ name: string; clients: number; window: number; groupSize?: number }>;
  warmupMs: number;
  measureMs: number;
  drainMessages: number;
  idle: number[];
  /** How long W3 holds the connections idle before the measurement it reports. */
  idleSettleMs: number;
  /** Mensageiro's store alone (store-bench.ts), no peer to compare with. */
  store: StoreBenchSpec[];
  /** Mensageiro on PostgreSQL, one node or several over NATS (cluster-bench.ts). */
  cluster: ClusterWorkload[];
  /** The web app: conversations in the list whose time to show is measured in Chromium; 0 for none. */
  webConversations: number;
}

export const FULL: Plan = {
  live: [
    { name: 'W1 C=100', clients: 100, window: 16 },
    { name: 'W1 C=1000', clients: 1000, window: 16 },
    { name: 'W1 C=100 window 1', clients: 100, window: 1 },
    { name: 'W4 groups of 8, C=200', clients: 200, window: 16, groupSize: 8 },
  ],
  warmupMs: 2000,
  measureMs: 10_000,
  drainMessages: 100_000,
  idle: [10_000, 19_500],
  idleSettleMs: 20_000,
  store: [
    { users: 100, messages: 200_000, batch: 800 },
    { users: 100, messages: 200_000, batch: 800, inMemory: true },
    { users: 1000, messages: 200_000, batch: 9000 },
    { users: 100, messages: 200_000, batch: 800, log: true },
    { users: 1000, messages: 200_000, batch: 9000, log: true },
  ],
  cluster: [1, 2, 3].flatMap((nodes) =>
    [100, 1000].map((clients) => ({
      name: `C W1 C=${clients}, ${nodes} node${nodes > 1 ? 's' : ''} on PostgreSQL${nodes > 1 ? ' + NATS' : ''}`,
      nodes,
      clients,
      window: 16,
    })),
  ),
  webConversations: 1000,
};

export const QUICK: Plan = {
  live: [
    { name: 'W1 C=20', clients: 20, window: 16 },
    { name: 'W1 C=50', clients: 50, window: 16 },
    { name: 'W1 C=20 window 1', clients: 20, window: 1 },
    { name: 'W4 groups of 8, C=32', clients: 32, window: 4, groupSize: 8 },
  ],
  warmupMs: 300,
  measureMs: 1200,
  drainMessages: 2000,
  idle: [300],
  idleSettleMs: 0,
  store: [{ users: 20, messages: 2000, batch: 100 }],
  cluster: [{ name: 'C W1 C=20, 2 nodes on PostgreSQL + NATS', nodes: 2, clients: 20, window: 4 }],
  webConversations: 20,
};

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../src/conform/cases/index.js';
import { runCases } from '../src/conform/runner.js';
import type { CaseResult, DialectName } from '../src/conform/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const EXAMPLE_USERS = path.resolve(import.meta.dirname, '../examples/users.csv');
const KEEP_EXPIRY_MS = 600;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ users: EXAMPLE_USERS, p2pKeepalive: KEEP_EXPIRY_MS });
});
afterAll(() => server.close());

async function grade(dialect: DialectName, port: number): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const options = {
    host: '127.0.0.1',
    port,
    timeoutMs: 3000,
    users: ['alice', 'bob'],
    keepExpiryMs: KEEP_EXPIRY_MS,
  };
  for await (const event of runCases(dialect, CASES[dialect], options, {
    only: [],
    quick: false,
    extended: true,
  })) {
    if (event.type === 'result') results.push(event.result);
  }
  return results;
}

describe('every case passes against our own server', () => {
  for (const dialect of ['zap', 'mm', 'p2p', 'lobby', 'native'] as const) {
    it(dialect, async () => {
      const results = await grade(dialect, server.ports[dialect]!);
      const failed = results.filter((r) => r.outcome !== 'passed');
      expect(failed.map((r) => `${r.id}: ${r.message}\n${r.expected}\n${r.actual}\n${r.transcript}`)).toEqual(
        [],
      );
      expect(results.length).toBe(CASES[dialect].length);
    });
  }
});

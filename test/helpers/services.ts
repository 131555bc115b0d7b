import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';

/** The test database: PostgreSQL on loopback, trust auth, database `test`. */
export const POSTGRES_URL = process.env.MENSAGEIRO_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_SERVER = process.env.MENSAGEIRO_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

function reachable(port: number): boolean {
  // Synchronous, so that describe.skipIf can use it at collection time.
  const script = `const s=require('net').connect(${port},'127.0.0.1');s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000)`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a service a test file needs is here. Absent, the file's tests are skipped with a
 * loud warning, or fail when MENSAGEIRO_REQUIRE_SERVICES=1 (as in CI).
 */
export function service(name: 'postgres' | 'nats-server'): boolean {
  const present = name === 'postgres' ? reachable(5432) : fs.existsSync(NATS_SERVER);
  return presentOrSkip(
    present,
    name === 'postgres' ? 'PostgreSQL on 127.0.0.1:5432' : `nats-server at ${NATS_SERVER}`,
  );
}

/** `present`, or a loud warning and false, or a failure under MENSAGEIRO_REQUIRE_SERVICES=1. */
export function presentOrSkip(present: boolean, what: string): boolean {
  if (present) return true;
  if (process.env.MENSAGEIRO_REQUIRE_SERVICES === '1') {
    throw new Error(`${what} is required (MENSAGEIRO_REQUIRE_SERVICES=1) but absent`);
  }
  console.warn(`\n*** SKIPPING: ${what} is absent; these tests did not run ***\n`);
  return false;
}

/** A schema name of its own for a test file, so files can share the database in parallel. */
export function testSchema(file: string): string {
  const base = path.basename(file).replace(/\W+/g, '_').toLowerCase().slice(0, 30);
  return `t_${base}_${crypto.randomBytes(4).toString('hex')}`;
}

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/server-process.js';
import { tempDir } from './helpers/server.js';

/** `mensageiro server` with these flags, expected to refuse to start. */
function refused(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(
    process.execPath,
    [
      CLI,
      'server',
      '--host',
      '127.0.0.1',
      '--data',
      tempDir(),
      '--native-port',
      '0',
      '--web-port',
      'off',
      ...args,
    ],
    { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } },
  );
  return { code: run.status, stderr: run.stderr };
}

describe('cluster settings', () => {
  it('refuses a NATS bus over the embedded SQLite store, from a flag or the environment', () => {
    const flag = refused(['--bus', 'nats://127.0.0.1:4222']);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toContain('--store postgres://');
    const env = refused([], { MENSAGEIRO_BUS: 'nats://127.0.0.1:4222' });
    expect(env.code).not.toBe(0);
    expect(env.stderr).toContain('--store postgres://');
  });

  it('refuses a store or bus URL of another kind', () => {
    expect(refused(['--store', 'mysql://127.0.0.1/x']).stderr).toContain('postgres:// URL');
    expect(refused(['--store', 'postgres://127.0.0.1/x', '--bus', 'redis://127.0.0.1']).stderr).toContain(
      'nats:// URLs',
    );
  });

  it('refuses the log store with a bus, which it cannot share, or with retention, which it lacks', () => {
    const bus = refused(['--store', 'log:', '--bus', 'nats://127.0.0.1:4222']);
    expect(bus.code).not.toBe(0);
    expect(bus.stderr).toContain('the log store belongs to one process');
    const retention = refused(['--retain-days', '7'], { MENSAGEIRO_STORE: 'log:' });
    expect(retention.code).not.toBe(0);
    expect(retention.stderr).toContain('--retain-days');
  });
});

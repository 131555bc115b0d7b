import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient } from './helpers/native-client.js';
import { CLI, spawnServer, type ServerProcess } from './helpers/server-process.js';
import { tempDir } from './helpers/server.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill();
});

const SERVER_ARGS = ['--host', '127.0.0.1', '--native-port', '0', '--mm-port', 'off', '--zap-port', 'off'];
const OFF = ['--p2p-port', 'off', '--lobby-port', 'off', '--metrics-port', 'off', '--web-port', 'off'];

async function registers(port: number): Promise<boolean> {
  const client = await NativeTestClient.connect(port);
  try {
    return (await client.register()).type === 'welcome';
  } finally {
    client.close();
  }
}

describe('one server per data directory', () => {
  it('a second server on the same directory exits 1 naming the first; the first keeps serving', async () => {
    const dataDir = tempDir();
    const first = await spawnServer(dataDir);
    servers.push(first);
    const second = spawnSync(process.execPath, [CLI, 'server', '--data', dataDir, ...SERVER_ARGS, ...OFF], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`is in use by another mensageiro server (pid ${first.child.pid}`);
    expect(await registers(first.ports.native!)).toBe(true);
    expect(first.child.exitCode).toBeNull();
  });

  it('takes over a lock whose process is gone', async () => {
    const dataDir = tempDir();
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    const stale = { pid: gone.pid, host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z' };
    fs.writeFileSync(path.join(dataDir, 'mensageiro.lock'), JSON.stringify(stale));
    const server = await spawnServer(dataDir);
    servers.push(server);
    expect(await registers(server.ports.native!)).toBe(true);
    const lock = JSON.parse(fs.readFileSync(path.join(dataDir, 'mensageiro.lock'), 'utf8')) as {
      pid: number;
    };
    expect(lock.pid).toBe(server.child.pid);
    await server.kill();
    expect(fs.existsSync(path.join(dataDir, 'mensageiro.lock'))).toBe(false);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineTestClient } from './helpers/line-client.js';
import { NativeTestClient } from './helpers/native-client.js';
import { tempDir } from './helpers/server.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(dir: string, args: string[] = []): Promise<ServerProcess> {
  const server = await spawnServer(dir, args, ['native', 'mm']);
  cleanups.push(() => server.kill());
  return server;
}

describe('a big users.csv', () => {
  it('opens every port first, loads the users in one go, and skips those that exist', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    const first = await start(data);
    const owner = await NativeTestClient.connect(first.ports.native!);
    cleanups.push(() => owner.close());
    await owner.register({ username: 'guarded', secret: 'pw' });
    await first.kill();

    const csv = path.join(dir, 'users.csv');
    const logins = Array.from({ length: 20_000 }, (_, n) => `aluno_${n}`);
    fs.writeFileSync(csv, ['login', 'guarded', ...logins].join('\n') + '\n');
    const server = await start(data, ['--users', csv]);
    const owner2 = await NativeTestClient.connect(server.ports.native!);
    cleanups.push(() => owner2.close());
    const loaded = await owner2.raw.until(
      () => server.logs.find((l) => l.msg === 'users loaded'),
      'users loaded',
      60_000,
    );
    expect(loaded).toMatchObject({ users: 20_001, created: 20_000, skipped: 0 });
    const order = (line: (l: Record<string, unknown>) => boolean) => server.logs.findIndex(line);
    const mmListening = order((l) => l.msg === 'listening' && l.dialect === 'mm');
    const lobbyListening = order((l) => l.msg === 'listening' && l.dialect === 'lobby');
    expect(mmListening).toBeGreaterThanOrEqual(0);
    expect(lobbyListening).toBeLessThan(order((l) => l.msg === 'users loaded'));

    const last = await LineTestClient.connect(server.ports.mm!);
    cleanups.push(() => last.close());
    await last.write(`${logins.at(-1)}\n`);
    expect(await last.waitLine(() => true, 'login reply')).toBe('f');
    const guarded = await LineTestClient.connect(server.ports.mm!);
    cleanups.push(() => guarded.close());
    await guarded.write('guarded\n');
    expect(await guarded.waitLine(() => true, 'refusal')).toBe(
      '@mensageiro guarded signs in with a secret; use the native client',
    );
  }, 90_000);
});

import type { Command } from 'commander';
import { MensageiroError } from '../core/errors.js';
import { ADMIN_COMMANDS, AdminService, type AdminRequest } from '../server/admin-service.js';
import { askAdmin } from '../server/admin-socket.js';
import { DEFAULTS } from '../server/config.js';
import { DataLock, lockHolder } from '../server/data-lock.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/** On a running server through its admin socket; on a stopped one, on its files, under its lock. */
async function runAdmin(dataDir: string, request: AdminRequest): Promise<unknown> {
  if (lockHolder(dataDir) !== null) {
    const reply = await askAdmin(dataDir, request).catch((error: Error) => {
      throw new MensageiroError(
        'bad_request',
        `the server holds ${dataDir} but its admin socket does not answer: ${error.message}`,
      );
    });
    if (!reply.ok) throw new MensageiroError('bad_request', reply.error);
    return reply.result;
  }
  const lock = DataLock.acquire(dataDir);
  const store = new SqliteStore({ dataDir, inboxTailBytes: 0 });
  try {
    return await new AdminService(store, null).run(request);
  } finally {
    await store.close();
    lock.release();
  }
}

const time = (ms: number | null) =>
  ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** Tables for a person; --json gives the result as it came. */
function print(command: string, result: unknown): void {
  if (command === 'users') {
    const users = result as Array<Record<string, unknown>>;
    console.log('id\tusername\tlast seen\tdevices\tbacklog\tstate');
    for (const u of users) {
      const state = u.suspended ? 'suspended' : u.online ? 'online' : '';
      console.log(
        [u.id, u.username ?? '-', time(u.lastSeen as number | null), u.devices, u.backlog, state].join('\t'),
      );
    }
    return;
  }
  if (command === 'groups') {
    console.log('id\tname\tcreator\tmembers');
    for (const g of result as Array<Record<string, unknown>>) {
      console.log([g.id, g.name || '-', g.creator, (g.members as number[]).join(',')].join('\t'));
    }
    return;
  }
  if (command === 'online') {
    for (const u of result as Array<{ id: number; username: string | null }>)
      console.log(`${u.id}\t${u.username ?? '-'}`);
    return;
  }
  for (const [key, value] of Object.entries(result as Record<string, unknown>)) {
    console.log(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
}

export function addAdminCommand(program: Command): void {
  const admin = program
    .command('admin')
    .description('manage users and groups, on a running server (admin socket) or a stopped one');
  for (const [name, spec] of Object.entries(ADMIN_COMMANDS)) {
    admin
      .command(`${name} ${spec.args.map((arg) => (arg.startsWith('[') ? arg : `<${arg}>`)).join(' ')}`.trim())
      .description(spec.help)
      .option(
        '--data <dir>',
        'the server\u2019s data directory',
        process.env.MENSAGEIRO_DATA ?? DEFAULTS.data,
      )
      .option('--json', 'print the result as JSON')
      .action(async (...params: unknown[]) => {
        const options = params[params.length - 2] as { data: string; json?: boolean };
        const args = params
          .slice(0, spec.args.length)
          .filter((arg): arg is string => typeof arg === 'string');
        const result = await runAdmin(options.data, { command: name, args });
        if (options.json) console.log(JSON.stringify(result, null, 2));
        else print(name, result);
      });
  }
}

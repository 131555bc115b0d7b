import type { Command } from 'commander';
import { MensageiroError } from '../core/errors.js';
import { DataLock, describeHolder, lockHolder } from '../server/data-lock.js';
import { DEFAULTS } from '../server/config.js';
import { backupDatabase, checkBackup, restoreDatabase } from '../store/sqlite/backup.js';

const dataOption = (command: Command) =>
  command.option(
    '--data <dir>',
    'the server\u2019s data directory',
    process.env.MENSAGEIRO_DATA ?? DEFAULTS.data,
  );

export function addBackupCommands(program: Command): void {
  dataOption(
    program
      .command('backup <file>')
      .description('copy the database to <file>, consistently, while the server runs or not'),
  ).action(async (file: string, options: { data: string }) => {
    const { pages, bytes } = await backupDatabase(options.data, file);
    console.log(`backup written to ${file}: ${pages} pages, ${bytes} bytes`);
  });
  dataOption(
    program
      .command('restore <file>')
      .description('put a backup in place of the database; the server must be stopped'),
  ).action(async (file: string, options: { data: string }) => {
    const holder = lockHolder(options.data);
    if (holder !== null) {
      throw new MensageiroError(
        'conflict',
        `${describeHolder(options.data, holder)}: stop it before a restore`,
      );
    }
    const { accounts, messages } = checkBackup(file);
    // Held while the files move, so a server cannot start on a half-restored directory.
    const lock = DataLock.acquire(options.data);
    try {
      const { replaced } = restoreDatabase(options.data, file);
      console.log(`restored ${file} (${accounts} accounts and groups, ${messages} messages)`);
      if (replaced) console.log(`the database it replaced is kept as ${replaced}`);
    } finally {
      lock.release();
    }
  });
}

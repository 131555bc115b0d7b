import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';

export const DATABASE_FILE = 'mensageiro.db';

export function databasePath(dataDir: string): string {
  return path.join(dataDir, DATABASE_FILE);
}

/**
 * A consistent copy of the database while a server may be writing it, through SQLite's online
 * backup API on a connection of its own (WAL lets it read beside the server's writer). After
 * the first step the rest goes in one step: a commit between steps would start the copy over,
 * and under load that could repeat.
 */
export async function backupDatabase(
  dataDir: string,
  file: string,
): Promise<{ pages: number; bytes: number }> {
  const source = databasePath(dataDir);
  if (!fs.existsSync(source)) throw new MensageiroError('bad_request', `no database at ${source}`);
  if (fs.existsSync(file)) throw new MensageiroError('conflict', `${file} exists; give a new file name`);
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const { totalPages } = await db.backup(file, { progress: () => 1 << 30 });
    return { pages: totalPages, bytes: fs.statSync(file).size };
  } finally {
    db.close();
  }
}

/** Checks that `file` is a Mensageiro database before it replaces anything. */
export function checkBackup(file: string): { accounts: number; messages: number } {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new MensageiroError('bad_request', `${file}: ${(error as Error).message}`);
  }
  try {
    const accounts = db.prepare('SELECT count(*) FROM accounts').pluck().get() as number;
    const messages = db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
    return { accounts, messages };
  } catch (error) {
    throw new MensageiroError(
      'bad_request',
      `${file} is not a Mensageiro backup: ${(error as Error).message}`,
    );
  } finally {
    db.close();
  }
}

/**
 * Puts a backup in place of the data directory's database; the caller holds the directory's
 * lock. The database it replaces is kept beside it, renamed, with its WAL folded in.
 */
export function restoreDatabase(dataDir: string, file: string): { replaced: string | null } {
  checkBackup(file);
  fs.mkdirSync(dataDir, { recursive: true });
  const target = databasePath(dataDir);
  let replaced: string | null = null;
  if (fs.existsSync(target)) {
    // Opening and closing the old file checkpoints its WAL into it, so the renamed copy is whole.
    new Database(target).close();
    replaced = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(target, replaced);
  }
  for (const suffix of ['-wal', '-shm']) fs.rmSync(`${target}${suffix}`, { force: true });
  fs.copyFileSync(file, target);
  return { replaced };
}

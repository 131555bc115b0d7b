import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Logger } from 'pino';
import { MensageiroError } from '../../core/errors.js';
import { validUsername, type Hub } from '../../core/hub.js';
import { randomAccountId } from '../../core/secrets.js';

export interface UsersFile {
  logins: string[];
  /** Each malformed row, as `file:line: reason`, skipped. */
  problems: string[];
}

/**
 * Reads a seed-001 users database: a header naming a `login` or `username` column, or no
 * header and one login per line. Malformed rows are reported and skipped, never fatal.
 */
export function parseUsersCsv(text: string, file = 'users.csv'): UsersFile {
  const problems: string[] = [];
  const records = parse(text.replace(/^\uFEFF/, ''), {
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    skip_records_with_error: true,
    on_skip: (error: { message: string; lines?: number } | undefined) => {
      if (error) problems.push(`${file}:${error.lines ?? '?'}: ${error.message}`);
    },
  }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  if (records.length === 0) return { logins: [], problems };
  const header = records[0]!.record.map((cell) => cell.toLowerCase());
  let column = header.findIndex((cell) => cell === 'login' || cell === 'username');
  const rows = column >= 0 ? records.slice(1) : records;
  if (column < 0) column = 0;
  const logins: string[] = [];
  const seen = new Set<string>();
  for (const { record, info } of rows) {
    const login = record[column] ?? '';
    const where = `${file}:${info.lines}`;
    if (login === '') problems.push(`${where}: no login in this row`);
    else if (!validUsername(login))
      problems.push(`${where}: "${login}" is not a valid username (1-32 of A-Z a-z 0-9 _ . -)`);
    else if (seen.has(login.toLowerCase())) problems.push(`${where}: "${login}" appears twice`);
    else {
      seen.add(login.toLowerCase());
      logins.push(login);
    }
  }
  return { logins, problems };
}

/**
 * Reads a users file now, so that a missing one stops the start, and returns the rest of the
 * work, to run once the ports listen: parsing, then one account per login that has none.
 */
export function prepareUsers(hub: Hub, file: string, log: Logger): () => Promise<void> {
  const text = fs.readFileSync(file, 'utf8');
  return async () => {
    const started = Date.now();
    const users = parseUsersCsv(text, file);
    for (const problem of users.problems) log.warn(problem);
    await loadUsers(hub, users, file, log, started);
  };
}

/** In one transaction where the store can, else one by one; users that exist are skipped. */
async function loadUsers(
  hub: Hub,
  users: UsersFile,
  file: string,
  log: Logger,
  started: number,
): Promise<void> {
  let created = 0;
  if (hub.store.ensureUsernames) {
    created = await hub.store.ensureUsernames(users.logins, randomAccountId);
  } else {
    for (const login of users.logins) {
      try {
        if (!(await hub.store.findAccountByUsername(login))) {
          await hub.ensureUser(login);
          created++;
        }
      } catch (error) {
        if (!(error instanceof MensageiroError)) throw error;
        log.warn({ login, reason: error.message }, `${file}: user not loaded`);
      }
    }
  }
  log.info(
    { file, users: users.logins.length, created, skipped: users.problems.length, ms: Date.now() - started },
    'users loaded',
  );
}

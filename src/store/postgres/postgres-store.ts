import pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type { AppendResult, NewAccount, NewGroup, NewMessage, ReadMark, Store } from '../../core/ports.js';
import type { Account, AccountId, Delivery, Group, InboxItem } from '../../core/types.js';
import { READ_INBOX, appendItems, groupItem, toInboxItem, type InboxRow } from './inbox-sql.js';
import { PgGroupCommit, isConnectionError, unavailable } from './pg-commit.js';
import { markRead, markReadLocks } from './receipts.js';
import { turnBulk, type TurnItem } from './turn.js';
import { SCHEMA_NAME, migrate } from './schema.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database; a `schema` query parameter picks the schema. */
  url: string;
  /** Overrides the URL's schema; default `mensageiro`. */
  schema?: string;
  poolSize?: number;
  /** A statement that gets no answer this long fails, and its sends get `unavailable`. */
  queryTimeoutMs?: number;
  /** Shown in pg_stat_activity: the node's id, so an operator sees which node holds what. */
  applicationName?: string;
  onWarning?: (message: string) => void;
}

const KIND_USER = 1;
const KIND_GROUP = 2;
/** Accounts never change once made, so any node may keep them; this bounds how many. */
const ACCOUNT_CACHE = 100_000;

interface AccountRow {
  id: number;
  kind: number;
  username: string | null;
  secret_hash: string | null;
  group_name: string | null;
  creator: number | null;
  client_ts: number | null;
  created_at: number;
}

/** bigint columns come back as numbers: every id, seq and time here is a safe integer. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The Store on PostgreSQL, for many nodes over one database. Writes go through a group commit
 * (one transaction per event-loop turn, settled after COMMIT); reads use the pool directly.
 * Nothing that another node may change is cached.
 */
export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  private readonly writePool: pg.Pool;
  readonly schema: string;
  private readonly commits: PgGroupCommit<TurnItem>;
  private readonly accounts = new Map<AccountId, Account>();
  private readonly warn: (message: string) => void;

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      const warning = await migrate(store.pool, store.schema);
      if (warning) store.warn(warning);
    } catch (error) {
      await Promise.all([store.pool.end(), store.writePool.end()]);
      throw isConnectionError(error) ? unavailable(error) : error;
    }
    return store;
  }

  private constructor(options: PostgresStoreOptions) {
    const url = new URL(options.url);
    this.schema = options.schema ?? url.searchParams.get('schema') ?? 'mensageiro';
    url.searchParams.delete('schema');
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new MensageiroError('bad_request', `schema must match ${SCHEMA_NAME}, got ${this.schema}`);
    }
    this.warn = options.onWarning ?? console.warn;
    const pool = (max: number, role: string) => {
      const made = new pg.Pool({
        connectionString: url.toString(),
        max,
        options: `-c search_path=${this.schema}`,
        // Also the wait for a free connection: reads queue behind each other, never behind writes.
        connectionTimeoutMillis: 5_000,
        query_timeout: options.queryTimeoutMs ?? 5_000,
        keepAlive: true,
        application_name: `${options.applicationName ?? 'mensageiro'} ${role}`,
        types,
      });
      // An idle client whose server went away reports it here; unheard, it would end the process.
      made.on('error', (error) => this.warn(`postgres connection lost: ${error.message}`));
      made.on('connect', (client) =>
        client.on('error', (error) => this.warn(`postgres connection failed: ${error.message}`)),
      );
      return made;
    };
    this.pool = pool(options.poolSize ?? 8, 'reads');
    // The group commit has one batch in flight: one connection of its own, so that a thousand
    // sessions' reads never hold it up.
    this.writePool = pool(1, 'writes');
    this.commits = new PgGroupCommit(this.writePool, turnBulk);
  }

  get committedBatches(): number {
    return this.commits.committedBatches;
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.commits.submit({
      run: async (client) => {
        const createdAt = Date.now();
        await insertAccount(client, {
          id: account.id,
          kind: KIND_USER,
          username: account.username ?? null,
          secret_hash: account.secretHash ?? null,
          group_name: null,
          creator: null,
          client_ts: null,
          created_at: createdAt,
        });
        return {
          id: account.id,
          username: account.username ?? null,
          secretHash: account.secretHash ?? null,
          createdAt,
        };
      },
    });
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    const cached = this.accounts.get(id);
    if (cached) return cached;
    const row = await this.one<AccountRow>(`SELECT * FROM accounts WHERE id = $1`, [id]);
    if (!row || row.kind !== KIND_USER) return null;
    if (this.accounts.size >= ACCOUNT_CACHE) this.accounts.clear();
    const account = toAccount(row);
    this.accounts.set(id, account);
    return account;
  }

  async findAccountByUsername(username: string): Promise<Account | null> {
    const row = await this.one<AccountRow>(`SELECT * FROM accounts WHERE username_key = $1 AND kind = 1`, [
      username.toLowerCase(),
    ]);
    return row ? toAccount(row) : null;
  }

  async idExists(id: AccountId): Promise<boolean> {
    return (await this.one(`SELECT 1 FROM accounts WHERE id = $1`, [id])) !== null;
  }

  saveToken(tokenHash: string, account: AccountId, at: number): Promise<void> {
    return this.commits.submit({
      run: async (client) => {
        await client.query(
          `INSERT INTO tokens (hash, account, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (hash) DO UPDATE SET account = excluded.account, created_at = excluded.created_at`,
          [tokenHash, account, at],
        );
      },
    });
  }

  async accountForToken(tokenHash: string): Promise<AccountId | null> {
    return (
      (await this.one<{ account: number }>(`SELECT account FROM tokens WHERE hash = $1`, [tokenHash]))
        ?.account ?? null
    );
  }

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.commits.submit({
      locks: async () => group.members,
      run: async (client, counters) => {
        await insertAccount(client, {
          id: group.id,
          kind: KIND_GROUP,
          username: null,
          secret_hash: null,
          group_name: group.name,
          creator: group.creator,
          client_ts: group.ts,
          created_at: group.at,
        });
        await client.query(
          `INSERT INTO group_members (group_id, position, member)
         SELECT $1, p - 1, m FROM unnest($2::bigint[]) WITH ORDINALITY AS v(m, p)`,
          [group.id, group.members],
        );
        const stored: Group = { ...group, members: [...group.members] };
        const deliveries = await appendItems(
          client,
          group.members.map((member) => groupItem(member, stored)),
          counters,
        );
        return { group: stored, deliveries };
      },
    });
  }

  async getGroup(id: AccountId): Promise<Group | null> {
    const row = await this.one<AccountRow & { members: number[] }>(
      `SELECT a.*, ARRAY(SELECT member FROM group_members WHERE group_id = a.id ORDER BY position) AS members
       FROM accounts a WHERE a.id = $1 AND a.kind = 2`,
      [id],
    );
    if (!row) return null;
    return {
      id: row.id,
      name: row.group_name ?? '',
      creator: row.creator ?? 0,
      members: row.members.map(Number),
      ts: row.client_ts ?? 0,
      at: row.created_at,
    };
  }

  appendMessage(message: NewMessage): Promise<AppendResult> {
    return this.commits.submitItem({ message });
  }

  async readInbox(user: AccountId, afterSeq: number, limit: number): Promise<InboxItem[]> {
    const { rows } = await this.read(() =>
      this.pool.query<InboxRow>({ ...READ_INBOX, values: [user, afterSeq, limit] }),
    );
    return rows.map(toInboxItem);
  }

  async inboxState(user: AccountId): Promise<{ delivered: number; last: number }> {
    const row = await this.one<{ delivered_seq: number; last_seq: number }>(
      `SELECT delivered_seq, last_seq FROM accounts WHERE id = $1`,
      [user],
    );
    return row ? { delivered: row.delivered_seq, last: row.last_seq } : { delivered: 0, last: 0 };
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number): Promise<Delivery[]> {
    return this.commits.submitItem({ ack: { user, upToSeq, at } });
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number): Promise<Delivery[]> {
    return this.commits.submit({
      locks: (client) => markReadLocks(client, reader, conv, mark),
      run: (client, counters) => markRead(client, reader, conv, mark, at, counters),
    });
  }

  async close(): Promise<void> {
    await this.commits.drained();
    await Promise.all([this.pool.end(), this.writePool.end()]);
  }

  private async one<T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T | null> {
    const { rows } = await this.read(() => this.pool.query<T>(text, values));
    return rows[0] ?? null;
  }

  /** A read that fails because PostgreSQL is out of reach says so with `unavailable`. */
  private async read<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw isConnectionError(error) ? unavailable(error) : error;
    }
  }
}

/** Inserts an account or group row; says which of the id or the username was taken. */
async function insertAccount(client: pg.PoolClient, row: AccountRow): Promise<void> {
  const inserted = await client.query(
    `INSERT INTO accounts (id, kind, username, username_key, secret_hash, group_name, creator, client_ts, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
    [
      row.id,
      row.kind,
      row.username,
      row.username?.toLowerCase() ?? null,
      row.secret_hash,
      row.group_name,
      row.creator,
      row.client_ts,
      row.created_at,
    ],
  );
  if (inserted.rowCount === 1) return;
  const taken = await client.query(`SELECT 1 FROM accounts WHERE id = $1`, [row.id]);
  if (taken.rowCount === 1) throw new MensageiroError('conflict', `id ${row.id} exists`);
  throw new MensageiroError('username_taken', `username ${row.username} is taken`);
}

function toAccount(row: AccountRow): Account {
  return { id: row.id, username: row.username, secretHash: row.secret_hash, createdAt: row.created_at };
}

import pg from 'pg';
import { MensageiroError } from '../../core/errors.js';
import type {
  AccountChange,
  AppendResult,
  GroupChangeRequest,
  NewAccount,
  NewGroup,
  NewMessage,
  ReadMark,
  Store,
} from '../../core/ports.js';
import type {
  Account,
  AccountId,
  ConversationSummary,
  Delivery,
  DeviceInfo,
  Group,
  HistoryMessage,
  InboxItem,
  MessageReceipts,
} from '../../core/types.js';
import { insertAccount, toAccount, type AccountRow } from './accounts-sql.js';
import { createDevice, replaceDeviceToken, revokeDevices, toDevice } from './devices.js';
import { changeGroup, createGroup, loadGroup } from './groups.js';
import { PostgresHistory } from './history.js';
import { READ_INBOX, toInboxItem, type InboxRow } from './inbox-sql.js';
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
/**
 * Accounts are read on every send (the hub resolves the recipient), so each node keeps them
 * this long; a change of name or secret on another node is seen here within it.
 */
const ACCOUNT_TTL_MS = 1_000;
const ACCOUNT_CACHE = 100_000;

/** bigint columns come back as numbers: every id, seq and time here is a safe integer. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The Store on PostgreSQL, for many nodes over one database. Writes go through a group commit
 * (one transaction per event-loop turn, settled after COMMIT); reads use the pool directly.
 * Only accounts are cached, for a second (ACCOUNT_TTL_MS).
 */
export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  private readonly writePool: pg.Pool;
  readonly schema: string;
  private readonly commits: PgGroupCommit<TurnItem>;
  private readonly accounts = new Map<AccountId, { account: Account; until: number }>();
  private readonly historyReader: PostgresHistory;
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
    this.historyReader = new PostgresHistory(this.pool);
  }

  get committedBatches(): number {
    return this.commits.committedBatches;
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.commits.submit({
      run: async (client) => {
        const row: AccountRow = {
          id: account.id,
          kind: KIND_USER,
          username: account.username ?? null,
          secret_hash: account.secretHash ?? null,
          display_name: account.displayName ?? null,
          group_name: null,
          creator: null,
          client_ts: null,
          created_at: Date.now(),
        };
        await insertAccount(client, row);
        return toAccount(row);
      },
    });
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    const cached = this.accounts.get(id);
    if (cached && cached.until > Date.now()) return cached.account;
    const row = await this.one<AccountRow>(`SELECT * FROM accounts WHERE id = $1`, [id]);
    if (!row || row.kind !== KIND_USER) return null;
    const account = toAccount(row);
    this.remember(account);
    return account;
  }

  private remember(account: Account): void {
    if (this.accounts.size >= ACCOUNT_CACHE) this.accounts.clear();
    this.accounts.set(account.id, { account, until: Date.now() + ACCOUNT_TTL_MS });
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

  updateAccount(id: AccountId, change: AccountChange): Promise<Account> {
    return this.commits.submit({
      run: async (client) => {
        const { rows } = await client
          .query<AccountRow>(
            `UPDATE accounts SET
             username = CASE WHEN $2 THEN $3 ELSE username END,
             username_key = CASE WHEN $2 THEN lower($3) ELSE username_key END,
             display_name = CASE WHEN $4 THEN $5 ELSE display_name END,
             secret_hash = COALESCE($6, secret_hash)
           WHERE id = $1 AND kind = 1 RETURNING *`,
            [
              id,
              change.username !== undefined,
              change.username ?? null,
              change.displayName !== undefined,
              change.displayName ?? null,
              change.secretHash ?? null,
            ],
          )
          .catch((error: unknown) => {
            if ((error as { code?: string }).code === '23505') {
              throw new MensageiroError('username_taken', `username ${change.username} is taken`);
            }
            throw error;
          });
        if (!rows[0]) throw new MensageiroError('unknown_account', `no account ${id}`);
        const account = toAccount(rows[0]);
        this.remember(account);
        return account;
      },
    });
  }

  createDevice(account: AccountId, tokenHash: string, name: string | null, at: number): Promise<DeviceInfo> {
    return this.commits.submit({
      locks: async () => [account],
      run: (client) => createDevice(client, account, tokenHash, name, at),
    });
  }

  replaceDeviceToken(account: AccountId, device: number, tokenHash: string, at: number): Promise<boolean> {
    return this.commits.submit({
      run: (client) => replaceDeviceToken(client, account, device, tokenHash, at),
    });
  }

  async deviceForToken(tokenHash: string): Promise<{ account: AccountId; device: number } | null> {
    return this.one<{ account: number; device: number }>(
      `SELECT account, device FROM tokens WHERE hash = $1 AND device > 0`,
      [tokenHash],
    );
  }

  async listDevices(account: AccountId): Promise<DeviceInfo[]> {
    const { rows } = await this.read(() =>
      this.pool.query<{ account: number; device: number; name: string | null; created_at: number }>(
        `SELECT account, device, name, created_at FROM devices WHERE account = $1 ORDER BY device`,
        [account],
      ),
    );
    return rows.map(toDevice);
  }

  revokeDevices(account: AccountId, device: number | 'all', keep?: number): Promise<number[]> {
    return this.commits.submit({ run: (client) => revokeDevices(client, account, device, keep) });
  }

  createGroup(group: NewGroup): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.commits.submit({
      locks: async () => group.members,
      run: (client, counters) => createGroup(client, group, counters),
    });
  }

  async getGroup(id: AccountId): Promise<Group | null> {
    return this.read(() => loadGroup(this.pool, id));
  }

  changeGroup(change: GroupChangeRequest): Promise<{ group: Group; deliveries: Delivery[] }> {
    return this.commits.submit({
      // The group row serializes its changes with its messages on every node.
      locks: async (client) => [
        change.gid,
        ...((await loadGroup(client, change.gid))?.members ?? []),
        ...change.members,
      ],
      run: (client, counters) => changeGroup(client, change, counters),
    });
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

  async inboxState(user: AccountId, device = 0): Promise<{ delivered: number; last: number }> {
    const row = await this.one<{ delivered: number | null; last_seq: number }>(
      device > 0
        ? `SELECT d.acked_seq AS delivered, a.last_seq FROM accounts a
           LEFT JOIN devices d ON d.account = a.id AND d.device = $2 WHERE a.id = $1`
        : `SELECT delivered_seq AS delivered, last_seq FROM accounts WHERE id = $1 AND $2::integer IS NOT NULL`,
      [user, device],
    );
    if (!row || row.delivered === null) return { delivered: 0, last: 0 };
    return { delivered: row.delivered, last: row.last_seq };
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number, device = 0): Promise<Delivery[]> {
    return this.commits.submitItem({ ack: { user, upToSeq, at, device } });
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number, device = 0): Promise<Delivery[]> {
    return this.commits.submit({
      locks: (client) => markReadLocks(client, reader, conv, mark),
      run: (client, counters) => markRead(client, reader, conv, mark, at, device, counters),
    });
  }

  history(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }> {
    return this.read(() => this.historyReader.page(user, conv, before, limit));
  }

  messageReceipts(user: AccountId, mid: number): Promise<MessageReceipts | null> {
    return this.read(() => this.historyReader.receiptsOf(user, mid));
  }

  conversations(user: AccountId, limit: number): Promise<ConversationSummary[]> {
    return this.read(() => this.historyReader.conversations(user, limit));
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

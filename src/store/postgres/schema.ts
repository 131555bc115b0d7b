import type pg from 'pg';

/**
 * Each entry moves the schema one version up. The `migrations` table records which ran: every
 * migration's transaction starts by inserting its number, so two nodes migrating at once
 * collide on the primary key and the loser finds the work done.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE accounts (
    id bigint PRIMARY KEY,
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    username text,
    username_key text UNIQUE,
    secret_hash text,
    display_name text,
    group_name text,
    creator bigint,
    client_ts bigint,
    created_at bigint NOT NULL,
    -- The counter row: appending to an inbox locks it, so seqs are gapless in commit order.
    last_seq bigint NOT NULL DEFAULT 0,
    delivered_seq bigint NOT NULL DEFAULT 0,
    next_device integer NOT NULL DEFAULT 1
  );
  CREATE TABLE group_members (
    group_id bigint NOT NULL,
    position integer NOT NULL,
    member bigint NOT NULL,
    admin boolean NOT NULL DEFAULT false,
    PRIMARY KEY (group_id, position)
  );
  -- Which group messages each member, past or present, may see: after from_mid, up to to_mid.
  CREATE TABLE group_access (
    group_id bigint NOT NULL,
    member bigint NOT NULL,
    from_mid bigint NOT NULL,
    to_mid bigint,
    PRIMARY KEY (group_id, member)
  );
  CREATE INDEX group_access_member ON group_access (member);
  CREATE SEQUENCE messages_mid;
  CREATE TABLE messages (
    mid bigint PRIMARY KEY,
    sender bigint NOT NULL,
    conv bigint NOT NULL,
    cid text,
    text text NOT NULL,
    ts bigint NOT NULL,
    at bigint NOT NULL,
    in_group boolean NOT NULL
  );
  CREATE UNIQUE INDEX messages_dedup ON messages (sender, cid) WHERE cid IS NOT NULL;
  -- Receipts look up a sender's last message in a conversation; history pages walk a 1:1
  -- pair or a group newest first. (Migration 2 replaces the pair and sender indexes.)
  CREATE INDEX messages_conv ON messages (conv, sender, mid);
  CREATE INDEX messages_pair ON messages (least(sender, conv), greatest(sender, conv), mid) WHERE NOT in_group;
  CREATE INDEX messages_group ON messages (conv, mid) WHERE in_group;
  CREATE INDEX messages_sender ON messages (sender, mid) WHERE NOT in_group;
  -- One ordered stream per account: kind 1 = message (mid), 2 = receipt (body), 3 = group (body).
  CREATE TABLE inbox (
    account bigint NOT NULL,
    seq bigint NOT NULL,
    kind smallint NOT NULL,
    mid bigint,
    body text,
    PRIMARY KEY (account, seq)
  );
  CREATE TABLE group_delivered (
    group_id bigint NOT NULL,
    member bigint NOT NULL,
    mid bigint NOT NULL,
    PRIMARY KEY (group_id, member)
  );
  CREATE TABLE receipt_marks (
    sender bigint NOT NULL,
    conv bigint NOT NULL,
    by_id bigint NOT NULL,
    status smallint NOT NULL,
    mid bigint NOT NULL,
    PRIMARY KEY (sender, conv, by_id, status)
  );
  CREATE TABLE devices (
    account bigint NOT NULL,
    device integer NOT NULL,
    name text,
    created_at bigint NOT NULL,
    acked_seq bigint NOT NULL,
    PRIMARY KEY (account, device)
  );
  CREATE TABLE tokens (
    hash text PRIMARY KEY,
    account bigint NOT NULL,
    device integer NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX tokens_device ON tokens (account, device);
  -- Each account's read mark per conversation, for unread counts.
  CREATE TABLE read_marks (
    owner bigint NOT NULL,
    conv bigint NOT NULL,
    mid bigint NOT NULL,
    PRIMARY KEY (owner, conv)
  );
  `,
  // Fewer index entries per message: 1:1 history pages walk messages_conv from both sides
  // instead of a pair index, and the conversation list and dedup share one (sender, cid)
  // index. The counter rows are updated by every batch; room in their pages keeps those
  // updates HOT (no index entry, and pruned in place).
  `
  CREATE UNIQUE INDEX messages_sender_cid ON messages (sender, cid);
  DROP INDEX messages_dedup;
  DROP INDEX messages_sender;
  DROP INDEX messages_pair;
  ALTER TABLE accounts SET (fillfactor = 50);
  `,
];

/** SQLSTATEs that mean another node created the same thing first. */
const ALREADY_DONE = new Set(['23505', '42P06', '42P07', '42710']);

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function alreadyDone(error: unknown): boolean {
  return ALREADY_DONE.has((error as { code?: string }).code ?? '');
}

/**
 * Brings the schema to the latest version; safe to run from many nodes at once. Returns a
 * warning when the database is newer than this code.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<string | null> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`bad schema name ${schema}`);
  const client = await pool.connect();
  try {
    for (const ddl of [
      `CREATE SCHEMA IF NOT EXISTS ${schema}`,
      `CREATE TABLE IF NOT EXISTS ${schema}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    ]) {
      await client.query(ddl).catch((error: unknown) => {
        if (!alreadyDone(error)) throw error;
      });
    }
    const { rows } = await client.query<{ version: number }>(
      `SELECT COALESCE(MAX(version), 0) AS version FROM ${schema}.migrations`,
    );
    const current = rows[0]!.version;
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${schema}.migrations (version) VALUES ($1)`, [version]);
        await client.query(`SET LOCAL search_path = ${schema}`);
        await client.query(MIGRATIONS[version - 1]!);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        if (!alreadyDone(error)) throw error;
      }
    }
    return current > MIGRATIONS.length
      ? `the database schema ${schema} is at version ${current}, newer than this code (${MIGRATIONS.length})`
      : null;
  } finally {
    client.release();
  }
}

import type Database from 'better-sqlite3';

/** Each entry moves the schema one version up; `PRAGMA user_version` records where a file is. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    username TEXT,
    username_key TEXT UNIQUE,
    secret_hash TEXT,
    group_name TEXT,
    creator INTEGER,
    client_ts INTEGER,
    created_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    delivered_seq INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE group_members (
    group_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    member INTEGER NOT NULL,
    PRIMARY KEY (group_id, position)
  ) WITHOUT ROWID;
  CREATE TABLE messages (
    mid INTEGER PRIMARY KEY,
    sender INTEGER NOT NULL,
    conv INTEGER NOT NULL,
    cid TEXT,
    text TEXT NOT NULL,
    ts INTEGER NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX messages_dedup ON messages (sender, cid) WHERE cid IS NOT NULL;
  CREATE INDEX messages_conv ON messages (conv, sender, mid);
  -- One ordered stream per user: kind 1 = message (mid), 2 = receipt (body), 3 = group (body).
  CREATE TABLE inbox (
    user INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    mid INTEGER,
    body TEXT,
    PRIMARY KEY (user, seq)
  ) WITHOUT ROWID;
  -- Watermarks: how far each member has received a group, and what receipts were already sent.
  CREATE TABLE group_delivered (
    group_id INTEGER NOT NULL,
    member INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    PRIMARY KEY (group_id, member)
  ) WITHOUT ROWID;
  CREATE TABLE receipt_marks (
    sender INTEGER NOT NULL,
    conv INTEGER NOT NULL,
    by_id INTEGER NOT NULL,
    status INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    PRIMARY KEY (sender, conv, by_id, status)
  ) WITHOUT ROWID;
  CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    account INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // The (conv, sender, mid) index put every message at a random place in a B-tree, one dirty
  // page per message at each commit. 1:1 read receipts now walk the reader's inbox instead;
  // only group messages, whose delivery receipts need the lookup on every ack, keep an index.
  `
  ALTER TABLE messages ADD COLUMN in_group INTEGER NOT NULL DEFAULT 0;
  UPDATE messages SET in_group = 1 WHERE conv IN (SELECT id FROM accounts WHERE kind = 'group');
  DROP INDEX messages_conv;
  CREATE INDEX messages_group ON messages (conv, sender, mid) WHERE in_group = 1;
  `,
  // Devices, names, groups that change, read marks, and the conversation index that history
  // and conversations are served from (filled behind the messages: docs/architecture.md).
  // Tokens of older files become one device each, at the account's delivered watermark.
  `
  ALTER TABLE accounts ADD COLUMN display_name TEXT;
  ALTER TABLE accounts ADD COLUMN next_device INTEGER NOT NULL DEFAULT 1;
  CREATE TABLE devices (
    account INTEGER NOT NULL,
    device INTEGER NOT NULL,
    name TEXT,
    created_at INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL,
    PRIMARY KEY (account, device)
  ) WITHOUT ROWID;
  ALTER TABLE tokens ADD COLUMN device INTEGER NOT NULL DEFAULT 0;
  UPDATE tokens SET device = (SELECT count(*) FROM tokens t WHERE t.account = tokens.account AND t.rowid <= tokens.rowid);
  INSERT INTO devices (account, device, name, created_at, acked_seq)
    SELECT t.account, t.device, NULL, t.created_at, a.delivered_seq FROM tokens t JOIN accounts a ON a.id = t.account;
  UPDATE accounts SET next_device = 1 + (SELECT count(*) FROM tokens t WHERE t.account = accounts.id);
  ALTER TABLE group_members ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE group_access (
    group_id INTEGER NOT NULL,
    member INTEGER NOT NULL,
    from_mid INTEGER NOT NULL,
    to_mid INTEGER,
    PRIMARY KEY (group_id, member)
  ) WITHOUT ROWID;
  CREATE INDEX group_access_member ON group_access (member);
  INSERT INTO group_access (group_id, member, from_mid, to_mid) SELECT group_id, member, 0, NULL FROM group_members;
  CREATE TABLE read_marks (
    owner INTEGER NOT NULL,
    conv INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    PRIMARY KEY (owner, conv)
  ) WITHOUT ROWID;
  CREATE TABLE conversation_index (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    sender INTEGER NOT NULL,
    PRIMARY KEY (a, b, mid)
  ) WITHOUT ROWID;
  CREATE TABLE conversations (
    owner INTEGER NOT NULL,
    conv INTEGER NOT NULL,
    last_mid INTEGER NOT NULL,
    PRIMARY KEY (owner, conv)
  ) WITHOUT ROWID;
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta (key, value) VALUES ('history_indexed_mid', 0);
  `,
];

/** Brings the file to the latest version, or to `target` (tests make old files this way). */
export function migrate(db: Database.Database, target = MIGRATIONS.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < target; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

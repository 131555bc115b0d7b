/** The profile file's tables and row shapes. */

export type MessageState = 'sending' | 'sent' | 'delivered' | 'read' | 'received';

export interface StoredIdentity {
  id: number;
  username: string | null;
  token: string | null;
  server: string;
  dialect: string;
  /** This profile's device number within the account (0: an account without devices). */
  device?: number;
}

export interface LocalMessage {
  localId: number;
  direction: 'in' | 'out';
  /** The peer's id for a 1:1 chat, the group's id for a group; null until an outgoing one is acked. */
  conv: number | null;
  /** What the user typed as the recipient (alias, username or id), for outgoing messages. */
  target: string | null;
  from: number | null;
  text: string;
  cid: string | null;
  mid: number | null;
  ts: number;
  state: MessageState;
  readLocally: boolean;
}

export interface Contact {
  alias: string;
  id: number;
  username: string | null;
}

export interface LocalGroup {
  id: number;
  name: string;
  members: number[];
}

export const RANK: Record<MessageState, number> = { sending: 0, sent: 1, delivered: 2, read: 3, received: 0 };

export interface MessageRow {
  local_id: number;
  direction: 'in' | 'out';
  conv: number | null;
  target: string | null;
  sender: number | null;
  text: string;
  cid: string | null;
  mid: number | null;
  ts: number;
  state: MessageState;
  read_locally: number;
}

export const toMessage = (row: MessageRow): LocalMessage => ({
  localId: row.local_id,
  direction: row.direction,
  conv: row.conv,
  target: row.target,
  from: row.sender,
  text: row.text,
  cid: row.cid,
  mid: row.mid,
  ts: row.ts,
  state: row.state,
  readLocally: row.read_locally === 1,
});

export const SCHEMA = `
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS contacts (alias TEXT PRIMARY KEY COLLATE NOCASE, id INTEGER NOT NULL, username TEXT);
      CREATE TABLE IF NOT EXISTS groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL, members TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (
        local_id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL,
        conv INTEGER,
        target TEXT,
        sender INTEGER,
        text TEXT NOT NULL,
        cid TEXT UNIQUE,
        mid INTEGER,
        ts INTEGER NOT NULL,
        state TEXT NOT NULL,
        read_locally INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX IF NOT EXISTS messages_in ON messages (mid) WHERE direction = 'in';
      CREATE INDEX IF NOT EXISTS messages_conv ON messages (conv, local_id);
      CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, username TEXT);
      CREATE TABLE IF NOT EXISTS group_reads (local_id INTEGER NOT NULL, member INTEGER NOT NULL,
        PRIMARY KEY (local_id, member));
      -- Older versions saved a group under id 0 until the server named it; that row hid the real one.
      DELETE FROM groups WHERE id = 0;
  CREATE UNIQUE INDEX IF NOT EXISTS messages_out ON messages (mid) WHERE direction = 'out' AND mid IS NOT NULL;
`;

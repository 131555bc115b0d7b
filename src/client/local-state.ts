import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  RANK,
  type MessageState,
  SCHEMA,
  toMessage,
  type Contact,
  type LocalGroup,
  type LocalMessage,
  type MessageRow,
  type StoredIdentity,
} from './local-schema.js';

export type { Contact, LocalGroup, LocalMessage, MessageState, StoredIdentity } from './local-schema.js';

export function defaultHome(): string {
  return path.join(os.homedir(), '.mensageiro');
}

/**
 * Everything a client keeps between runs (seed 002: "deverá restaurar o estado anterior ao
 * encerramento"): identity, contacts, groups, and the full history with each message's state.
 * One SQLite file per profile, readable only by its owner.
 */
export class LocalState {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    fs.chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
  }

  static open(home: string, profile: string): LocalState {
    return new LocalState(LocalState.fileOf(home, profile));
  }

  /** The profile's file, which exists once the profile was used. */
  static fileOf(home: string, profile: string): string {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(profile))
      throw new Error(`bad profile name ${profile}: use 1 to 64 of A-Z a-z 0-9 _ . -`);
    return path.join(home, `${profile}.db`);
  }

  static exists(home: string, profile: string): boolean {
    return fs.existsSync(LocalState.fileOf(home, profile));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Closes and deletes the profile: for one that never signed in, so nothing is left behind. */
  discard(): void {
    this.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${this.file}${suffix}`, { force: true });
  }

  /** A username learnt from the server for an id that is no contact, so ids show as names. */
  rememberName(id: number, username: string | null): void {
    this.db.prepare('INSERT OR REPLACE INTO names (id, username) VALUES (?, ?)').run(id, username);
  }

  /** The username known for `id`: null when it has none, undefined when never asked. */
  knownName(id: number): string | null | undefined {
    const row = this.db.prepare('SELECT username FROM names WHERE id = ?').get(id) as
      { username: string | null } | undefined;
    return row === undefined ? undefined : row.username;
  }

  private getSetting(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  private setSetting(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(key, value);
  }

  get identity(): StoredIdentity | null {
    const raw = this.getSetting('identity');
    return raw === null ? null : (JSON.parse(raw) as StoredIdentity);
  }

  set identity(identity: StoredIdentity) {
    this.setSetting('identity', JSON.stringify(identity));
  }

  get lastSeq(): number {
    return Number(this.getSetting('lastSeq') ?? 0);
  }

  set lastSeq(seq: number) {
    this.setSetting('lastSeq', String(seq));
  }

  addContact(contact: Contact): void {
    this.db
      .prepare('INSERT OR REPLACE INTO contacts (alias, id, username) VALUES (?, ?, ?)')
      .run(contact.alias, contact.id, contact.username);
  }

  /** After a send to a username succeeds, the username becomes a contact, as in any messenger. */
  rememberUsername(username: string, id: number): void {
    if (/^\d+$/.test(username) || this.group(id)) return;
    this.rememberName(id, username);
    if (this.contact(username) || this.contacts().some((c) => c.id === id)) return;
    this.addContact({ alias: username, id, username });
  }

  contacts(): Contact[] {
    return this.db.prepare('SELECT alias, id, username FROM contacts ORDER BY alias').all() as Contact[];
  }

  contact(alias: string): Contact | null {
    return (
      (this.db.prepare('SELECT alias, id, username FROM contacts WHERE alias = ?').get(alias) as
        Contact | undefined) ?? null
    );
  }

  saveGroup(group: LocalGroup): void {
    this.db
      .prepare('INSERT OR REPLACE INTO groups (id, name, members) VALUES (?, ?, ?)')
      .run(group.id, group.name, JSON.stringify(group.members));
  }

  groups(): LocalGroup[] {
    const rows = this.db.prepare('SELECT id, name, members FROM groups ORDER BY name, id').all() as Array<{
      id: number;
      name: string;
      members: string;
    }>;
    return rows.map((row) => ({ id: row.id, name: row.name, members: JSON.parse(row.members) as number[] }));
  }

  group(idOrName: number | string): LocalGroup | null {
    return (
      this.groups().find(
        (g) =>
          g.id === Number(idOrName) ||
          (g.name !== '' && g.name.toLowerCase() === String(idOrName).toLowerCase()),
      ) ?? null
    );
  }

  /** An outgoing message as the user typed it, before the server has it. */
  addOutgoing(message: {
    cid: string;
    target: string;
    conv: number | null;
    text: string;
    ts: number;
  }): LocalMessage {
    const info = this.db
      .prepare(
        `INSERT INTO messages (direction, conv, target, text, cid, ts, state) VALUES ('out', ?, ?, ?, ?, ?, 'sending')`,
      )
      .run(message.conv, message.target, message.text, message.cid, message.ts);
    return this.byLocalId(Number(info.lastInsertRowid))!;
  }

  /** The server acknowledged: the message is durable there. */
  markSent(cid: string, mid: number | null, conv: number): LocalMessage | null {
    this.db
      .prepare(
        `UPDATE messages SET mid = ?, conv = ?, state = CASE WHEN state = 'sending' THEN 'sent' ELSE state END WHERE cid = ?`,
      )
      .run(mid, conv, cid);
    return this.byCid(cid);
  }

  /** The send failed for good (say, an unknown recipient): it leaves the history. */
  dropOutgoing(cid: string): void {
    this.db.prepare(`DELETE FROM messages WHERE cid = ? AND state = 'sending'`).run(cid);
  }

  pendingOutgoing(): LocalMessage[] {
    return (
      this.db
        .prepare(`SELECT * FROM messages WHERE direction = 'out' AND state = 'sending' ORDER BY local_id`)
        .all() as MessageRow[]
    ).map(toMessage);
  }

  /** Stores an incoming message once; false if it was already there (a resend). */
  addIncoming(message: {
    mid: number | null;
    from: number;
    conv: number;
    text: string;
    ts: number;
    read?: boolean;
  }): boolean {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO messages (direction, conv, sender, text, mid, ts, state, read_locally) VALUES ('in', ?, ?, ?, ?, ?, 'received', ?)`,
      )
      .run(message.conv, message.from, message.text, message.mid, message.ts, message.read ? 1 : 0);
    return info.changes > 0;
  }

  /**
   * A receipt watermark: outgoing messages in `conv` up to `mid` (or client time `ts`) reach
   * `status`. In a group, a read by one member is kept per member, and a message is read only
   * when every other member has read it. Returns the messages whose state moved, and in a group
   * how many messages this reader newly read.
   */
  applyReceipt(
    conv: number,
    status: 'delivered' | 'read',
    upTo: { mid?: number; ts?: number },
    by: number = conv,
  ): { moved: LocalMessage[]; readByMember: number } {
    const covered = (
      this.db
        .prepare(
          `SELECT * FROM messages WHERE direction = 'out' AND conv = ? AND state != 'sending' ORDER BY local_id`,
        )
        .all(conv) as MessageRow[]
    )
      .map(toMessage)
      .filter((m) => (upTo.mid !== undefined ? m.mid !== null && m.mid <= upTo.mid : m.ts <= (upTo.ts ?? 0)));
    const group = status === 'read' && by !== conv ? this.group(conv) : null;
    let readByMember = 0;
    let reached = covered;
    if (group) {
      const insert = this.db.prepare('INSERT OR IGNORE INTO group_reads (local_id, member) VALUES (?, ?)');
      const count = this.db.prepare('SELECT COUNT(*) AS n FROM group_reads WHERE local_id = ?');
      const others = Math.max(1, group.members.filter((m) => m !== this.identity?.id).length);
      this.db.transaction(() => {
        for (const m of covered) readByMember += insert.run(m.localId, by).changes;
      })();
      reached = covered.filter((m) => (count.get(m.localId) as { n: number }).n >= others);
    }
    const rank = RANK[status];
    const moved = reached.filter((m) => RANK[m.state] < rank);
    const update = this.db.prepare('UPDATE messages SET state = ? WHERE local_id = ?');
    this.db.transaction(() => {
      for (const message of moved) update.run(status, message.localId);
    })();
    return { moved: moved.map((m) => ({ ...m, state: status })), readByMember };
  }

  /** Members of a group who have read one of your messages in it. */
  readers(localId: number): number[] {
    return (
      this.db
        .prepare('SELECT member FROM group_reads WHERE local_id = ? ORDER BY rowid')
        .all(localId) as Array<{
        member: number;
      }>
    ).map((row) => row.member);
  }

  /** Your newest message, in one conversation or in any. */
  lastOutgoing(conv?: number): LocalMessage | null {
    const row = this.db
      .prepare(
        `SELECT * FROM messages WHERE direction = 'out' ${conv === undefined ? '' : 'AND conv = ?'} ORDER BY local_id DESC LIMIT 1`,
      )
      .get(...(conv === undefined ? [] : [conv])) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  /** Unread incoming messages, newest per conversation, optionally for one conversation. */
  unread(conv?: number): Array<{ conv: number; mid: number | null; ts: number; count: number }> {
    const rows = this.db
      .prepare(
        `SELECT conv, MAX(mid) AS mid, MAX(ts) AS ts, COUNT(*) AS count FROM messages
         WHERE direction = 'in' AND read_locally = 0 ${conv === undefined ? '' : 'AND conv = ?'} GROUP BY conv`,
      )
      .all(...(conv === undefined ? [] : [conv])) as Array<{
      conv: number;
      mid: number | null;
      ts: number;
      count: number;
    }>;
    return rows;
  }

  /** Marks a conversation read here, all of it or up to `mid` (a read on another device). */
  markReadLocally(conv: number, upToMid?: number): number {
    return this.db
      .prepare(
        `UPDATE messages SET read_locally = 1 WHERE direction = 'in' AND read_locally = 0 AND conv = ? ${upToMid === undefined ? '' : 'AND mid <= ?'}`,
      )
      .run(...(upToMid === undefined ? [conv] : [conv, upToMid])).changes;
  }

  /**
   * A message of yours that this profile did not send: sent from another device, or read back
   * from the server's history. Stored once per `mid`; false if it was already there.
   */
  addSynced(message: { mid: number; conv: number; text: string; ts: number; state: MessageState }): boolean {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO messages (direction, conv, sender, text, mid, ts, state) VALUES ('out', ?, ?, ?, ?, ?, ?)`,
      )
      .run(message.conv, this.identity?.id ?? null, message.text, message.mid, message.ts, message.state);
    return info.changes > 0;
  }

  /** Each conversation with its newest message and how many are unread here, newest first. */
  conversations(): Array<{ conv: number; last: LocalMessage; unread: number }> {
    const rows = this.db
      .prepare(
        `SELECT m.*, (SELECT COUNT(*) FROM messages u WHERE u.conv = m.conv AND u.direction = 'in' AND u.read_locally = 0) AS unread
         FROM messages m WHERE m.local_id IN (SELECT MAX(local_id) FROM messages WHERE conv IS NOT NULL GROUP BY conv)
         ORDER BY m.local_id DESC`,
      )
      .all() as Array<MessageRow & { unread: number }>;
    return rows.map((row) => ({ conv: row.conv!, last: toMessage(row), unread: row.unread }));
  }

  /** Whether the profile has rebuilt its conversations from the server once. */
  get rebuilt(): boolean {
    return this.getSetting('rebuilt') === '1';
  }

  set rebuilt(done: boolean) {
    this.setSetting('rebuilt', done ? '1' : '0');
  }

  /** The last `limit` messages of one conversation, or of all, oldest first. */
  history(conv: number | null, limit: number): LocalMessage[] {
    const rows = (
      conv === null
        ? this.db.prepare('SELECT * FROM messages ORDER BY local_id DESC LIMIT ?').all(limit)
        : this.db
            .prepare('SELECT * FROM messages WHERE conv = ? ORDER BY local_id DESC LIMIT ?')
            .all(conv, limit)
    ) as MessageRow[];
    return rows.reverse().map(toMessage);
  }

  private byLocalId(localId: number): LocalMessage | null {
    const row = this.db.prepare('SELECT * FROM messages WHERE local_id = ?').get(localId) as
      MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  private byCid(cid: string): LocalMessage | null {
    const row = this.db.prepare('SELECT * FROM messages WHERE cid = ?').get(cid) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }
}

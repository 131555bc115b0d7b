import type Database from 'better-sqlite3';
import { MensageiroError } from '../../core/errors.js';
import type { AppendResult, NewMessage } from '../../core/ports.js';
import type { AccountId, DeliveredMessage, StoredMessage } from '../../core/types.js';
import type { SqliteAccounts } from './accounts.js';
import type { SqliteDevices } from './devices.js';
import type { SqliteInbox } from './inbox.js';
import { KIND_MSG, KIND_SENT } from './inbox-rows.js';

/**
 * A message's rows: one in `messages` (deduplicated on (sender, cid)), one inbox row per
 * recipient, and a `sent` item for the sender's other devices when it has two or more.
 */
export class SqliteMessages {
  private readonly sql;

  constructor(
    db: Database.Database,
    private readonly inbox: SqliteInbox,
    private readonly accounts: SqliteAccounts,
    private readonly devices: SqliteDevices,
  ) {
    this.sql = {
      // OR IGNORE with run() rather than ON CONFLICT ... RETURNING: the same dedup, at half the
      // cost, because RETURNING makes SQLite gather the rows before the statement completes.
      insert: db.prepare(
        `INSERT OR IGNORE INTO messages (sender, conv, cid, text, ts, at, in_group) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      messageByCid: db.prepare(`SELECT * FROM messages WHERE sender = ? AND cid = ?`),
    };
  }

  /** Stores the message for `recipients`, inside the open transaction. */
  append(input: NewMessage, recipients: AccountId[], direct: boolean): AppendResult {
    const inserted = this.sql.insert.run(
      input.from,
      input.to,
      input.cid,
      input.text,
      input.ts,
      input.at,
      direct ? 0 : 1,
    );
    if (inserted.changes === 0) {
      // (sender, cid) is already stored: a resend. Acknowledge the original, deliver nothing.
      const existing = this.sql.messageByCid.get(input.from, input.cid) as Omit<
        StoredMessage,
        'from' | 'to'
      > & {
        sender: number;
        conv: number;
      };
      if (existing === undefined) throw new MensageiroError('internal', 'the message was not stored');
      const message: StoredMessage = {
        mid: existing.mid,
        from: existing.sender,
        to: existing.conv,
        cid: existing.cid,
        text: existing.text,
        ts: existing.ts,
        at: existing.at,
      };
      return { message, duplicate: true, deliveries: [] };
    }
    const mid = Number(inserted.lastInsertRowid);
    const message: StoredMessage = {
      mid,
      from: input.from,
      to: input.to,
      cid: input.cid,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    // Without the cid, the sender's own: what a recipient reads back from the file is the same.
    const delivered: DeliveredMessage = {
      mid,
      from: input.from,
      to: input.to,
      text: input.text,
      ts: input.ts,
      at: input.at,
    };
    const fromName = this.accounts.name(input.from);
    if (fromName !== null) delivered.fromName = fromName;
    const deliveries = recipients.map((user) =>
      this.inbox.append(user, KIND_MSG, mid, null, (seq) => ({ seq, kind: 'msg', msg: delivered })),
    );
    const device = input.device ?? 0;
    if (device > 0 && this.devices.count(input.from) > 1 && !recipients.includes(input.from)) {
      deliveries.push(
        this.inbox.append(input.from, KIND_SENT, mid, device, (seq) => ({
          seq,
          kind: 'sent',
          msg: delivered,
          device,
        })),
      );
    }
    return { message, duplicate: false, deliveries };
  }
}

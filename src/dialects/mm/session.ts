import path from 'node:path';
import { isMensageiroError } from '../../core/errors.js';
import type { Hub } from '../../core/hub.js';
import type { Account, AccountId, InboxItem } from '../../core/types.js';
import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { LineDecoder } from '../line-decoder.js';
import { OrderedWork } from '../ordered-work.js';
import { cleanText } from '../text.js';
import { END_OF_MESSAGES, messageLine, noticeLine, notices, parseClientLine, unescapeText } from './codec.js';
import { MessagesCsv, type ReadMessageRow } from './messages-csv.js';
import { prepareUsers } from './users-csv.js';

const PAGE = 500;

/** How an account is written in mm: its username, or its 13-digit id when it has none. */
export async function mmName(hub: Hub, id: AccountId, cache: Map<AccountId, string>): Promise<string> {
  const known = cache.get(id);
  if (known !== undefined) return known;
  const account = await hub.store.getAccount(id);
  const name = account?.username ?? String(id).padStart(13, '0');
  cache.set(id, name);
  return name;
}

export class MmSession implements Session {
  private readonly lines: LineDecoder;
  private readonly work: OrderedWork;
  private readonly hub: Hub;
  private account: Account | null = null;
  private cursor = 0;
  private readonly names = new Map<AccountId, string>();

  constructor(
    private readonly connection: Connection,
    context: DialectContext,
    private readonly messagesCsv: MessagesCsv,
    /** users.csv is loaded after the ports open; a login waits for it. */
    private readonly usersLoaded: Promise<void>,
  ) {
    this.hub = context.hub;
    this.lines = new LineDecoder(Math.min(context.config.maxFrame, 64 * 1024));
    this.work = new OrderedWork((error) => {
      this.connection.log.error({ conn: this.connection.id, err: error }, 'mm session error');
      this.connection.close();
    });
  }

  onData(chunk: Buffer): void {
    for (const result of this.lines.push(chunk)) {
      if (result.ok) {
        const line = result.line;
        this.work.run(() => this.onLine(line));
      } else {
        // The bad line is dropped; the connection goes on (docs/protocols.md).
        const error = result.error;
        this.work.run(() => (this.account ? this.reply([error.message]) : this.refuse(error.message)));
      }
    }
  }

  onClose(): void {
    if (this.account) this.hub.presence.leave(this.account.id, this.connection);
  }

  private async onLine(line: string): Promise<void> {
    if (this.connection.isClosed) return;
    if (!this.account) return this.login(line.trim());
    const parsed = parseClientLine(line);
    const notes: string[] = [];
    if (parsed.kind === 'invalid') notes.push(notices.usage);
    if (parsed.kind === 'send') {
      try {
        // The same escaping both ways: `\n` is a line break and `\\` a backslash.
        await this.hub.send(this.account.id, { to: parsed.dest, text: cleanText(unescapeText(parsed.text)) });
      } catch (error) {
        if (!isMensageiroError(error)) throw error;
        // Discarded, as the seed says, and the user is told in-band.
        if (error.code === 'unknown_recipient') notes.push(notices.unknownUser(parsed.dest));
        else if (error.code === 'rate_limited' || error.code === 'bad_request') notes.push(error.message);
        else throw error;
      }
    }
    await this.reply(notes);
  }

  private async login(name: string): Promise<void> {
    await this.usersLoaded;
    try {
      this.account = await this.hub.signInWithoutSecret({ username: name }, false, {
        ip: this.connection.remoteAddress,
      });
    } catch (error) {
      if (!isMensageiroError(error)) throw error;
      const text =
        error.code === 'auth_required'
          ? `${name} signs in with a secret; use the native client`
          : error.code === 'rate_limited'
            ? error.message
            : notices.unknownUser(name);
      this.refuse(text);
      return;
    }
    this.connection.established = true;
    this.hub.presence.enter(this.account.id, this.connection);
    this.names.set(this.account.id, this.account.username ?? String(this.account.id).padStart(13, '0'));
    this.cursor = (await this.hub.store.inboxState(this.account.id)).delivered;
    await this.reply([]);
  }

  private refuse(text: string): void {
    this.connection.send(Buffer.from(noticeLine(text), 'utf8'));
    this.connection.close();
  }

  /** Notices, then every new message, then `f`; what was written is delivered and recorded. */
  private async reply(notes: string[]): Promise<void> {
    const account = this.account!;
    for (const note of notes) this.connection.send(Buffer.from(noticeLine(note), 'utf8'));
    for (;;) {
      if (this.connection.isClosed) return;
      if (!this.connection.writable()) {
        await new Promise<void>((resolve) => this.connection.onDrain(resolve));
        continue;
      }
      const items = await this.hub.store.readInbox(account.id, this.cursor, PAGE);
      if (items.length === 0) break;
      await this.write(account, items);
      this.cursor = items[items.length - 1]!.seq;
      await this.hub.ack(account.id, this.cursor);
      if (items.length < PAGE) break;
    }
    this.connection.send(Buffer.from(END_OF_MESSAGES, 'utf8'));
  }

  private async write(account: Account, items: InboxItem[]): Promise<void> {
    const rows: ReadMessageRow[] = [];
    const lines: string[] = [];
    const to = this.names.get(account.id)!;
    for (const item of items) {
      // mm has no way to show receipts or group notices; they are passed over.
      if (item.kind !== 'msg') continue;
      const from = await mmName(this.hub, item.msg.from, this.names);
      lines.push(messageLine(from, item.msg.text));
      rows.push({ timestamp: new Date(item.msg.at).toISOString(), from, to, text: item.msg.text });
    }
    if (this.connection.isClosed) return;
    for (let i = 0; i < lines.length; i++) this.hub.observer.delivered(this.hub.dialect);
    this.messagesCsv.append(rows);
    this.connection.send(Buffer.from(lines.join(''), 'utf8'));
  }
}

/** The mm dialect owns the seed-001 files: users.csv in, messages.csv out. */
export function createMmDialect(): Dialect {
  let messagesCsv: MessagesCsv | null = null;
  let usersLoaded: Promise<void> = Promise.resolve();
  return {
    name: 'mm',
    handshakeTimeoutMs: (config) => config.seedHandshakeTimeout,
    idleTimeoutMs: () => null,
    createSession: (connection, context) => new MmSession(connection, context, messagesCsv!, usersLoaded),
    refuse: (connection, error) => connection.send(Buffer.from(noticeLine(error.message), 'utf8')),
    async start(context) {
      const { config, hub, log } = context;
      if (config.users) {
        const load = prepareUsers(hub, config.users, log);
        usersLoaded = new Promise((resolve) => setImmediate(resolve))
          .then(load)
          .catch((error: unknown) => log.error({ err: error, file: config.users }, 'users not loaded'));
      }
      messagesCsv = new MessagesCsv(config.messages ?? path.join(config.data, 'messages.csv'));
    },
    async stop() {
      await usersLoaded.catch(() => undefined);
      messagesCsv?.close();
      messagesCsv = null;
    },
  };
}

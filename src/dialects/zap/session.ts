import { isMensageiroError } from '../../core/errors.js';
import { isAccountId, type Hub } from '../../core/hub.js';
import type { InboxStream } from '../../core/inbox-stream.js';
import type { AccountId, InboxItem } from '../../core/types.js';
import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { OrderedWork } from '../ordered-work.js';
import { cleanText } from '../text.js';
import { ZapDecoder, encodeZap, zapDataChunks, type ZapFrame } from './codec.js';

/** Maps an inbox item to the frames a zap client expects (06, 07, 09, 11). */
export function zapFramesFor(item: InboxItem): ZapFrame[] {
  switch (item.kind) {
    case 'msg': {
      const { msg } = item;
      return zapDataChunks(msg.text).map((data) => ({
        code: '06',
        src: msg.from,
        dst: msg.to,
        ts: msg.ts,
        data,
      }));
    }
    case 'receipt': {
      const { receipt } = item;
      // 07: everything you sent to dst (a peer or a group) is delivered; 09: dst (the reader) read it.
      return receipt.status === 'delivered'
        ? [{ code: '07', dst: receipt.conv, ts: receipt.ts }]
        : [{ code: '09', dst: receipt.by, ts: receipt.ts }];
    }
    case 'group': {
      // Every change is a new 11 with the members after it; the removed learn so, in theirs.
      const { group, change } = item;
      return [{ code: '11', id: group.id, ts: change.ts, members: group.members.slice(0, 8) }];
    }
    case 'sent':
    case 'read':
      // Sync between devices of one account: zap accounts have no devices.
      return [];
  }
}

export class ZapSession implements Session {
  private readonly decoder = new ZapDecoder();
  private readonly work: OrderedWork;
  private readonly hub: Hub;
  private me: AccountId | null = null;
  private inbox: InboxStream | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connection: Connection,
    private readonly context: DialectContext,
  ) {
    this.hub = context.hub;
    this.work = new OrderedWork((error) => this.onWorkError(error));
  }

  onData(chunk: Buffer): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.handleResults(this.decoder.push(chunk));
    if (this.decoder.pending) {
      // An undelimited 05/10 ends when the client stops sending (PROTOCOLS.md: 50 ms by default).
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.handleResults(this.decoder.flush());
      }, this.context.config.zapFrameIdle);
    }
  }

  onClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.leave();
  }

  private handleResults(results: ReturnType<ZapDecoder['push']>): void {
    for (const result of results) {
      if (!result.ok) {
        // zap has no error frame: log the reason and close only this connection.
        this.connection.log.warn(
          { conn: this.connection.id, ip: this.connection.remoteAddress, reason: result.error.message },
          'zap: malformed input, closing',
        );
        this.work.run(() => this.connection.close());
        return;
      }
      const frame = result.frame;
      this.work.run(() => this.handle(frame));
    }
  }

  private onWorkError(error: unknown): void {
    if (isMensageiroError(error)) {
      this.connection.log.info(
        { conn: this.connection.id, code: error.code, reason: error.message },
        'zap: refused',
      );
      if (error.fatal) this.connection.close();
      return;
    }
    this.connection.log.error({ conn: this.connection.id, err: error }, 'zap session error');
    this.connection.close();
  }

  private send(frame: ZapFrame): void {
    this.connection.send(encodeZap(frame));
  }

  private async handle(frame: ZapFrame): Promise<void> {
    switch (frame.code) {
      case '01': {
        let account;
        try {
          ({ account } = await this.hub.register({}, { ip: this.connection.remoteAddress }));
        } catch (error) {
          // zap cannot say "try later": close, so the client is not left waiting for an 02.
          this.connection.log.warn(
            { conn: this.connection.id, reason: (error as Error).message },
            'zap: 01 refused, closing',
          );
          this.connection.close();
          return;
        }
        this.send({ code: '02', id: account.id });
        this.enter(account.id);
        return;
      }
      case '03':
        return this.onConnect(frame.id);
      case '05':
        return this.onSend(frame);
      case '08':
        return this.onRead(frame.src, frame.ts);
      case '10':
        return this.onCreateGroup(frame);
      default:
        this.connection.log.info(
          { conn: this.connection.id, code: frame.code },
          'zap: server-side code from a client, ignored',
        );
    }
  }

  private async onConnect(id: number): Promise<void> {
    if (this.me === id) return;
    try {
      await this.hub.signInWithoutSecret({ id }, false, { ip: this.connection.remoteAddress });
    } catch (error) {
      this.connection.log.info(
        { conn: this.connection.id, id, reason: (error as Error).message },
        'zap: 03 refused, closing',
      );
      this.connection.close();
      return;
    }
    this.leave();
    this.enter(id);
  }

  private enter(id: AccountId): void {
    this.me = id;
    this.connection.established = true;
    this.hub.presence.enter(id, this.connection);
    void this.hub.store.inboxState(id).then(({ delivered }) => {
      if (this.me !== id || this.connection.isClosed) return;
      this.inbox = this.hub.openInbox(
        id,
        delivered,
        {
          deliver: (item) => {
            for (const frame of zapFramesFor(item)) this.send(frame);
          },
          writable: () => this.connection.writable(),
          open: () => !this.connection.isClosed,
          onDrain: (callback) => this.connection.onDrain(callback),
          whenWritten: (callback) => this.connection.whenWritten(callback),
          onError: () => this.connection.destroy(),
        },
        // zap clients never ack: written to the socket is delivered.
        { autoAck: true },
      );
    });
  }

  private leave(): void {
    this.inbox?.stop();
    this.inbox = null;
    if (this.me !== null) this.hub.presence.leave(this.me, this.connection);
    this.me = null;
  }

  /**
   * Who a frame speaks for: the signed-in id, or, on a connection that never sent 03 (some
   * clients open one per operation), the frame's own src if it is an account with no secret.
   */
  private async actingAs(claimed: number, what: string): Promise<AccountId | null> {
    if (this.me !== null) {
      if (claimed === this.me) return this.me;
      this.connection.log.warn(
        { conn: this.connection.id, me: this.me, claimed },
        `zap: ${what} with a spoofed src dropped`,
      );
      return null;
    }
    try {
      const account = await this.hub.signInWithoutSecret({ id: claimed }, false);
      this.connection.established = true;
      return account.id;
    } catch (error) {
      this.connection.log.warn(
        { conn: this.connection.id, claimed, reason: (error as Error).message },
        `zap: ${what} dropped`,
      );
      return null;
    }
  }

  private async onSend(frame: Extract<ZapFrame, { src: number; dst: number; data: string }>): Promise<void> {
    const from = await this.actingAs(frame.src, '05');
    if (from === null) return;
    if (!isAccountId(frame.dst)) {
      this.connection.log.info(
        { conn: this.connection.id, dst: frame.dst },
        'zap: 05 to an invalid id discarded',
      );
      return;
    }
    try {
      const prepared = await this.hub.prepareSend(from, {
        to: frame.dst,
        text: cleanText(frame.data),
        ts: frame.ts,
      });
      this.hub.commitSend(prepared).catch((error: unknown) => this.onWorkError(error));
    } catch (error) {
      // An unknown dst is discarded, as the seed says.
      this.connection.log.info(
        { conn: this.connection.id, dst: frame.dst, reason: (error as Error).message },
        'zap: 05 discarded',
      );
    }
  }

  private async onRead(src: number, ts: number): Promise<void> {
    // 08 names the originator, not the reader: it means something only on a signed-in connection.
    if (this.me === null) {
      this.connection.log.info({ conn: this.connection.id }, 'zap: 08 before 03 dropped');
      return;
    }
    if (!isAccountId(src)) return;
    await this.hub.markRead(this.me, src, { ts });
  }

  private async onCreateGroup(frame: Extract<ZapFrame, { code: '10' }>): Promise<void> {
    const creator = await this.actingAs(frame.creator, '10');
    if (creator === null) return;
    // Unknown member ids are left out rather than losing the whole group: zap cannot report them.
    const members: AccountId[] = [];
    for (const member of frame.members) {
      if (isAccountId(member) && (await this.hub.store.getAccount(member))) members.push(member);
      else
        this.connection.log.info({ conn: this.connection.id, member }, 'zap: unknown group member left out');
    }
    await this.hub.createGroup(creator, { members, ts: frame.ts });
  }
}

export const zapDialect: Dialect = {
  name: 'zap',
  handshakeTimeoutMs: (config) => config.seedHandshakeTimeout,
  idleTimeoutMs: () => null,
  createSession: (connection, context) => new ZapSession(connection, context),
};

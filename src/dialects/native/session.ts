import { MensageiroError, isMensageiroError } from '../../core/errors.js';
import { isAccountId, type Hub } from '../../core/hub.js';
import type { InboxSink, InboxStream } from '../../core/inbox-stream.js';
import type { Account, InboxItem } from '../../core/types.js';
import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { OrderedWork } from '../ordered-work.js';
import { cleanText, isCleanName } from '../text.js';
import {
  NativeDecoder,
  encodeNative,
  encodeNativeJson,
  nativeFrameText,
  type NativeObject,
} from './codec.js';
import { errorFrame, sentJson, sizedItemJson } from './frames.js';

interface StartOptions {
  /** Plain seed-000 `new`: only msg and error frames, and written counts as delivered. */
  legacy: boolean;
  acks: boolean;
  resume: number | null;
}

function bad(text: string): MensageiroError {
  return new MensageiroError('bad_request', text);
}

function optionalString(frame: NativeObject, key: string): string | undefined {
  const value = frame[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw bad(`${key} must be a string`);
  return value;
}

function optionalSeq(frame: NativeObject, key: string): number | null {
  const value = frame[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${key} must be a non-negative integer`);
  }
  return value;
}

function recipientOf(frame: NativeObject, key: string): number | string {
  const value = frame[key];
  if (isAccountId(value)) return value;
  if (typeof value === 'string' && value.length > 0) return value;
  throw bad(`${key} must be an account id or a username`);
}

export class NativeSession implements Session, InboxSink {
  private readonly decoder: NativeDecoder;
  private readonly work: OrderedWork;
  private readonly hub: Hub;
  private account: Account | null = null;
  private inbox: InboxStream | null = null;
  private legacy = false;
  private compress = false;
  /** Null until a watch or the lobby needs one; most connections never do. */
  private cleanups: Array<() => void> | null = null;

  constructor(
    private readonly connection: Connection,
    context: DialectContext,
  ) {
    this.hub = context.hub;
    this.decoder = new NativeDecoder(context.config.maxFrame);
    this.work = new OrderedWork((error) => this.fail(error));
  }

  /** Who is asking, for the rate limits; made when asked, rather than kept by every connection. */
  private origin(): { ip: string } {
    return { ip: this.connection.remoteAddress };
  }

  onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      if (!frame.ok) {
        this.work.run(() => {
          this.reply(errorFrame(frame.error));
          if (frame.error.fatal) this.connection.close();
        });
        continue;
      }
      if (frame.compressed) this.compress = true;
      const message = frame.message;
      const release = this.hold(message);
      // An error answering a request carries the request's cid, so the client can tell which failed.
      this.work.run(() =>
        this.handle(message, release).catch((error: unknown) => {
          release();
          this.fail(error, message.cid === undefined ? {} : { cid: message.cid });
        }),
      );
    }
  }

  onClose(): void {
    this.inbox?.stop();
    for (const cleanup of this.cleanups ?? []) cleanup();
    this.cleanups = null;
    if (this.account) this.hub.presence.leave(this.account.id);
  }

  private reply(frame: NativeObject): void {
    this.replyJson(JSON.stringify(frame));
  }

  /** `bytes`, the JSON's size in UTF-8, when the caller knows it. */
  private replyJson(json: string, bytes?: number): void {
    if (this.compress) {
      this.connection.send(encodeNativeJson(json, true));
      return;
    }
    const frame = nativeFrameText(json, bytes);
    this.connection.sendText(frame.text, frame.bytes);
  }

  private fail(error: unknown, extra: NativeObject = {}): void {
    if (isMensageiroError(error)) {
      this.reply(errorFrame(error, extra));
      if (error.fatal) this.connection.close();
      return;
    }
    this.connection.log.error({ conn: this.connection.id, err: error }, 'native session error');
    this.reply(errorFrame(new MensageiroError('internal', 'internal error'), extra));
  }

  /**
   * Counts a decoded frame against what this connection may have in hand (texts dominate);
   * the returned call gives it back, once.
   */
  private hold(frame: NativeObject): () => void {
    const bytes = 64 + (typeof frame.text === 'string' ? 2 * frame.text.length : 0);
    this.connection.hold(bytes);
    let held = true;
    return () => {
      if (held) this.connection.release(bytes);
      held = false;
    };
  }

  /** A msg gives its hold back once stored; every other frame once handled. */
  private async handle(frame: NativeObject, release: () => void): Promise<void> {
    if (frame.type === 'msg') return this.onMsg(frame, release);
    await this.dispatch(frame);
    release();
  }

  private async dispatch(frame: NativeObject): Promise<void> {
    const type = frame.type;
    if (typeof type !== 'string') throw bad('every frame has a string "type"');
    switch (type) {
      case 'new':
        return this.onNew(frame);
      case 'register':
        return this.onRegister(frame);
      case 'login':
        return this.onLogin(frame);
      case 'ack':
        return this.onAck(frame);
      case 'read':
        return this.onRead(frame);
      case 'group':
        return this.onGroup(frame);
      case 'who':
        return this.onWho(frame);
      case 'lobby.join':
        return this.onLobbyJoin();
      case 'lobby.leave':
        return this.onLobbyLeave();
      case 'lobby':
        return this.onLobbyPost(frame);
      case 'dir.list':
        this.reply({ type: 'dir.list', names: this.hub.directory.names() });
        return;
      case 'dir.addr':
        return this.onDirAddr(frame);
      case 'lookup':
        return this.onLookup(frame);
      case 'ping':
        this.connection.established = true;
        this.reply({ type: 'pong' });
        return;
      case 'out':
        this.connection.close();
        return;
      default:
        throw new MensageiroError('unknown_type', `unknown frame type ${JSON.stringify(type).slice(0, 64)}`);
    }
  }

  private requireAccount(): Account {
    if (!this.account) throw new MensageiroError('not_signed_in', 'send new, login or register first');
    return this.account;
  }

  private assertSignedOut(): void {
    if (this.account) throw bad('this connection is already signed in');
  }

  private async onNew(frame: NativeObject): Promise<void> {
    this.assertSignedOut();
    if (!isAccountId(frame.id)) throw bad('new needs "id", an integer in [1, 10^13)');
    const account = await this.hub.signInWithoutSecret({ id: frame.id }, true, this.origin());
    const extended = frame.acks !== undefined || frame.resume !== undefined || frame.compress !== undefined;
    if (frame.compress === true) this.compress = true;
    const options: StartOptions = {
      legacy: !extended,
      acks: frame.acks === true,
      resume: optionalSeq(frame, 'resume'),
    };
    await this.start(account, options, null);
  }

  private async onRegister(frame: NativeObject): Promise<void> {
    this.assertSignedOut();
    const username = optionalString(frame, 'username');
    const secret = optionalString(frame, 'secret');
    const { account, token } = await this.hub.register({ username, secret }, this.origin());
    if (frame.compress === true) this.compress = true;
    await this.start(account, { legacy: false, acks: frame.acks === true, resume: null }, token);
  }

  private async onLogin(frame: NativeObject): Promise<void> {
    this.assertSignedOut();
    const id = frame.id;
    if (id !== undefined && !isAccountId(id)) throw bad('id must be an integer in [1, 10^13)');
    const { account, token } = await this.hub.signIn(
      {
        id: id as number | undefined,
        username: optionalString(frame, 'username'),
        secret: optionalString(frame, 'secret'),
        token: optionalString(frame, 'token'),
      },
      this.origin(),
    );
    if (frame.compress === true) this.compress = true;
    const options = { legacy: false, acks: frame.acks === true, resume: optionalSeq(frame, 'resume') };
    await this.start(account, options, token);
  }

  private async start(account: Account, options: StartOptions, token: string | null): Promise<void> {
    this.account = account;
    this.hub.presence.enter(account.id);
    this.legacy = options.legacy;
    this.connection.established = true;
    const state = await this.hub.store.inboxState(account.id);
    let after = state.delivered;
    if (options.resume !== null) {
      after = Math.min(options.resume, state.last);
      // Resuming from N says the client holds everything up to N.
      if (options.acks && after > state.delivered) await this.hub.ack(account.id, after);
    }
    if (!options.legacy) {
      this.reply({
        type: 'welcome',
        id: account.id,
        username: account.username,
        token,
        last: state.last,
        delivered: state.delivered,
        resume: after,
      });
    }
    if (this.connection.isClosed) return;
    this.inbox = this.hub.openInbox(account.id, after, this, { autoAck: !options.acks });
  }

  // The session is its inbox's sink itself: an object of five closures per connection cost
  // about 350 bytes of every idle connection.
  deliver(item: InboxItem): void {
    if (this.legacy && item.kind !== 'msg') return;
    const { json, bytes } = sizedItemJson(item);
    this.replyJson(json, bytes);
  }

  writable(): boolean {
    return this.connection.writable();
  }

  open(): boolean {
    return !this.connection.isClosed;
  }

  onDrain(callback: () => void): void {
    this.connection.onDrain(callback);
  }

  whenWritten(callback: () => void): void {
    this.connection.whenWritten(callback);
  }

  onError(error: unknown): void {
    this.connection.log.error({ err: error }, 'inbox stream failed');
    this.connection.destroy();
  }

  private async onMsg(frame: NativeObject, release: () => void): Promise<void> {
    const account = this.requireAccount();
    const cidValue = frame.cid;
    if (cidValue !== undefined && typeof cidValue !== 'string' && typeof cidValue !== 'number') {
      throw bad('cid must be a string or a number');
    }
    const cid = cidValue === undefined ? null : String(cidValue);
    const echo = cid === null ? {} : { cid: cidValue };
    try {
      if (frame.id !== undefined && frame.id !== account.id) {
        throw new MensageiroError('spoofed_sender', `you are ${account.id}, not ${String(frame.id)}`);
      }
      if (typeof frame.text !== 'string') throw bad('msg needs "text", a string');
      const ts = frame.ts;
      if (ts !== undefined && (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0)) {
        throw bad('ts must be POSIX seconds');
      }
      const prepared = await this.hub.prepareSend(account.id, {
        to: recipientOf(frame, 'to'),
        text: cleanText(frame.text),
        cid,
        ts: ts as number | undefined,
      });
      // Not awaited: the next frame may join the same group commit. The ack follows the commit.
      this.hub.commitSend(prepared).then(
        ({ message, duplicate }) => {
          release();
          if (cid === null) return;
          this.replyJson(
            sentJson({
              cid: cidValue,
              mid: message.mid,
              to: message.to,
              at: message.at,
              ts: message.ts,
              duplicate,
            }),
          );
        },
        (error: unknown) => {
          release();
          this.fail(error, echo);
        },
      );
    } catch (error) {
      release();
      this.fail(error, echo);
    }
  }

  private onAck(frame: NativeObject): void {
    const account = this.requireAccount();
    const seq = optionalSeq(frame, 'seq');
    if (seq === null) throw bad('ack needs "seq"');
    // Submitted in order, but not awaited: an ack settles only after its WAL sync, and the
    // frames behind it (new messages) would otherwise miss the group commit that is gathering.
    this.hub
      .ack(account.id, Math.min(seq, this.inbox?.lastSeq ?? 0))
      .catch((error: unknown) => this.fail(error));
  }

  private async onRead(frame: NativeObject): Promise<void> {
    const account = this.requireAccount();
    if (!isAccountId(frame.conv)) throw bad('read needs "conv", the peer or group id');
    const mid = optionalSeq(frame, 'mid');
    const ts = optionalSeq(frame, 'ts');
    if (mid === null && ts === null) throw bad('read needs "mid" or "ts"');
    await this.hub.markRead(account.id, frame.conv, mid !== null ? { mid } : { ts: ts! });
  }

  private async onGroup(frame: NativeObject): Promise<void> {
    const account = this.requireAccount();
    const members = frame.members;
    if (!Array.isArray(members)) throw bad('group needs "members", a list of ids or usernames');
    const wanted = members.map((member: unknown) => {
      if (isAccountId(member) || (typeof member === 'string' && member.length > 0)) return member;
      throw bad('members are account ids or usernames');
    });
    const name = optionalString(frame, 'name');
    if (name !== undefined && !isCleanName(name)) throw bad('a group name cannot hold control characters');
    const group = await this.hub.createGroup(account.id, {
      name,
      members: wanted,
    });
    const cid = frame.cid;
    this.reply({ type: 'group.created', gid: group.id, ...(cid === undefined ? {} : { cid }) });
  }

  private onWho(frame: NativeObject): void {
    this.requireAccount();
    const ids = frame.ids;
    if (!Array.isArray(ids) || !ids.every(isAccountId)) throw bad('who needs "ids", a list of account ids');
    const watched = new Set<number>(ids as number[]);
    for (const id of watched) this.reply({ type: 'presence', id, online: this.hub.presence.isOnline(id) });
    (this.cleanups ??= []).push(
      this.hub.presence.watch((change) => {
        if (watched.has(change.id)) this.reply({ type: 'presence', id: change.id, online: change.online });
      }),
    );
  }

  private leaveLobby: (() => void) | null = null;

  private onLobbyJoin(): void {
    this.requireAccount();
    if (this.leaveLobby) return;
    this.leaveLobby = this.hub.lobby.join((post) =>
      this.reply({ type: 'lobby', author: post.author, id: post.id, text: post.text, at: post.at }),
    );
    (this.cleanups ??= []).push(() => this.leaveLobby?.());
    this.reply({ type: 'lobby.joined', members: this.hub.lobby.size });
  }

  private onLobbyLeave(): void {
    this.leaveLobby?.();
    this.leaveLobby = null;
  }

  private onLobbyPost(frame: NativeObject): void {
    const account = this.requireAccount();
    if (typeof frame.text !== 'string') throw bad('lobby needs "text"');
    this.hub.lobby.post(account.username ?? String(account.id), account.id, cleanText(frame.text));
  }

  /** Resolves a username or id to an account or group, so clients can keep contacts by id. */
  private async onLookup(frame: NativeObject): Promise<void> {
    this.requireAccount();
    const name = frame.name;
    if (!isAccountId(name) && (typeof name !== 'string' || name.length === 0))
      throw bad('lookup needs "name"');
    const found = await this.hub.resolve(name as string | number);
    if (!found) throw new MensageiroError('unknown_recipient', `unknown user ${String(name)}`);
    const echo = frame.cid === undefined ? {} : { cid: frame.cid };
    this.reply(
      found.kind === 'user'
        ? {
            type: 'lookup',
            name,
            id: found.account.id,
            username: found.account.username,
            kind: 'user',
            ...echo,
          }
        : { type: 'lookup', name, id: found.group.id, groupName: found.group.name, kind: 'group', ...echo },
    );
  }

  private onDirAddr(frame: NativeObject): void {
    const name = optionalString(frame, 'name');
    if (name === undefined) throw bad('dir.addr needs "name"');
    const entry = this.hub.directory.lookup(name);
    this.reply({ type: 'dir.addr', name, ip: entry?.ip ?? null, port: entry?.port ?? null });
  }
}

export const nativeDialect: Dialect = {
  name: 'native',
  handshakeTimeoutMs: (config) => config.handshakeTimeout,
  idleTimeoutMs: () => null,
  createSession: (connection, context) => new NativeSession(connection, context),
  refuse: (connection, error) => connection.send(encodeNative(errorFrame(error))),
};

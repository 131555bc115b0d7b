import { devicesSubject, type DevicesRevoked } from '../../core/account-settings.js';
import { MensageiroError, isMensageiroError } from '../../core/errors.js';
import { isAccountId, type Hub, type SignedIn } from '../../core/hub.js';
import type { InboxSink, InboxStream } from '../../core/inbox-stream.js';
import type { Account, InboxItem } from '../../core/types.js';
import type { Connection } from '../../server/connection.js';
import type { DialectContext } from '../../server/dialect.js';
import { OrderedWork } from '../ordered-work.js';
import { cleanText } from '../text.js';
import { ACCOUNT_HANDLERS } from './account-handlers.js';
import type { NativeObject } from './codec.js';
import { errorFrame, sentJson, sizedItemJson, welcomeFrame } from './frames.js';
import { GROUP_HANDLERS } from './group-handlers.js';
import { HISTORY_HANDLERS } from './history-handlers.js';
import {
  bad,
  credentialsOf,
  optionalSeq,
  optionalString,
  recipientOf,
  type NativeHandler,
  type NativeRequest,
} from './requests.js';

/** Requests of a signed-in account, one handler file per topic. */
const REQUESTS: Record<string, NativeHandler> = {
  ...ACCOUNT_HANDLERS,
  ...GROUP_HANDLERS,
  ...HISTORY_HANDLERS,
};

/**
 * How one native JSON object reaches the client: `<len>,<json>` on TCP (dialect.ts), one text
 * message on a WebSocket (server/web-door.ts). The session never sees the framing.
 */
export interface NativeFramer {
  /** `bytes`, the JSON's size in UTF-8, when the caller knows it. */
  writeJson(json: string, bytes?: number): void;
  /** The client asked for compressed frames; a framing without them ignores it. */
  compress(): void;
}

/** What the session needs of its connection, beyond writing: a TCP Connection or a WebSocket's. */
export type NativeLink = Pick<
  Connection,
  | 'id'
  | 'log'
  | 'remoteAddress'
  | 'established'
  | 'isClosed'
  | 'close'
  | 'destroy'
  | 'writable'
  | 'onDrain'
  | 'whenWritten'
  | 'hold'
  | 'release'
>;

interface StartOptions {
  /** Plain seed-000 `new`: only msg and error frames, and written counts as delivered. */
  legacy: boolean;
  acks: boolean;
  resume: number | null;
}

/** One native client's session, fed already-decoded objects by its framing. */
export class NativeSession implements InboxSink {
  private readonly work: OrderedWork;
  private readonly hub: Hub;
  private account: Account | null = null;
  /** 0 for accounts without devices (see docs/protocols.md, Devices). */
  private device = 0;
  private inbox: InboxStream | null = null;
  private legacy = false;
  /** Null until a watch or the lobby needs one; most connections never do. */
  private cleanups: Array<() => void> | null = null;

  constructor(
    private readonly connection: NativeLink,
    context: DialectContext,
    private readonly framer: NativeFramer,
  ) {
    this.hub = context.hub;
    this.work = new OrderedWork((error) => this.fail(error));
  }

  /** Who is asking, for the rate limits; made when asked, rather than kept by every connection. */
  private origin(): { ip: string } {
    return { ip: this.connection.remoteAddress };
  }

  /** One object the client sent, handled in order after those before it. */
  receive(message: NativeObject): void {
    const release = this.hold(message);
    // An error answering a request carries the request's cid, so the client can tell which failed.
    this.work.run(() =>
      this.handle(message, release).catch((error: unknown) => {
        release();
        this.fail(error, message.cid === undefined ? {} : { cid: message.cid });
      }),
    );
  }

  /** Input the framing could not turn into an object: answered in order, closing if fatal. */
  receiveError(error: MensageiroError): void {
    this.work.run(() => {
      this.reply(errorFrame(error));
      if (error.fatal) this.connection.close();
    });
  }

  onClose(): void {
    this.inbox?.stop();
    for (const cleanup of this.cleanups ?? []) cleanup();
    this.cleanups = null;
    if (this.account) this.hub.presence.leave(this.account.id, this.connection);
  }

  private reply(frame: NativeObject): void {
    this.replyJson(JSON.stringify(frame));
  }

  private replyJson(json: string, bytes?: number): void {
    this.framer.writeJson(json, bytes);
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
      case 'ping':
        this.connection.established = true;
        this.reply({ type: 'pong' });
        return;
      case 'out':
        this.connection.close();
        return;
      default: {
        const handler = REQUESTS[type];
        if (handler) return handler(this.request(), frame);
        throw new MensageiroError('unknown_type', `unknown frame type ${JSON.stringify(type).slice(0, 64)}`);
      }
    }
  }

  private request(): NativeRequest {
    return {
      hub: this.hub,
      account: this.requireAccount(),
      device: this.device,
      ip: this.connection.remoteAddress,
      reply: (frame) => this.reply(frame),
      close: () => this.connection.close(),
      setAccount: (account) => (this.account = account),
    };
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
    if (frame.compress === true) this.framer.compress();
    const options: StartOptions = {
      legacy: !extended,
      acks: frame.acks === true,
      resume: optionalSeq(frame, 'resume'),
    };
    await this.start({ account, token: null, device: 0 }, options);
  }

  private async onRegister(frame: NativeObject): Promise<void> {
    this.assertSignedOut();
    const username = optionalString(frame, 'username');
    const secret = optionalString(frame, 'secret');
    const deviceName = optionalString(frame, 'device_name');
    const signedIn = await this.hub.register({ username, secret, deviceName }, this.origin());
    if (frame.compress === true) this.framer.compress();
    await this.start(signedIn, { legacy: false, acks: frame.acks === true, resume: null });
  }

  private async onLogin(frame: NativeObject): Promise<void> {
    this.assertSignedOut();
    const signedIn = await this.hub.signIn(credentialsOf(frame), this.origin());
    if (frame.compress === true) this.framer.compress();
    const options = { legacy: false, acks: frame.acks === true, resume: optionalSeq(frame, 'resume') };
    await this.start(signedIn, options);
  }

  private async start({ account, token, device }: SignedIn, options: StartOptions): Promise<void> {
    this.account = account;
    this.device = device;
    this.hub.presence.enter(account.id, this.connection);
    this.legacy = options.legacy;
    this.connection.established = true;
    if (device > 0) this.endWhenRevoked(account.id);
    const state = await this.hub.store.inboxState(account.id, device);
    let after = state.delivered;
    if (options.resume !== null) {
      after = Math.min(options.resume, state.last);
      // Resuming from N says the client holds everything up to N.
      if (options.acks && after > state.delivered) await this.hub.ack(account.id, after, device);
    }
    if (!options.legacy) this.reply(welcomeFrame({ account, token, device }, state, after));
    if (this.connection.isClosed) return;
    this.inbox = this.hub.openInbox(account.id, after, this, { autoAck: !options.acks, device });
  }

  /** A revoked device's token is refused from now on; its open connections end too. */
  private endWhenRevoked(account: number): void {
    const subject = devicesSubject(account);
    const listener = (payload: unknown) => {
      if (!(payload as DevicesRevoked).revoked.includes(this.device)) return;
      this.reply(errorFrame(new MensageiroError('auth_failed', 'this device was signed out')));
      this.connection.close();
    };
    this.hub.bus.subscribe(subject, listener);
    (this.cleanups ??= []).push(() => this.hub.bus.unsubscribe(subject, listener));
  }

  // The session is its inbox's sink itself: an object of five closures per connection cost
  // about 350 bytes of every idle connection.
  deliver(item: InboxItem): void {
    if (this.legacy && item.kind !== 'msg') return;
    // What this device sent or read itself, it knows already.
    if ((item.kind === 'sent' || item.kind === 'read') && item.device === this.device) return;
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
        device: this.device,
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
      .ack(account.id, Math.min(seq, this.inbox?.lastSeq ?? 0), this.device)
      .catch((error: unknown) => this.fail(error));
  }

  private async onRead(frame: NativeObject): Promise<void> {
    const account = this.requireAccount();
    if (!isAccountId(frame.conv)) throw bad('read needs "conv", the peer or group id');
    const mid = optionalSeq(frame, 'mid');
    const ts = optionalSeq(frame, 'ts');
    if (mid === null && ts === null) throw bad('read needs "mid" or "ts"');
    await this.hub.markRead(account.id, frame.conv, mid !== null ? { mid } : { ts: ts! }, this.device);
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

  private onDirAddr(frame: NativeObject): void {
    const name = optionalString(frame, 'name');
    if (name === undefined) throw bad('dir.addr needs "name"');
    const entry = this.hub.directory.lookup(name);
    this.reply({ type: 'dir.addr', name, ip: entry?.ip ?? null, port: entry?.port ?? null });
  }
}

import { AccountSettings, checkUsername } from './account-settings.js';
import { Directory } from './directory.js';
import { MensageiroError } from './errors.js';
import { Lobby } from './lobby.js';
import { NodeWatch } from './node-watch.js';
import type { Bus, HubObserver, NewMessage, ReadMark, SignInEvent, Store } from './ports.js';
import { checkGroupChange, type GroupChangeAsk } from './group-changes.js';
import { Presence } from './presence.js';
import { RateLimiter } from './rate-limiter.js';
import { hashSecret, hashToken, randomAccountId, spendHashingWork, verifySecret } from './secrets.js';
import { MAX_GROUP_SIZE, NO_DEVICE } from './types.js';
import type { Account, AccountId, Delivery, Group, InboxItem } from './types.js';
import { InboxStream, type InboxSink } from './inbox-stream.js';
import {
  DEFAULT_LIMITS,
  UNOBSERVED,
  codeOf,
  isAccountId,
  type HubOptions,
  type Origin,
  type Credentials,
  type SignedIn,
  type SendRequest,
  type SendResult,
  type Recipient,
} from './hub-types.js';

export { validUsername } from './account-settings.js';
export { DEFAULT_LIMITS, isAccountId } from './hub-types.js';
export type {
  HubLimits,
  HubOptions,
  Origin,
  Credentials,
  SignedIn,
  SendRequest,
  SendResult,
  Recipient,
} from './hub-types.js';

const ID_RETRIES = 8;

/** Inbox subjects the hub keeps made; past it, it starts over. */
const SUBJECTS_KEPT = 100_000;

/**
 * The messaging core. Every dialect session calls these methods; nothing here knows about
 * sockets, wire formats or a concrete store.
 */
export class Hub {
  readonly store: Store;
  readonly bus: Bus;
  readonly presence: Presence;
  readonly lobby: Lobby;
  readonly directory: Directory;
  readonly settings: AccountSettings;
  readonly maxGroupSize: number;
  readonly now: () => number;
  readonly observer: HubObserver;
  /** The dialect whose sessions use this hub (see forDialect), for what the observer counts. */
  readonly dialect: string = 'server';
  /** Accounts an operator suspended: no dialect signs them in. The server loads it from the store. */
  readonly suspended = new Set<AccountId>();
  private readonly messageLimit: RateLimiter;
  private readonly registrationLimit: RateLimiter;
  private readonly signInLimit: RateLimiter;
  readonly nodes: NodeWatch | null = null;
  /**
   * Inbox subjects by user, made once: every delivery and receipt publishes to one, and printing
   * a 13-digit id (a double to V8) and hashing the new string each time cost more than a lookup.
   */
  private readonly subjects = new Map<AccountId, string>();

  constructor(options: HubOptions) {
    this.store = options.store;
    this.bus = options.bus;
    this.now = options.now ?? Date.now;
    this.observer = options.observer ?? UNOBSERVED;
    const limits = options.limits ?? DEFAULT_LIMITS;
    this.messageLimit = new RateLimiter('messages', limits.messages, this.now);
    this.registrationLimit = new RateLimiter(
      'registrations from your address',
      limits.registrations,
      this.now,
    );
    this.signInLimit = new RateLimiter('sign-in attempts from your address', limits.signIns, this.now);
    const node = options.cluster?.node ?? 'local';
    this.presence = new Presence(this.bus, node);
    this.lobby = new Lobby(this.bus, this.now);
    this.directory = new Directory(this.now, this.bus, node);
    this.settings = new AccountSettings(this.store, this.bus, this.now);
    this.maxGroupSize = options.maxGroupSize ?? MAX_GROUP_SIZE;
    if (options.cluster) {
      this.nodes = new NodeWatch(this.bus, node, options.cluster.heartbeatMs, this.now, [
        this.presence,
        this.directory,
      ]);
      this.nodes.start();
    }
  }

  /** Stops the heartbeats; the bus and the store are the server's to close. */
  close(): void {
    this.nodes?.stop();
  }

  /**
   * This hub as one dialect's sessions see it: the same state and methods, with what they do
   * reported to the observer under `dialect`. A prototype view costs nothing per call.
   */
  forDialect(dialect: string): Hub {
    return Object.create(this, { dialect: { value: dialect } }) as Hub;
  }

  /** Suspends an account: it cannot sign in anywhere, and its sessions are closed now. */
  suspend(id: AccountId): number {
    this.suspended.add(id);
    return this.presence.disconnect(id);
  }

  /** Creates an account with a random id; returns a session token when it has a secret. */
  register(
    request: { username?: string; secret?: string; deviceName?: string } = {},
    origin?: Origin,
  ): Promise<SignedIn> {
    return this.reported('registration', origin, this.registerAccount(request, origin));
  }

  private async registerAccount(
    request: { username?: string; secret?: string; deviceName?: string },
    origin?: Origin,
  ): Promise<SignedIn> {
    if (origin) this.registrationLimit.take(origin.ip);
    const username = request.username ?? null;
    if (username !== null) checkUsername(username);
    if (request.secret !== undefined && request.secret.length === 0) {
      throw new MensageiroError('bad_request', 'an empty secret is no secret');
    }
    const secretHash = request.secret === undefined ? null : await hashSecret(request.secret);
    const account = await this.createWithRandomId((id) =>
      this.store.createAccount({ id, username, secretHash }),
    );
    if (secretHash === null) return { account, token: null, device: NO_DEVICE };
    const { device, token } = await this.settings.newDevice(account.id, request.deviceName ?? null);
    return { account, token, device };
  }

  /**
   * Sign-in with a secret or a token, for the dialects that carry one. A token signs in as its
   * device; a secret makes a new device, or renews `device`.
   */
  signIn(credentials: Credentials, origin?: Origin): Promise<SignedIn> {
    return this.reported('sign-in', origin, this.checkCredentials(credentials, origin));
  }

  private async checkCredentials(credentials: Credentials, origin?: Origin): Promise<SignedIn> {
    if (origin) this.signInLimit.take(origin.ip);
    if (credentials.token !== undefined) {
      const found = await this.store.deviceForToken(hashToken(credentials.token));
      const account = found === null ? null : await this.store.getAccount(found.account);
      if (!found || !account) throw new MensageiroError('auth_failed', 'unknown or revoked token');
      const named = credentials.id ?? credentials.username;
      const other =
        (credentials.id !== undefined && credentials.id !== account.id) ||
        (credentials.username !== undefined &&
          credentials.username.toLowerCase() !== account.username?.toLowerCase());
      if (named !== undefined && other) {
        throw new MensageiroError('auth_failed', `this token does not belong to ${named}`);
      }
      this.admit(account);
      return { account, token: null, device: found.device };
    }
    const account = await this.findAccount(credentials);
    if (!account) {
      // As slow as a wrong secret for a real account, so timing does not tell who exists.
      await spendHashingWork(credentials.secret ?? '');
      throw new MensageiroError('auth_failed', 'wrong account or secret');
    }
    this.admit(account);
    if (account.secretHash === null) {
      if (credentials.secret !== undefined)
        throw new MensageiroError('auth_failed', 'this account has no secret');
      return { account, token: null, device: NO_DEVICE };
    }
    if (credentials.secret === undefined || !(await verifySecret(credentials.secret, account.secretHash))) {
      throw new MensageiroError('auth_failed', 'wrong account or secret');
    }
    if (credentials.device !== undefined) {
      const token = await this.settings.renewDevice(account.id, credentials.device);
      return { account, token, device: credentials.device };
    }
    const { device, token } = await this.settings.newDevice(account.id, credentials.deviceName ?? null);
    return { account, token, device };
  }

  /** A check of a secret outside sign-in (changing it) draws on the same per-address limit. */
  limitSecretChecks(origin: Origin): void {
    this.signInLimit.take(origin.ip);
  }

  /**
   * Sign-in for dialects with no credentials (native `new`, zap 03, the mm username). Accounts
   * that have a secret are refused: they must sign in where the secret can be checked.
   */
  signInWithoutSecret(
    lookup: { id?: AccountId; username?: string },
    createIfMissing: boolean,
    origin?: Origin,
  ): Promise<Account> {
    const signedIn = this.findWithoutSecret(lookup, createIfMissing, origin).then((account) => ({ account }));
    return this.reported('sign-in', origin, signedIn).then(({ account }) => account);
  }

  private async findWithoutSecret(
    lookup: { id?: AccountId; username?: string },
    createIfMissing: boolean,
    origin?: Origin,
  ): Promise<Account> {
    if (origin) this.signInLimit.take(origin.ip);
    let account = await this.findAccount(lookup);
    if (!account && createIfMissing && lookup.id !== undefined) {
      if (await this.store.idExists(lookup.id))
        throw new MensageiroError('conflict', `${lookup.id} is a group`);
      // Creating an account is a registration, whichever door it comes through.
      if (origin) this.registrationLimit.take(origin.ip);
      account = await this.store.createAccount({ id: lookup.id }).catch(async (error: unknown) => {
        // Two connections racing to create the same seed-000 id: the loser just signs in.
        const existing = await this.store.getAccount(lookup.id!);
        if (existing) return existing;
        throw error;
      });
    }
    if (!account)
      throw new MensageiroError('unknown_account', `unknown user ${lookup.username ?? lookup.id}`);
    if (account.secretHash !== null) {
      throw new MensageiroError('auth_required', 'this account has a secret: sign in with it');
    }
    this.admit(account);
    return account;
  }

  private admit(account: Account): void {
    if (this.suspended.has(account.id)) {
      throw new MensageiroError('auth_failed', 'this account is suspended');
    }
  }

  /** Reports how a registration or sign-in ended; secrets and tokens stay out of the event. */
  private async reported<T extends { account: Account }>(
    kind: SignInEvent['kind'],
    origin: Origin | undefined,
    work: Promise<T>,
  ): Promise<T> {
    const ip = origin?.ip ?? null;
    try {
      const result = await work;
      this.observer.signIn({ dialect: this.dialect, kind, ip, account: result.account, error: null });
      return result;
    } catch (error) {
      const code = codeOf(error);
      this.observer.failed(this.dialect, code, ip);
      this.observer.signIn({
        dialect: this.dialect,
        kind,
        ip,
        account: null,
        error: { code, message: error instanceof Error ? error.message : String(error) },
      });
      throw error;
    }
  }

  /** Makes sure a username exists as a secret-less account (users.csv). */
  async ensureUser(username: string): Promise<Account> {
    const existing = await this.store.findAccountByUsername(username);
    if (existing) return existing;
    try {
      return (await this.register({ username })).account;
    } catch (error) {
      // Another node loading the same users.csv made it first.
      const made = error instanceof MensageiroError && error.code === 'username_taken';
      const account = made ? await this.store.findAccountByUsername(username) : null;
      if (account) return account;
      throw error;
    }
  }

  async resolve(to: AccountId | string): Promise<Recipient | null> {
    let id: AccountId | null = null;
    if (typeof to === 'number') id = to;
    else if (/^\d{1,13}$/.test(to)) id = Number(to);
    if (id !== null) {
      if (!isAccountId(id)) return null;
      const account = await this.store.getAccount(id);
      if (account) return { kind: 'user', account };
      const group = await this.store.getGroup(id);
      return group ? { kind: 'group', group } : null;
    }
    const account = await this.store.findAccountByUsername(to as string);
    return account ? { kind: 'user', account } : null;
  }

  /** Stores durably, then routes. Resolves only after the commit: that is the sender's ack. */
  async send(from: AccountId, request: SendRequest): Promise<SendResult> {
    return this.commitSend(await this.prepareSend(from, request));
  }

  /**
   * The part of a send that must happen in the sender's order: resolving the recipient.
   * Sessions await this per frame and then commit without waiting, so a pipelined client's
   * messages share one group commit and keep their order.
   */
  prepareSend(from: AccountId, request: SendRequest): Promise<NewMessage> {
    const prepared = this.resolveSend(from, request);
    // A derived promise, so the caller's await costs no extra turn.
    prepared.catch((error: unknown) => this.observer.failed(this.dialect, codeOf(error), from));
    return prepared;
  }

  private async resolveSend(from: AccountId, request: SendRequest): Promise<NewMessage> {
    this.messageLimit.take(from);
    const recipient = await this.resolve(request.to);
    if (!recipient) throw new MensageiroError('unknown_recipient', `unknown recipient ${request.to}`);
    let to: AccountId;
    let recipients: AccountId[];
    if (recipient.kind === 'user') {
      to = recipient.account.id;
      recipients = [to];
    } else {
      if (!recipient.group.members.includes(from)) {
        throw new MensageiroError('forbidden', `you are not in group ${recipient.group.id}`);
      }
      to = recipient.group.id;
      recipients = recipient.group.members.filter((member) => member !== from);
    }
    const at = this.now();
    return {
      from,
      to,
      cid: request.cid ?? null,
      text: request.text,
      ts: request.ts ?? Math.floor(at / 1000),
      at,
      recipients,
      ...(request.device ? { device: request.device } : {}),
    };
  }

  async commitSend(prepared: NewMessage): Promise<SendResult> {
    let result;
    try {
      result = await this.store.appendMessage(prepared);
    } catch (error) {
      this.observer.failed(this.dialect, codeOf(error), prepared.from);
      throw error;
    }
    this.observer.accepted(this.dialect, result.duplicate);
    this.route(result.deliveries);
    return { message: result.message, duplicate: result.duplicate };
  }

  async createGroup(
    creator: AccountId,
    request: { name?: string; members: Array<AccountId | string>; ts?: number },
  ): Promise<Group> {
    const members: AccountId[] = [creator];
    for (const wanted of request.members) {
      const recipient = await this.resolve(wanted);
      if (!recipient || recipient.kind !== 'user') {
        throw new MensageiroError('unknown_recipient', `unknown member ${wanted}`);
      }
      if (!members.includes(recipient.account.id)) members.push(recipient.account.id);
    }
    if (members.length > this.maxGroupSize) {
      throw new MensageiroError(
        'group_too_large',
        `a group has at most ${this.maxGroupSize} members, creator included`,
      );
    }
    const at = this.now();
    const { group, deliveries } = await this.createWithRandomId((id) =>
      this.store.createGroup({
        id,
        name: request.name ?? '',
        creator,
        members,
        ts: request.ts ?? Math.floor(at / 1000),
        at,
      }),
    );
    this.route(deliveries);
    return group;
  }

  /** A change to a group by one of its members: see group-changes.ts for who may do what. */
  async changeGroup(by: AccountId, request: GroupChangeAsk): Promise<Group> {
    const { group, deliveries } = await this.store.changeGroup(await checkGroupChange(this, by, request));
    this.route(deliveries);
    return group;
  }

  /** The user has everything in their inbox up to `seq`: moves the cursor, sends receipts. */
  async ack(user: AccountId, seq: number, device = NO_DEVICE): Promise<void> {
    const receipts = await this.store.ackDelivered(user, seq, this.now(), device);
    if (receipts.length > 0) this.observer.receipts(receipts.length);
    this.route(receipts);
  }

  async markRead(reader: AccountId, conv: AccountId, mark: ReadMark, device = NO_DEVICE): Promise<void> {
    const receipts = await this.store.markRead(reader, conv, mark, this.now(), device);
    if (receipts.length > 0) this.observer.receipts(receipts.length);
    this.route(receipts);
  }

  /** Streams a user's inbox after `afterSeq`, first from the store, then live. */
  openInbox(
    user: AccountId,
    afterSeq: number,
    sink: InboxSink,
    options: { autoAck: boolean; device?: number },
  ): InboxStream {
    const stream = new InboxStream(this, user, afterSeq, sink, options.autoAck, options.device ?? NO_DEVICE);
    stream.start();
    return stream;
  }

  /** `u.<id>`: on NATS, `<prefix>.u.<id>`, one subject per user connected to a node. */
  inboxSubject(user: AccountId): string {
    let subject = this.subjects.get(user);
    if (subject === undefined) {
      if (this.subjects.size >= SUBJECTS_KEPT) this.subjects.clear();
      subject = `u.${user}`;
      this.subjects.set(user, subject);
    }
    return subject;
  }

  private route(deliveries: Delivery[]): void {
    for (const delivery of deliveries) {
      this.bus.publish(this.inboxSubject(delivery.to), delivery.item satisfies InboxItem);
    }
  }

  private async findAccount(lookup: { id?: AccountId; username?: string }): Promise<Account | null> {
    if (lookup.id !== undefined) return isAccountId(lookup.id) ? this.store.getAccount(lookup.id) : null;
    if (lookup.username !== undefined) {
      const recipient = await this.resolve(lookup.username);
      return recipient?.kind === 'user' ? recipient.account : null;
    }
    return null;
  }

  private async createWithRandomId<T>(create: (id: AccountId) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create(randomAccountId());
      } catch (error) {
        const collided = error instanceof MensageiroError && error.code === 'conflict';
        if (!collided || attempt >= ID_RETRIES) throw error;
      }
    }
  }
}

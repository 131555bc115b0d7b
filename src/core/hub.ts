import { Directory } from './directory.js';
import { MensageiroError } from './errors.js';
import { Lobby } from './lobby.js';
import { NodeWatch } from './node-watch.js';
import type { Bus, NewMessage, ReadMark, Store } from './ports.js';
import { Presence } from './presence.js';
import { RateLimiter, type RateLimit } from './rate-limiter.js';
import { hashSecret, hashToken, newToken, randomAccountId, verifySecret } from './secrets.js';
import { MAX_ACCOUNT_ID, MAX_GROUP_SIZE } from './types.js';
import type { Account, AccountId, Delivery, Group, InboxItem, StoredMessage } from './types.js';
import { InboxStream, type InboxSink } from './inbox-stream.js';

const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
const ID_RETRIES = 8;

export interface HubLimits {
  /** Messages per account. Signal allows a burst of 60, then one a second. */
  messages: RateLimit;
  /** Registrations per IP address. */
  registrations: RateLimit;
  /** Sign-in attempts per IP address. */
  signIns: RateLimit;
}

export const DEFAULT_LIMITS: HubLimits = {
  messages: { burst: 60, perSecond: 1 },
  registrations: { burst: 60, perSecond: 0.5 },
  signIns: { burst: 100, perSecond: 5 },
};

export interface HubOptions {
  store: Store;
  bus: Bus;
  now?: () => number;
  limits?: HubLimits;
  /**
   * This node's name among many on a shared bus. With it, nodes exchange heartbeats and their
   * presence and p2p directory (a node unheard for 3 heartbeats is dropped).
   */
  cluster?: { node: string; heartbeatMs: number };
}

/** Where a request comes from: the client's IP address, for the per-address limits. */
export interface Origin {
  ip: string;
}

export interface Credentials {
  id?: AccountId;
  username?: string;
  secret?: string;
  token?: string;
}

export interface SendRequest {
  to: AccountId | string;
  text: string;
  cid?: string | null;
  /** The sender's own POSIX seconds; the server's when absent. */
  ts?: number;
}

export interface SendResult {
  message: StoredMessage;
  duplicate: boolean;
}

export type Recipient = { kind: 'user'; account: Account } | { kind: 'group'; group: Group };

export function isAccountId(value: unknown): value is AccountId {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value < MAX_ACCOUNT_ID;
}

export function validUsername(name: string): boolean {
  // An all-digit name would be mistaken for an id where dialects write ids in place of names.
  return USERNAME.test(name) && !/^\d+$/.test(name);
}

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
  readonly now: () => number;
  private readonly messageLimit: RateLimiter;
  private readonly registrationLimit: RateLimiter;
  private readonly signInLimit: RateLimiter;
  readonly nodes: NodeWatch | null = null;

  constructor(options: HubOptions) {
    this.store = options.store;
    this.bus = options.bus;
    this.now = options.now ?? Date.now;
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

  /** Creates an account with a random id; returns a session token when it has a secret. */
  async register(
    request: { username?: string; secret?: string } = {},
    origin?: Origin,
  ): Promise<{
    account: Account;
    token: string | null;
  }> {
    if (origin) this.registrationLimit.take(origin.ip);
    const username = request.username ?? null;
    if (username !== null && !validUsername(username)) {
      throw new MensageiroError(
        'bad_request',
        'a username is 1 to 32 of A-Z a-z 0-9 _ . - and not all digits',
      );
    }
    if (request.secret !== undefined && request.secret.length === 0) {
      throw new MensageiroError('bad_request', 'an empty secret is no secret');
    }
    const secretHash = request.secret === undefined ? null : await hashSecret(request.secret);
    const account = await this.createWithRandomId((id) =>
      this.store.createAccount({ id, username, secretHash }),
    );
    const token = secretHash === null ? null : await this.issueToken(account.id);
    return { account, token };
  }

  /** Sign-in with a secret or a token, for the dialects that carry one. */
  async signIn(
    credentials: Credentials,
    origin?: Origin,
  ): Promise<{ account: Account; token: string | null }> {
    if (origin) this.signInLimit.take(origin.ip);
    if (credentials.token !== undefined) {
      const id = await this.store.accountForToken(hashToken(credentials.token));
      const account = id === null ? null : await this.store.getAccount(id);
      if (!account) throw new MensageiroError('auth_failed', 'unknown or expired token');
      return { account, token: null };
    }
    const account = await this.findAccount(credentials);
    if (!account) throw new MensageiroError('auth_failed', 'wrong account or secret');
    if (account.secretHash === null) {
      if (credentials.secret !== undefined)
        throw new MensageiroError('auth_failed', 'this account has no secret');
      return { account, token: null };
    }
    if (credentials.secret === undefined || !(await verifySecret(credentials.secret, account.secretHash))) {
      throw new MensageiroError('auth_failed', 'wrong account or secret');
    }
    return { account, token: await this.issueToken(account.id) };
  }

  /**
   * Sign-in for dialects with no credentials (native `new`, zap 03, the mm username). Accounts
   * that have a secret are refused: they must sign in where the secret can be checked.
   */
  async signInWithoutSecret(
    lookup: { id?: AccountId; username?: string },
    createIfMissing: boolean,
    origin?: Origin,
  ): Promise<Account> {
    if (origin) this.signInLimit.take(origin.ip);
    let account = await this.findAccount(lookup);
    if (!account && createIfMissing && lookup.id !== undefined) {
      if (await this.store.idExists(lookup.id))
        throw new MensageiroError('conflict', `${lookup.id} is a group`);
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
    return account;
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
  async prepareSend(from: AccountId, request: SendRequest): Promise<NewMessage> {
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
        throw new MensageiroError('unknown_recipient', `you are not in group ${recipient.group.id}`);
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
    };
  }

  async commitSend(prepared: NewMessage): Promise<SendResult> {
    const result = await this.store.appendMessage(prepared);
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
    if (members.length > MAX_GROUP_SIZE) {
      throw new MensageiroError(
        'group_too_large',
        `a group has at most ${MAX_GROUP_SIZE} members, creator included`,
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

  /** The user has everything in their inbox up to `seq`: moves the watermark, sends receipts. */
  async ack(user: AccountId, seq: number): Promise<void> {
    this.route(await this.store.ackDelivered(user, seq, this.now()));
  }

  async markRead(reader: AccountId, conv: AccountId, mark: ReadMark): Promise<void> {
    this.route(await this.store.markRead(reader, conv, mark, this.now()));
  }

  /** Streams a user's inbox after `afterSeq`, first from the store, then live. */
  openInbox(user: AccountId, afterSeq: number, sink: InboxSink, options: { autoAck: boolean }): InboxStream {
    const stream = new InboxStream(this, user, afterSeq, sink, options.autoAck);
    stream.start();
    return stream;
  }

  /** `u.<id>`: on NATS, `<prefix>.u.<id>`, one subject per user connected to a node. */
  inboxSubject(user: AccountId): string {
    return `u.${user}`;
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

  private async issueToken(account: AccountId): Promise<string> {
    const token = newToken();
    await this.store.saveToken(hashToken(token), account, this.now());
    return token;
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

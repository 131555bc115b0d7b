import type { AccountSettings } from './account-settings.js';
import { checkUsername } from './account-settings.js';
import { MensageiroError } from './errors.js';
import type { HubLimits, Origin, Credentials, SignedIn } from './hub-types.js';
import { isAccountId } from './hub-types.js';
import type { Store } from './ports.js';
import { RateLimiter } from './rate-limiter.js';
import { hashSecret, hashToken, randomAccountId, spendHashingWork, verifySecret } from './secrets.js';
import { NO_DEVICE, type Account, type AccountId } from './types.js';

const ID_RETRIES = 8;

/**
 * Who may in: registrations, sign-ins with a secret or a token, and the seed doors' sign-ins
 * without one, each under its per-address limit. The hub reports how each ended.
 */
export class SignIns {
  private readonly registrations: RateLimiter;
  private readonly attempts: RateLimiter;

  constructor(
    private readonly store: Store,
    private readonly settings: AccountSettings,
    /** Accounts an operator suspended; the hub's own set. */
    private readonly suspended: ReadonlySet<AccountId>,
    limits: HubLimits,
    now: () => number,
  ) {
    this.registrations = new RateLimiter('registrations from your address', limits.registrations, now);
    this.attempts = new RateLimiter('sign-in attempts from your address', limits.signIns, now);
  }

  async register(
    request: { username?: string; secret?: string; deviceName?: string },
    origin?: Origin,
  ): Promise<SignedIn> {
    if (origin) this.registrations.take(origin.ip);
    const username = request.username ?? null;
    if (username !== null) checkUsername(username);
    if (request.secret !== undefined && request.secret.length === 0) {
      throw new MensageiroError('bad_request', 'an empty secret is no secret');
    }
    const secretHash = request.secret === undefined ? null : await hashSecret(request.secret);
    const account = await withRandomId((id) => this.store.createAccount({ id, username, secretHash }));
    if (secretHash === null) return { account, token: null, device: NO_DEVICE };
    const { device, token } = await this.settings.newDevice(account.id, request.deviceName ?? null);
    return { account, token, device };
  }

  async withCredentials(credentials: Credentials, origin?: Origin): Promise<SignedIn> {
    if (origin) this.attempts.take(origin.ip);
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
    this.attempts.take(origin.ip);
  }

  async withoutSecret(
    lookup: { id?: AccountId; username?: string },
    createIfMissing: boolean,
    origin?: Origin,
  ): Promise<Account> {
    if (origin) this.attempts.take(origin.ip);
    let account = await this.findAccount(lookup);
    if (!account && createIfMissing && lookup.id !== undefined) {
      if (await this.store.idExists(lookup.id))
        throw new MensageiroError('conflict', `${lookup.id} is a group`);
      // Creating an account is a registration, whichever door it comes through.
      if (origin) this.registrations.take(origin.ip);
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

  private async findAccount(lookup: { id?: AccountId; username?: string }): Promise<Account | null> {
    if (lookup.id !== undefined) return isAccountId(lookup.id) ? this.store.getAccount(lookup.id) : null;
    if (lookup.username !== undefined) {
      // A name of digits is an id, as everywhere a recipient is named.
      if (/^\d{1,13}$/.test(lookup.username)) return this.findAccount({ id: Number(lookup.username) });
      return this.store.findAccountByUsername(lookup.username);
    }
    return null;
  }
}

/** Creates something under a random account id, drawing again when the id is taken. */
export async function withRandomId<T>(create: (id: AccountId) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await create(randomAccountId());
    } catch (error) {
      const collided = error instanceof MensageiroError && error.code === 'conflict';
      if (!collided || attempt >= ID_RETRIES) throw error;
    }
  }
}

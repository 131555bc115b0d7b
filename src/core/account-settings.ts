import { MensageiroError } from './errors.js';
import type { Bus, Store } from './ports.js';
import { hashSecret, hashToken, newToken, verifySecret } from './secrets.js';
import type { Account, AccountId, DeviceInfo } from './types.js';

const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
const DISPLAY_NAME_MAX = 64;
// C0 and C1 controls, and DEL: they would break seed framings and terminals.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function validUsername(name: string): boolean {
  // An all-digit name would be mistaken for an id where dialects write ids in place of names.
  return USERNAME.test(name) && !/^\d+$/.test(name);
}

export function checkUsername(name: string): void {
  if (!validUsername(name)) {
    throw new MensageiroError('bad_request', 'a username is 1 to 32 of A-Z a-z 0-9 _ . - and not all digits');
  }
}

/** The subject a session of a device listens on, to close when its device is revoked. */
export function devicesSubject(account: AccountId): string {
  return `devices.${account}`;
}

/** Published on devicesSubject: these devices were revoked; their sessions must end. */
export interface DevicesRevoked {
  revoked: number[];
}

/**
 * What an account changes about itself: names, its secret, its devices. Each device holds one
 * token; revoking a device deletes its token, so the token is refused on every door.
 */
export class AccountSettings {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly now: () => number,
  ) {}

  /** A new device of the account and its token. */
  async newDevice(account: AccountId, name: string | null): Promise<{ device: number; token: string }> {
    const token = newToken();
    const info = await this.store.createDevice(account, hashToken(token), name, this.now());
    return { device: info.device, token };
  }

  /** A fresh token for a device the account already has (the secret was checked). */
  async renewDevice(account: AccountId, device: number): Promise<string> {
    const token = newToken();
    if (!(await this.store.replaceDeviceToken(account, device, hashToken(token), this.now()))) {
      throw new MensageiroError('bad_request', `this account has no device ${device}`);
    }
    return token;
  }

  async updateProfile(
    account: AccountId,
    change: { username?: string; displayName?: string | null },
  ): Promise<Account> {
    if (change.username !== undefined) checkUsername(change.username);
    const displayName = change.displayName;
    if (
      typeof displayName === 'string' &&
      (displayName.length === 0 || [...displayName].length > DISPLAY_NAME_MAX || CONTROL.test(displayName))
    ) {
      throw new MensageiroError(
        'bad_request',
        `a display name is 1 to ${DISPLAY_NAME_MAX} characters, with no control characters`,
      );
    }
    return this.store.updateAccount(account, change);
  }

  /**
   * Changes the secret after checking the current one (an account with none sets its first).
   * With `revokeAll`, every other device is signed out and `device` gets a new token.
   */
  async changeSecret(
    id: AccountId,
    device: number,
    request: { current?: string; next: string; revokeAll: boolean },
  ): Promise<{ account: Account; token: string | null; revoked: number[] }> {
    if (request.next.length === 0) throw new MensageiroError('bad_request', 'an empty secret is no secret');
    const current = await this.store.getAccount(id);
    if (!current) throw new MensageiroError('unknown_account', `no account ${id}`);
    if (current.secretHash !== null) {
      const ok = request.current !== undefined && (await verifySecret(request.current, current.secretHash));
      if (!ok) throw new MensageiroError('auth_failed', 'the current secret is wrong');
    }
    const account = await this.store.updateAccount(id, { secretHash: await hashSecret(request.next) });
    if (!request.revokeAll) return { account, token: null, revoked: [] };
    const revoked = await this.revoke(id, 'all', device);
    // A connection with no device (the account had no secret) gets its first one now.
    const token = device > 0 ? await this.renewDevice(id, device) : (await this.newDevice(id, null)).token;
    return { account, token, revoked };
  }

  listDevices(account: AccountId): Promise<DeviceInfo[]> {
    return this.store.listDevices(account);
  }

  /** Revokes devices and ends their sessions on every node. */
  async revoke(account: AccountId, device: number | 'all', keep?: number): Promise<number[]> {
    const revoked = await this.store.revokeDevices(account, device, keep);
    if (revoked.length > 0) {
      this.bus.publish(devicesSubject(account), { revoked } satisfies DevicesRevoked);
    }
    return revoked;
  }
}

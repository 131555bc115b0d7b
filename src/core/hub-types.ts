import type { ErrorCode } from './errors.js';
import { MensageiroError } from './errors.js';
import type { Bus, HubObserver, Store } from './ports.js';
import type { RateLimit } from './rate-limiter.js';
import { MAX_ACCOUNT_ID } from './types.js';
import type { Account, AccountId, Group, StoredMessage } from './types.js';

/** What the hub is given and what its calls take and return. */

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
  /** Members a group may have, creator included (`--max-group-size`). */
  maxGroupSize?: number;
  observer?: HubObserver;
}

export const UNOBSERVED: HubObserver = {
  accepted() {},
  delivered() {},
  receipts() {},
  signIn() {},
  failed() {},
};

export function codeOf(error: unknown): ErrorCode {
  return error instanceof MensageiroError ? error.code : 'internal';
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
  /** With a secret: sign in again as this device of the account, rather than a new one. */
  device?: number;
  /** A label for a new device. */
  deviceName?: string;
}

/** Who signed in, and as which device (NO_DEVICE for accounts without a secret). */
export interface SignedIn {
  account: Account;
  token: string | null;
  device: number;
}

export interface SendRequest {
  to: AccountId | string;
  text: string;
  cid?: string | null;
  /** The sender's own POSIX seconds; the server's when absent. */
  ts?: number;
  /** The sending device, so the sender's other devices get the message too. */
  device?: number;
}

export interface SendResult {
  message: StoredMessage;
  duplicate: boolean;
}

export type Recipient = { kind: 'user'; account: Account } | { kind: 'group'; group: Group };

export function isAccountId(value: unknown): value is AccountId {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value < MAX_ACCOUNT_ID;
}

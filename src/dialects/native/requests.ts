import { MensageiroError } from '../../core/errors.js';
import { isAccountId, type Credentials, type Hub } from '../../core/hub.js';
import type { Account } from '../../core/types.js';
import type { NativeObject } from './codec.js';

/** Field readers shared by the native session and its request handlers. */

export function bad(text: string): MensageiroError {
  return new MensageiroError('bad_request', text);
}

export function optionalString(frame: NativeObject, key: string): string | undefined {
  const value = frame[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw bad(`${key} must be a string`);
  return value;
}

export function optionalSeq(frame: NativeObject, key: string): number | null {
  const value = frame[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${key} must be a non-negative integer`);
  }
  return value;
}

export function recipientOf(frame: NativeObject, key: string): number | string {
  const value = frame[key];
  if (isAccountId(value)) return value;
  if (typeof value === 'string' && value.length > 0) return value;
  throw bad(`${key} must be an account id or a username`);
}

/** A list of ids or usernames. */
export function recipientsOf(frame: NativeObject, key: string): Array<number | string> {
  const values = frame[key];
  if (!Array.isArray(values)) throw bad(`${key} must be a list of ids or usernames`);
  return values.map((value: unknown) => {
    if (isAccountId(value) || (typeof value === 'string' && value.length > 0)) return value;
    throw bad(`${key} are account ids or usernames`);
  });
}

/** What a `login` frame signs in with. */
export function credentialsOf(frame: NativeObject): Credentials {
  const id = frame.id;
  if (id !== undefined && !isAccountId(id)) throw bad('id must be an integer in [1, 10^13)');
  return {
    id: id as number | undefined,
    username: optionalString(frame, 'username'),
    secret: optionalString(frame, 'secret'),
    token: optionalString(frame, 'token'),
    device: optionalSeq(frame, 'device') ?? undefined,
    deviceName: optionalString(frame, 'device_name'),
  };
}

/** `{ cid }` when the request had one, for its answer. */
export function echoCid(frame: NativeObject): NativeObject {
  return frame.cid === undefined ? {} : { cid: frame.cid };
}

/** What a request handler gets of its signed-in session. */
export interface NativeRequest {
  hub: Hub;
  account: Account;
  /** 0 when the account has no devices. */
  device: number;
  /** The client's address, for the per-address limits. */
  ip: string;
  reply(frame: NativeObject): void;
  /** Closes the connection once what was replied is written. */
  close(): void;
  /** The account changed (names, secret): later frames see the new one. */
  setAccount(account: Account): void;
}

export type NativeHandler = (request: NativeRequest, frame: NativeObject) => Promise<void> | void;

import fs from 'node:fs';
import { LocalState, defaultHome } from '../client/local-state.js';
import { NativeLink } from '../client/chat-link.js';
import type { ClientOptions } from '../client/client.js';
import { serverLabel, type ServerAddress } from '../client/servers.js';
import { MensageiroError, isMensageiroError } from '../core/errors.js';

export interface ProfileOptions {
  home?: string;
  username?: string;
  secret?: string;
  /** Connect with TLS; `ca` pins a certificate authority file (for a self-signed server). */
  tls?: boolean;
  ca?: string;
}

/** The SDK's TLS option from the command line's --tls and --ca. */
export function tlsOption(options: ProfileOptions): boolean | { ca: Buffer } | undefined {
  if (options.ca) return { ca: fs.readFileSync(options.ca) };
  return options.tls ? true : undefined;
}

export function homeOf(options: ProfileOptions): string {
  return options.home ?? defaultHome();
}

export function openProfile(profile: string, options: ProfileOptions): LocalState {
  return LocalState.open(homeOf(options), profile);
}

/** A profile that must exist already (commands that act for an account, not make one). */
export function openExistingProfile(profile: string, options: ProfileOptions): LocalState {
  if (!LocalState.exists(homeOf(options), profile)) {
    throw new MensageiroError(
      'bad_request',
      `no profile ${profile} in ${homeOf(options)}; make it with: mensageiro register --profile ${profile}` +
        ` (a new account) or mensageiro login ${profile} --username <name> (an existing one)`,
    );
  }
  return openProfile(profile, options);
}

/**
 * Refuses flags that a profile which already holds an account would not use, rather than
 * ignoring them: a profile is one account.
 */
export function checkProfileFlags(state: LocalState, profile: string, options: ProfileOptions): void {
  const identity = state.identity;
  if (!identity || options.username === undefined) return;
  if (identity.username?.toLowerCase() === options.username.toLowerCase()) return;
  throw new MensageiroError(
    'bad_request',
    `profile ${profile} is already account ${identity.username ?? identity.id} (id ${identity.id}); ` +
      `--username only names the account of a new profile: use another profile name or --home`,
  );
}

export type SignInMode = 'register-or-sign-in' | 'sign-in';

/**
 * How a profile signs in: with what it stored (a fresh `--secret` wins over the stored token);
 * a profile with nothing stored registers, or, given a username that is taken and a secret, signs
 * in to that account as a new device; `sign-in` (mensageiro login) never registers.
 */
export function signInOptions(
  state: LocalState | null,
  options: ProfileOptions,
  mode: SignInMode = 'register-or-sign-in',
  profile?: string,
): Pick<ClientOptions, 'identity' | 'register' | 'resumeFrom' | 'deviceName'> {
  const deviceName = profile === undefined ? undefined : `${profile} (terminal)`;
  const identity = state?.identity?.dialect === 'native' ? state.identity : null;
  if (identity) {
    return {
      identity:
        options.secret !== undefined
          ? { id: identity.id, secret: options.secret, device: identity.device || undefined }
          : { id: identity.id, token: identity.token ?? undefined },
      resumeFrom: state!.lastSeq,
      deviceName,
    };
  }
  if (mode === 'sign-in')
    return { identity: { username: options.username, secret: options.secret }, deviceName };
  const orSignIn = options.username !== undefined && options.secret !== undefined;
  return { register: { username: options.username, secret: options.secret, orSignIn }, deviceName };
}

/** Says what went wrong at sign-in, and what to do about it. */
export function explainSignIn(error: unknown, profile: string, options: ProfileOptions): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!isMensageiroError(error)) return message;
  if (error.code === 'username_taken')
    return `${message}; if it is yours, sign in to it: mensageiro login ${profile} --username ${options.username} --secret <secret>`;
  if (error.code === 'auth_failed' || error.code === 'auth_required') return `cannot sign in: ${message}`;
  if (error.code === 'bad_request') return `refused: ${message}`;
  return message;
}

/** A native link for a profile. */
export function nativeLinkFor(
  state: LocalState,
  servers: ServerAddress[],
  options: ProfileOptions,
  profile: string,
): NativeLink {
  const signIn = signInOptions(state, options, 'register-or-sign-in', profile);
  return new NativeLink({ servers, ...signIn, tls: tlsOption(options) });
}

/** The server list as stored with an identity and shown to the user. */
export function serversLabel(servers: ServerAddress[]): string {
  return servers.map(serverLabel).join(',');
}

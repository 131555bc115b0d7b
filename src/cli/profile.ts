import fs from 'node:fs';
import { LocalState, defaultHome } from '../client/local-state.js';
import { NativeLink } from '../client/chat-link.js';
import type { Endpoint } from './chat-command.js';

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

export function openProfile(profile: string, options: ProfileOptions): LocalState {
  return LocalState.open(options.home ?? defaultHome(), profile);
}

/** A native link for a profile: signs in with what it stored, or registers on first use. */
export function nativeLinkFor(state: LocalState, endpoint: Endpoint, options: ProfileOptions): NativeLink {
  const identity = state.identity;
  return new NativeLink({
    host: endpoint.host,
    port: endpoint.port,
    identity:
      identity && identity.dialect === 'native'
        ? { id: identity.id, token: identity.token ?? undefined, secret: options.secret }
        : undefined,
    register: { username: options.username, secret: options.secret },
    resumeFrom: identity?.dialect === 'native' ? state.lastSeq : 0,
    tls: tlsOption(options),
  });
}

/** `host:port` as stored with an identity and shown to the user. */
export function serverLabel(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

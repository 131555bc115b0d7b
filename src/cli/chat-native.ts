import type { ChatLink } from '../client/chat-link.js';
import type { ServerAddress } from '../client/servers.js';
import { ZapLink } from '../client/zap-link.js';
import { MensageiroError } from '../core/errors.js';
import { ChatUi } from './chat-ui.js';
import {
  checkProfileFlags,
  explainSignIn,
  nativeLinkFor,
  openProfile,
  serversLabel,
  type ProfileOptions,
} from './profile.js';
import { Terminal } from './terminal.js';

/** The everyday chat: a profile's local state, a link in its dialect, and the UI. Resolves with the exit code. */
export async function runChat(
  profile: string,
  dialect: string,
  servers: ServerAddress[],
  options: ProfileOptions,
): Promise<number> {
  if (dialect === 'zap' && (options.username !== undefined || options.secret !== undefined))
    throw new MensageiroError(
      'bad_request',
      'zap accounts have no username or secret: leave out --username and --secret',
    );
  const state = openProfile(profile, options);
  const identity = state.identity;
  const fresh = identity === null;
  try {
    if (identity && identity.dialect !== dialect) {
      throw new MensageiroError(
        'bad_request',
        `profile ${profile} is a ${identity.dialect} account; use another profile for ${dialect}`,
      );
    }
    checkProfileFlags(state, profile, options);
  } catch (error) {
    state.close();
    throw error;
  }
  const terminal = new Terminal(process.stdin, process.stdout, `${profile}> `);
  const link: ChatLink =
    dialect === 'zap'
      ? new ZapLink(servers[0]!.host, servers[0]!.port, identity?.id ?? null, {
          onNotice: (text) => terminal.print(`* ${text}`),
        })
      : nativeLinkFor(state, servers, options, profile);
  if (dialect === 'zap')
    terminal.print('* zap dialect: no usernames, presence or lobby; contacts are 13-digit ids');
  const server = serversLabel(servers);
  const greeting = identity
    ? undefined
    : options.username !== undefined && options.secret !== undefined
      ? `signing in to ${options.username} on ${server}, or registering it if the name is free`
      : `registering a new account on ${server}`;
  const code = await new ChatUi(link, state, terminal).run({
    server,
    greeting,
    explain: (error) => explainSignIn(error, profile, options),
  });
  // A profile that never signed in leaves nothing behind.
  if (fresh && state.identity === null) state.discard();
  else state.close();
  return code;
}

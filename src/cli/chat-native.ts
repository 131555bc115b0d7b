import type { ChatLink } from '../client/chat-link.js';
import { ZapLink } from '../client/zap-link.js';
import type { Endpoint } from './chat-command.js';
import { ChatUi } from './chat-ui.js';
import { nativeLinkFor, openProfile, serverLabel, type ProfileOptions } from './profile.js';
import { Terminal } from './terminal.js';

/** The everyday chat: a profile's local state, a link in its dialect, and the UI. */
export async function runChat(
  profile: string,
  dialect: string,
  endpoint: Endpoint,
  options: ProfileOptions,
): Promise<void> {
  const state = openProfile(profile, options);
  const identity = state.identity;
  if (identity && identity.dialect !== dialect) {
    throw new Error(
      `profile ${profile} is a ${identity.dialect} account; use another profile for ${dialect}`,
    );
  }
  const terminal = new Terminal(process.stdin, process.stdout, `${profile}> `);
  const link: ChatLink =
    dialect === 'zap'
      ? new ZapLink(endpoint.host, endpoint.port, identity?.id ?? null, {
          onNotice: (text) => terminal.print(`* ${text}`),
        })
      : nativeLinkFor(state, endpoint, options);
  if (dialect === 'zap')
    terminal.print('* zap dialect: no usernames, presence or lobby; contacts are 13-digit ids');
  try {
    await new ChatUi(link, state, terminal).run({ server: serverLabel(endpoint) });
  } finally {
    state.close();
  }
}

import crypto from 'node:crypto';
import type { Command } from 'commander';
import { Client } from '../client/client.js';
import { LocalState } from '../client/local-state.js';
import { MensageiroError } from '../core/errors.js';
import { serversOf } from './chat-command.js';
import { displayName } from './chat-view.js';
import {
  checkProfileFlags,
  explainSignIn,
  homeOf,
  openExistingProfile,
  openProfile,
  serversLabel,
  signInOptions,
  tlsOption,
  type ProfileOptions,
  type SignInMode,
} from './profile.js';

export interface CommonOptions extends ProfileOptions {
  profile: string;
  server?: string;
}

export function common(command: Command): Command {
  return command
    .option('--profile <name>', 'local profile (one account each)', 'default')
    .option(
      '--server <host:port,...>',
      'native server address, or a list to fail over through',
      '127.0.0.1:7333',
    )
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .option('--tls', "connect with TLS (the server's --tls-port)")
    .option('--ca <file>', 'trust only this certificate authority (implies --tls)');
}

/**
 * Signs in once, with no reconnect: one-shot commands fail fast when no server answers. `state`
 * is null for a profile that does not exist yet; it is made only once the server said yes.
 */
export async function connectOnce(
  state: LocalState | null,
  options: CommonOptions,
  mode?: SignInMode,
): Promise<{ client: Client; state: LocalState }> {
  const servers = serversOf({ server: options.server }, 'native');
  const client = new Client({
    servers,
    ...signInOptions(state, options, mode, options.profile),
    reconnect: false,
    tls: tlsOption(options),
  });
  try {
    await client.connect();
  } catch (error) {
    state?.close();
    throw new MensageiroError('bad_request', explainSignIn(error, options.profile, options));
  }
  const profile = state ?? openProfile(options.profile, options);
  const known = profile.identity;
  profile.identity = {
    id: client.id!,
    username: client.username,
    token: client.token ?? known?.token ?? null,
    server: serversLabel(servers),
    dialect: 'native',
    device: client.device,
  };
  return { client, state: profile };
}

/** register and login make a profile: refused for one that already holds an account. */
function assertNewProfile(options: CommonOptions): void {
  if (!LocalState.exists(homeOf(options), options.profile)) return;
  const state = openProfile(options.profile, options);
  const identity = state.identity;
  state.close();
  if (identity)
    throw new MensageiroError(
      'bad_request',
      `profile ${options.profile} already holds account ${identity.username ?? identity.id} (id ${identity.id}); choose another --profile`,
    );
}

export function addOneShotCommands(program: Command): void {
  common(program.command('register').description('create an account for a new profile and print its id'))
    .option('--username <name>', 'a username others can use to reach you')
    .option('--secret <secret>', 'a secret; only the native and web dialects can then sign in')
    .action(async (options: CommonOptions) => {
      assertNewProfile(options);
      const { client, state } = await connectOnce(null, options);
      console.log(
        `registered ${client.username ?? client.id} (id ${client.id}) as profile ${options.profile}`,
      );
      client.close();
      state.close();
    });

  common(
    program
      .command('login')
      .description('sign a new profile in to an existing account (another device of it)')
      .argument('[profile]', 'the new profile'),
  )
    .requiredOption('--username <name>', 'the account to sign in to')
    .option('--secret <secret>', "the account's secret (for an account that has one)")
    .action(async (profile: string | undefined, options: CommonOptions) => {
      if (profile !== undefined) options.profile = profile;
      assertNewProfile(options);
      const { client, state } = await connectOnce(null, options, 'sign-in');
      console.log(
        `signed in as ${client.username ?? client.id} (id ${client.id}); profile ${options.profile} is ready: mensageiro chat ${options.profile}`,
      );
      client.close();
      state.close();
    });

  common(program.command('send').description('send one message; exits 0 only after the durable ack'))
    .argument('<to>', 'contact alias, group name, username or id')
    .argument('<text...>', 'the message')
    .option('--secret <secret>', 'the profile secret, if the account has one')
    .action(async (to: string, words: string[], options: CommonOptions) => {
      const existing = openExistingProfile(options.profile, options);
      checkProfileFlags(existing, options.profile, options);
      const { client, state } = await connectOnce(existing, options);
      const text = words.join(' ');
      const known = state.contact(to) ?? state.group(to);
      const target = known ? known.id : /^\d{1,13}$/.test(to) ? Number(to) : to;
      const cid = crypto.randomUUID();
      state.addOutgoing({
        cid,
        target: to,
        conv: typeof target === 'number' ? target : null,
        text,
        ts: Math.floor(Date.now() / 1000),
      });
      try {
        const ack = await client.send(target, text, cid);
        if (typeof target === 'string') state.rememberUsername(target, ack.to);
        state.markSent(cid, ack.mid, ack.to);
        console.log(`sent to ${to} (message ${ack.mid})`);
      } catch (error) {
        state.dropOutgoing(cid);
        throw error;
      } finally {
        client.close();
        state.close();
      }
    });

  program
    .command('history')
    .description('print the local history with a contact or group')
    .argument('<contact>', 'contact alias, group name or id')
    .option('--profile <name>', 'local profile', 'default')
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .option('--limit <n>', 'how many messages', '50')
    .action((name: string, options: { profile: string; home?: string; limit: string }) => {
      const state = openExistingProfile(options.profile, options);
      try {
        const contact = state.contact(name);
        const group = state.group(name);
        const conv = contact?.id ?? group?.id ?? (/^\d{1,13}$/.test(name) ? Number(name) : null);
        if (conv === null)
          throw new MensageiroError(
            'bad_request',
            `no contact or group ${name} in profile ${options.profile}`,
          );
        for (const m of state.history(conv, Number(options.limit))) {
          const time = new Date(m.ts * 1000).toISOString().slice(0, 16).replace('T', ' ');
          const sender = displayName(state, m.from, state.identity?.id ?? null);
          const who = m.direction === 'out' ? `me → ${name}` : m.from === conv ? name : `${sender} @ ${name}`;
          console.log(`[${time}] ${who}: ${m.text}${m.direction === 'out' ? ` (${m.state})` : ''}`);
        }
      } finally {
        state.close();
      }
    });
}

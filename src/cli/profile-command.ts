import type { Command } from 'commander';
import type { Client } from '../client/client.js';
import type { LocalState } from '../client/local-state.js';
import { MensageiroError } from '../core/errors.js';
import { common, connectOnce, type CommonOptions } from './oneshot-commands.js';
import { openExistingProfile } from './profile.js';

/** Signs an existing profile in once, runs `work`, and closes both whatever happens. */
async function withAccount(
  options: CommonOptions,
  work: (client: Client, state: LocalState) => Promise<void>,
): Promise<void> {
  const existing = openExistingProfile(options.profile, options);
  const { client, state } = await connectOnce(existing, options);
  try {
    await work(client, state);
  } finally {
    client.close();
    state.close();
  }
}

export function addProfileCommand(program: Command): void {
  const profile = program.command('profile').description("your account's names, secret and devices");

  profile
    .command('show')
    .description('the account this profile holds (no server needed)')
    .option('--profile <name>', 'local profile', 'default')
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .action((options: CommonOptions) => {
      const state = openExistingProfile(options.profile, options);
      const identity = state.identity;
      state.close();
      if (!identity) throw new MensageiroError('bad_request', `profile ${options.profile} never signed in`);
      console.log(
        `${identity.username ?? identity.id} (id ${identity.id}), device ${identity.device ?? 0}, ${identity.dialect} on ${identity.server}`,
      );
    });

  common(profile.command('set').description('change your username or display name'))
    .option('--username <name>', 'a new username')
    .option('--display-name <name>', 'the name others see ("" clears it)')
    .option('--secret <secret>', 'your secret, if the stored token no longer works')
    .action(async (options: CommonOptions & { username?: string; displayName?: string }) => {
      const { username, displayName } = options;
      if (username === undefined && displayName === undefined)
        throw new MensageiroError('bad_request', 'give --username and/or --display-name');
      // Here --username is the new name, not a check against the stored one.
      await withAccount({ ...options, username: undefined }, async (client, state) => {
        const changed = await client.setProfile({
          username,
          displayName: displayName === undefined ? undefined : displayName || null,
        });
        state.identity = { ...state.identity!, username: changed.username };
        console.log(
          `you are ${changed.username ?? changed.id}${changed.displayName ? ` (${changed.displayName})` : ''}`,
        );
      });
    });

  common(profile.command('secret').description('change your secret'))
    .requiredOption('--secret <secret>', 'the current secret')
    .requiredOption('--new-secret <secret>', 'the new secret')
    .option('--revoke-all', 'sign every other device out')
    .action(async (options: CommonOptions & { newSecret: string; revokeAll?: boolean }) => {
      await withAccount(options, async (client, state) => {
        const result = await client.changeSecret(options.secret!, options.newSecret, {
          revokeAll: options.revokeAll,
        });
        if (result.token) state.identity = { ...state.identity!, token: result.token };
        const revoked = result.revoked.length ? `; signed out devices ${result.revoked.join(', ')}` : '';
        console.log(`secret changed${revoked}`);
      });
    });

  common(profile.command('devices').description("your account's devices")).action(
    async (options: CommonOptions) => {
      await withAccount(options, async (client) => {
        for (const d of await client.devices()) {
          const created = new Date(d.created_at).toISOString().slice(0, 16).replace('T', ' ');
          console.log(
            `${d.device}${d.current ? ' (this one)' : ''}: ${d.name ?? 'unnamed'}, since ${created}`,
          );
        }
      });
    },
  );

  common(profile.command('logout').description('sign this device out: its token stops working')).action(
    async (options: CommonOptions) => {
      await withAccount(options, async (client, state) => {
        const device = client.device;
        await client.logout();
        state.identity = { ...state.identity!, token: null };
        console.log(`signed out device ${device}; the history stays in profile ${options.profile}`);
      });
    },
  );

  common(profile.command('revoke').description('sign another device of your account out'))
    .argument('<device>', 'its number, from mensageiro profile devices')
    .action(async (device: string, options: CommonOptions) => {
      if (!/^\d+$/.test(device))
        throw new MensageiroError('bad_request', `a device is a number, not ${device}`);
      await withAccount(options, async (client) => {
        await client.revokeDevice(Number(device));
        console.log(`device ${device} is signed out`);
      });
    });
}

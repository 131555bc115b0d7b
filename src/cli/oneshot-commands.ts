import crypto from 'node:crypto';
import type { Command } from 'commander';
import { Client } from '../client/client.js';
import { MensageiroError } from '../core/errors.js';
import { endpointOf } from './chat-command.js';
import { openProfile, serverLabel, tlsOption, type ProfileOptions } from './profile.js';

interface CommonOptions extends ProfileOptions {
  profile: string;
  server?: string;
}

function common(command: Command): Command {
  return command
    .option('--profile <name>', 'local profile (one account each)', 'default')
    .option('--server <host:port>', 'native server address', '127.0.0.1:7333')
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .option('--tls', "connect with TLS (the server's --tls-port)")
    .option('--ca <file>', 'trust only this certificate authority (implies --tls)');
}

/** The SDK says why in parentheses at the end of its message ("... (ECONNREFUSED ...)"). */
function reasonOf(message: string): string {
  const match = /( \([^()]*\))$/.exec(message);
  return match ? match[1]! : '';
}

/** A client for a profile with no reconnect: one-shot commands fail fast when the server is away. */
async function connectOnce(options: CommonOptions & { username?: string; secret?: string }) {
  const endpoint = endpointOf({ server: options.server }, 'native');
  const state = openProfile(options.profile, options);
  const identity = state.identity?.dialect === 'native' ? state.identity : null;
  const client = new Client({
    host: endpoint.host,
    port: endpoint.port,
    identity: identity
      ? { id: identity.id, token: identity.token ?? undefined, secret: options.secret }
      : undefined,
    register: { username: options.username, secret: options.secret },
    resumeFrom: identity ? state.lastSeq : 0,
    reconnect: false,
    tls: tlsOption(options),
  });
  try {
    await client.connect();
  } catch (error) {
    state.close();
    throw error instanceof MensageiroError && error.code === 'timeout'
      ? new MensageiroError(
          'timeout',
          `cannot reach the server at ${serverLabel(endpoint)}${reasonOf(error.message)}`,
        )
      : error;
  }
  state.identity = {
    id: client.id!,
    username: client.username,
    token: client.token ?? identity?.token ?? null,
    server: serverLabel(endpoint),
    dialect: 'native',
  };
  return { client, state };
}

export function addOneShotCommands(program: Command): void {
  common(program.command('register').description('create an account for a profile and print its id'))
    .option('--username <name>', 'a username others can use to reach you')
    .option('--secret <secret>', 'a secret; only the native and web dialects can then sign in')
    .action(async (options: CommonOptions) => {
      const { client, state } = await connectOnce(options);
      console.log(
        `registered ${client.username ?? client.id} (id ${client.id}) as profile ${options.profile}`,
      );
      client.close();
      state.close();
    });

  common(program.command('send').description('send one message; exits 0 only after the durable ack'))
    .argument('<to>', 'contact alias, username or id')
    .argument('<text...>', 'the message')
    .option('--secret <secret>', 'the profile secret, if the account has one')
    .action(async (to: string, words: string[], options: CommonOptions) => {
      const { client, state } = await connectOnce(options);
      const text = words.join(' ');
      const contact = state.contact(to);
      const target = contact ? contact.id : /^\d{1,13}$/.test(to) ? Number(to) : to;
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
      const state = openProfile(options.profile, options);
      const contact = state.contact(name);
      const group = state.group(name);
      const conv = contact?.id ?? group?.id ?? (/^\d{1,13}$/.test(name) ? Number(name) : null);
      if (conv === null) throw new MensageiroError('bad_request', `unknown contact ${name}`);
      for (const m of state.history(conv, Number(options.limit))) {
        const time = new Date(m.ts * 1000).toISOString().slice(0, 16).replace('T', ' ');
        console.log(
          `[${time}] ${m.direction === 'out' ? `me → ${name}` : m.from === conv ? name : `${m.from} @ ${name}`}: ${m.text}${m.direction === 'out' ? ` (${m.state})` : ''}`,
        );
      }
      state.close();
    });
}

import type { Command } from 'commander';
import { MensageiroError } from '../core/errors.js';
import { runLobbyChat } from './chat-lobby.js';
import { runMmChat } from './chat-mm.js';
import { parseServers, type ServerAddress } from '../client/servers.js';
import { runChat } from './chat-native.js';
import type { ProfileOptions } from './profile.js';

const DEFAULT_PORTS: Record<string, number> = {
  native: 7333,
  mm: 3333,
  zap: 12345,
  p2p: 10000,
  lobby: 18000,
};

export interface Endpoint {
  host: string;
  port: number;
}

export const DIALECTS = Object.keys(DEFAULT_PORTS).filter((d) => d !== 'p2p');

/**
 * `--server host:port[,host:port...]`, or `--host` and `--port`, with the dialect's classic port
 * by default. Only the native dialect takes a list to fail over through.
 */
export function serversOf(
  options: { server?: string; host?: string; port?: string },
  dialect: string,
): ServerAddress[] {
  const defaultPort = DEFAULT_PORTS[dialect];
  if (defaultPort === undefined)
    throw new MensageiroError('bad_request', `unknown dialect ${dialect}; choose ${DIALECTS.join(', ')}`);
  const port = options.port === undefined ? defaultPort : Number(options.port);
  if (!/^\d+$/.test(String(port)) || port < 1 || port > 65535)
    throw new MensageiroError('bad_request', `bad port ${options.port}; a port is 1 to 65535`);
  const servers = options.server
    ? parseServers(options.server, port, options.host)
    : [{ host: options.host ?? '127.0.0.1', port }];
  if (servers.length > 1 && dialect !== 'native')
    throw new MensageiroError('bad_request', `a list of servers works with the native dialect only`);
  return servers;
}

/** The one server of a seed dialect. */
export function endpointOf(
  options: { server?: string; host?: string; port?: string },
  dialect: string,
): Endpoint {
  return serversOf(options, dialect)[0]!;
}

export function addChatCommand(program: Command): void {
  program
    .command('chat')
    .description('chat from the terminal (plain line mode when stdin is not a TTY)')
    .argument('[profile]', 'your profile; for --dialect mm, your username')
    .option('--dialect <dialect>', 'native, mm, zap or lobby', 'native')
    .option('--server <host:port,...>', 'server address; for native, a list to fail over through')
    .option('--host <host>', 'server host (default 127.0.0.1)')
    .option('--port <port>', "server port (default: the dialect's classic port)")
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .option('--tls', "connect with TLS (native only; the server's --tls-port)")
    .option('--ca <file>', 'trust only this certificate authority (implies --tls)')
    .option(
      '--username <name>',
      'on first run: the username to register, or to sign in to (with --secret) if it is taken',
    )
    .option('--secret <secret>', "the account's secret: to make a new account with, or to sign in with")
    .action(
      async (
        profile: string | undefined,
        options: { dialect: string; server?: string; host?: string; port?: string } & ProfileOptions,
      ) => {
        const servers = serversOf(options, options.dialect);
        switch (options.dialect) {
          case 'mm':
            return runMmChat({ ...servers[0]!, user: profile });
          case 'lobby':
            return runLobbyChat(servers[0]!);
          default:
            process.exitCode = await runChat(profile ?? 'default', options.dialect, servers, options);
        }
      },
    );
}

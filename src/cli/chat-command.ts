import type { Command } from 'commander';
import { MensageiroError } from '../core/errors.js';
import { runLobbyChat } from './chat-lobby.js';
import { runMmChat } from './chat-mm.js';
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

/** `--server host:port`, or `--host` and `--port`, with the dialect's classic port by default. */
export function endpointOf(
  options: { server?: string; host?: string; port?: string },
  dialect: string,
): Endpoint {
  let host = options.host ?? '127.0.0.1';
  let port = options.port === undefined ? DEFAULT_PORTS[dialect]! : Number(options.port);
  if (options.server) {
    const match = /^(.*?)(?::(\d+))?$/.exec(options.server)!;
    if (match[1]) host = match[1];
    if (match[2]) port = Number(match[2]);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new MensageiroError('bad_request', `bad port ${port}`);
  return { host, port };
}

export function addChatCommand(program: Command): void {
  program
    .command('chat')
    .description('chat from the terminal (plain line mode when stdin is not a TTY)')
    .argument('[profile]', 'your profile; for --dialect mm, your username')
    .option('--dialect <dialect>', 'native, mm, zap or lobby', 'native')
    .option('--server <host:port>', 'server address')
    .option('--host <host>', 'server host (default 127.0.0.1)')
    .option('--port <port>', "server port (default: the dialect's classic port)")
    .option('--home <dir>', 'where profiles are kept (default ~/.mensageiro)')
    .option('--tls', "connect with TLS (native only; the server's --tls-port)")
    .option('--ca <file>', 'trust only this certificate authority (implies --tls)')
    .option('--username <name>', 'on first run: the username to register')
    .option('--secret <secret>', 'on first run: a secret for the account; later: to sign in with it')
    .action(
      async (
        profile: string | undefined,
        options: { dialect: string; server?: string; host?: string; port?: string } & ProfileOptions,
      ) => {
        const endpoint = endpointOf(options, options.dialect);
        switch (options.dialect) {
          case 'mm':
            return runMmChat({ ...endpoint, user: profile });
          case 'lobby':
            return runLobbyChat(endpoint);
          case 'native':
          case 'zap':
            return runChat(profile ?? 'default', options.dialect, endpoint, options);
          default:
            throw new MensageiroError(
              'bad_request',
              `unknown dialect ${options.dialect}; choose native, mm, zap or lobby`,
            );
        }
      },
    );
}

import { MmClient } from '../client/mm-client.js';
import { Terminal } from './terminal.js';

export interface SeedChatOptions {
  host: string;
  port: number;
  user?: string;
}

/** The seed-001 client loop: name, connect, show new messages, `@user text`, fetch after each send. */
export async function runMmChat(options: SeedChatOptions): Promise<void> {
  const terminal = new Terminal();
  const user = options.user ?? (await terminal.ask('username: ')).trim();
  const client = new MmClient();
  client.on('message', (from, text) => terminal.print(`${from}: ${text}`));
  client.on('notice', (text) => terminal.print(terminal.paint(33, `* ${text}`)));
  await client.connect(options.host, options.port, user);
  terminal.print(
    `connected to ${options.host}:${options.port} as ${user}; type @user text, Enter to fetch, /quit to leave`,
  );
  const connection = {
    hangUp: () => client.close(),
    onClosed: (callback: () => void) => client.on('close', callback),
  };
  await terminal.session(connection, (line) => {
    const trimmed = line.trim();
    if (trimmed === '/quit') return client.close();
    const match = /^@(\S+)\s+(.+)$/.exec(trimmed);
    if (match) client.send(match[1]!, match[2]!);
    else if (trimmed === '') client.fetch();
    else terminal.print('* usage: @user message (Enter alone fetches new messages)');
  });
}

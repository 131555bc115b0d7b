import type { Client } from '../client/client.js';
import type { HistoryMessage } from '../client/client-types.js';
import type { LocalState } from '../client/local-state.js';
import type { ChatView } from './chat-view.js';
import type { Terminal } from './terminal.js';

/** Rows of `/help` for what the server keeps for an account (native only). */
export const ACCOUNT_HELP = [
  '/members <group>             who is in a group, and its admins',
  '/invite <group> <members...> add members (creator and admins)',
  '/kick <group> <members...>   remove members (creator and admins)',
  '/leave <group>               leave a group',
  '/rename <group> <new name>   rename a group (creator and admins)',
  '/name <display name>         the name others see (/name - clears it)',
];

export const ACCOUNT_COMMANDS = new Set(['/members', '/invite', '/kick', '/leave', '/rename', '/name']);

/** How many conversations, and messages of each, a fresh profile fetches from the server. */
const REBUILD = { conversations: 100, messages: 50 };

/**
 * The account's side of the chat on the native protocol: group changes, the display name, and
 * a fresh profile's conversations and recent messages read back from the server.
 */
export class ChatAccount {
  constructor(
    private readonly client: Client,
    private readonly state: LocalState,
    private readonly terminal: Terminal,
    private readonly view: ChatView,
  ) {}

  /**
   * Runs one account command; `resolve` turns a contact, group or username into an id (null
   * when unknown).
   */
  async run(
    command: string,
    args: string[],
    resolve: (name: string) => Promise<number | null>,
  ): Promise<void> {
    const { client, terminal } = this;
    if (command === '/name') {
      if (args.length === 0) return terminal.print('* usage: /name <display name> (/name - clears it)');
      const displayName = args.join(' ') === '-' ? null : args.join(' ');
      const profile = await client.setProfile({ displayName });
      return terminal.print(
        `* others now see you as ${profile.displayName ?? profile.username ?? profile.id}`,
      );
    }
    const usage: Record<string, string> = {
      '/members': '/members <group>',
      '/invite': '/invite <group> <members...>',
      '/kick': '/kick <group> <members...>',
      '/leave': '/leave <group>',
      '/rename': '/rename <group> <new name>',
    };
    const needsMore = command === '/members' || command === '/leave' ? 1 : 2;
    if (args.length < needsMore) return terminal.print(`* usage: ${usage[command]}`);
    const gid = this.state.group(args[0]!)?.id ?? (await resolve(args[0]!));
    if (gid === null) return terminal.print(`* unknown group ${args[0]}`);
    const members = async () => {
      const ids: number[] = [];
      for (const name of args.slice(1)) {
        const id = await resolve(name);
        if (id === null) throw new Error(`unknown contact ${name}`);
        ids.push(id);
      }
      return ids;
    };
    switch (command) {
      case '/members': {
        const info = await client.groupInfo(gid);
        info.members.forEach((id, i) => this.state.rememberName(id, info.names[i] ?? null));
        this.state.saveGroup({ id: gid, name: info.name, members: info.members });
        const admins = new Set([info.creator, ...info.admins]);
        const list = info.members.map((id) => `${this.view.nameOf(id)}${admins.has(id) ? ' (admin)' : ''}`);
        return terminal.print(`* ${info.name || gid}: ${list.join(', ')}`);
      }
      case '/invite':
        return client.addMembers(gid, await members());
      case '/kick':
        return client.removeMembers(gid, await members());
      case '/leave':
        return client.leaveGroup(gid);
      case '/rename':
        return client.renameGroup(gid, args.slice(1).join(' '));
    }
  }

  /**
   * A profile new to this account reads back its conversations and the last messages of each,
   * once, so a second device shows what the first one holds.
   */
  async rebuild(): Promise<void> {
    const { client, state } = this;
    const conversations = await client.conversations(REBUILD.conversations);
    for (const c of conversations) {
      if (c.kind === 'group') state.saveGroup({ id: c.conv, name: c.name ?? '', members: c.members ?? [] });
      // A conversation partner on the other device is a contact on this one too.
      else if (c.name !== null) state.rememberUsername(c.name, c.conv);
    }
    let messages = 0;
    for (const c of conversations) {
      const page = await client.history(c.conv, { limit: REBUILD.messages });
      for (const m of page.messages.reverse()) messages += this.store(c.conv, m) ? 1 : 0;
    }
    state.rebuilt = true;
    if (conversations.length > 0)
      this.terminal.print(
        `* ${conversations.length} conversations and ${messages} messages from the server; /chats lists them`,
      );
  }

  private store(conv: number, m: HistoryMessage): boolean {
    if (m.fromName !== undefined) this.state.rememberName(m.from, m.fromName);
    if (m.from === this.client.id)
      return this.state.addSynced({ mid: m.mid, conv, text: m.text, ts: m.ts, state: m.status });
    return this.state.addIncoming({
      mid: m.mid,
      from: m.from,
      conv,
      text: m.text,
      ts: m.ts,
      read: m.status === 'read',
    });
  }
}

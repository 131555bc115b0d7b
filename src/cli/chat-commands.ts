import crypto from 'node:crypto';
import { MensageiroError } from '../core/errors.js';
import type { ChatLink, Feature } from '../client/chat-link.js';
import type { LocalMessage, LocalState } from '../client/local-state.js';
import { ACCOUNT_COMMANDS, ACCOUNT_HELP, type ChatAccount } from './chat-account.js';
import type { ChatView } from './chat-view.js';
import type { Terminal } from './terminal.js';

/** `/help`: a row that `needs` a feature the dialect lacks is left out; `unless` is its stand-in. */
const HELP: Array<{ row: string; needs?: Feature; unless?: Feature }> = [
  {
    row: '@<contact|group|username|id> <text>   send a message and open that conversation',
    needs: 'usernames',
  },
  { row: '@<contact|group|id> <text>   send a message and open that conversation', unless: 'usernames' },
  { row: '<text>                       (no @ or /) send to the open conversation' },
  { row: '/open <contact|group>        open a conversation: plain text then goes there' },
  { row: '/chats                       your conversations, with unread counts' },
  { row: '/contacts                    your contacts' },
  { row: '/add <alias> <id|username>   add a contact', needs: 'usernames' },
  { row: '/add <alias> <id>            add a contact', unless: 'usernames' },
  { row: '/group <name> <members...>   create a group (up to 7 others)', needs: 'groups' },
  { row: '/groups                      your groups', needs: 'groups' },
  { row: '/history <contact|group>     the conversation so far' },
  { row: '/read [contact|group]        mark messages read (sends read receipts)' },
  { row: '/info [contact|group]        the state of your last message there, per member in a group' },
  ...ACCOUNT_HELP.map((row) => ({ row, needs: 'account' as const })),
  { row: '/who [contacts...]           who is online', needs: 'presence' },
  { row: '/lobby [text]                join the public lobby, or post to it', needs: 'lobby' },
  { row: '/help                        this list' },
  { row: '/quit                        leave (after what you sent has reached the server)' },
];

const FEATURE_OF: Record<string, Feature> = {
  '/who': 'presence',
  '/lobby': 'lobby',
  '/group': 'groups',
  '/groups': 'groups',
  ...Object.fromEntries([...ACCOUNT_COMMANDS].map((command) => [command, 'account' as const])),
};

/** The chat's commands: what a typed line does. */
export class ChatCommands {
  /** The conversation plain text goes to. */
  private open: { conv: number; name: string } | null = null;
  private lobbyJoined = false;
  /** Handed to the link in this run and not refused; the native SDK resends its own outbox. */
  private readonly inFlight = new Set<string>();
  private onSettled: (() => void) | null = null;

  constructor(
    private readonly link: ChatLink,
    private readonly state: LocalState,
    private readonly terminal: Terminal,
    private readonly view: ChatView,
    private readonly account: ChatAccount | null,
  ) {}

  /** Runs one typed line; 'quit' when the user asked to leave. */
  async handle(line: string): Promise<'quit' | void> {
    if (line === '') return;
    const { terminal, state, link } = this;
    if (line.startsWith('@')) {
      const match = /^@(\S+)\s+(.+)$/s.exec(line);
      if (!match) return terminal.print('* usage: @contact text');
      return this.send(match[1]!, match[2]!);
    }
    if (!line.startsWith('/')) {
      if (!this.open)
        return terminal.print(
          '* no open conversation: /open <contact>, or @contact text; /help lists commands',
        );
      return this.send(String(this.open.conv), line, this.open.name);
    }
    const [command, ...args] = line.split(/\s+/);
    const needed = FEATURE_OF[command!];
    if (needed && !link.features.has(needed))
      return terminal.print(`* ${command} is not available on the ${link.dialect} dialect`);
    switch (command) {
      case '/help':
        for (const { row, needs, unless } of HELP) {
          if ((needs && !link.features.has(needs)) || (unless && link.features.has(unless))) continue;
          terminal.print(row);
        }
        return;
      case '/quit':
        return 'quit';
      case '/chats':
        return this.view.chats();
      case '/open': {
        if (args.length !== 1) return terminal.print('* usage: /open <contact|group>');
        const conv = await this.resolve(args[0]!);
        if (conv === null) return terminal.print(`* unknown contact ${args[0]}`);
        return this.openConversation(conv, true);
      }
      case '/contacts': {
        const contacts = state.contacts();
        if (contacts.length === 0) terminal.print('* no contacts yet; /add <alias> <id|username>');
        for (const c of contacts)
          terminal.print(`${c.alias}: ${c.id}${c.username ? ` (${c.username})` : ''}`);
        return;
      }
      case '/add': {
        if (args.length !== 2) return terminal.print('* usage: /add <alias> <id|username>');
        const found = await link.lookup(args[1]!);
        state.addContact({ alias: args[0]!, id: found.id, username: found.username });
        terminal.print(`* ${args[0]} is ${found.id}${found.username ? ` (${found.username})` : ''}`);
        return;
      }
      case '/group':
        return this.createGroup(args);
      case '/groups': {
        const groups = state.groups();
        if (groups.length === 0) terminal.print('* no groups yet; /group <name> <members...>');
        for (const g of groups)
          terminal.print(
            `${g.name || g.id} (id ${g.id}): ${g.members.map((m) => this.view.nameOf(m)).join(', ')}`,
          );
        return;
      }
      case '/history': {
        if (args.length !== 1) return terminal.print('* usage: /history <contact|group>');
        const conv = await this.resolve(args[0]!);
        if (conv === null) return terminal.print(`* unknown contact ${args[0]}`);
        for (const message of state.history(conv, 200)) this.view.show(message);
        return;
      }
      case '/read':
        return this.read(args[0]);
      case '/info': {
        const conv = args[0] === undefined ? undefined : await this.resolve(args[0]);
        if (conv === null) return terminal.print(`* unknown contact ${args[0]}`);
        const message = state.lastOutgoing(conv);
        return terminal.print(message ? this.view.info(message) : '* you have sent nothing there yet');
      }
      case '/who':
        return this.who(args);
      case '/lobby':
        if (!this.lobbyJoined) {
          link.joinLobby();
          this.lobbyJoined = true;
          terminal.print('* joined the lobby');
        }
        if (args.length > 0) link.postLobby(line.slice('/lobby'.length).trim());
        return;
      default:
        if (this.account && ACCOUNT_COMMANDS.has(command!))
          return this.account.run(command!, args, (name) => this.resolve(name));
        terminal.print(`* unknown command ${command}; /help lists them`);
    }
  }

  /** A message arrived: with no conversation open, plain text now answers it. */
  received(conv: number): void {
    if (this.open === null) this.openConversation(conv, false);
  }

  /** Messages typed while the link could not take them, or left unsent by an earlier run. */
  flushQueued(): void {
    for (const message of this.state.pendingOutgoing()) {
      if (!this.inFlight.has(message.cid!)) this.deliver(message);
    }
  }

  /** Resolves once every message is acknowledged (true), or at the deadline (false). */
  async allSent(deadline: number): Promise<boolean> {
    while (this.state.pendingOutgoing().length > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.onSettled = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  private openConversation(conv: number, said: boolean): void {
    const name = this.view.nameOf(conv);
    this.open = { conv, name };
    this.terminal.setContext(name);
    if (said) this.terminal.print(`* plain text now goes to ${name}`);
  }

  private async createGroup(args: string[]): Promise<void> {
    if (args.length < 2) return this.terminal.print('* usage: /group <name> <members...>');
    const name = args[0]!;
    const members: Array<number | string> = [];
    for (const member of args.slice(1)) members.push((await this.resolve(member)) ?? member);
    const gid = await this.link.createGroup(name, members);
    if (typeof gid === 'number' && !this.state.group(gid))
      this.state.saveGroup({ id: gid, name, members: [] });
  }

  private async who(args: string[]): Promise<void> {
    const ids: number[] = [];
    for (const arg of args) {
      const id = await this.resolve(arg);
      if (id === null) this.terminal.print(`* unknown contact ${arg}`);
      else ids.push(id);
    }
    if (args.length === 0) ids.push(...this.state.contacts().map((c) => c.id));
    if (ids.length === 0)
      return this.terminal.print(args.length ? '* nobody to ask about' : '* no contacts to ask about');
    this.link.who(ids);
  }

  private send(target: string, text: string, shownAs = target): void {
    const cid = crypto.randomUUID();
    const to = this.target(target);
    const conv = typeof to === 'number' ? to : null;
    const message = this.state.addOutgoing({
      cid,
      target: shownAs,
      conv,
      text,
      ts: Math.floor(Date.now() / 1000),
    });
    if (conv !== null && this.open?.conv !== conv) this.openConversation(conv, false);
    this.deliver(message);
  }

  /** Hands a stored outgoing message to the link; it stays 'sending' until the server has it. */
  private deliver(message: LocalMessage): void {
    const { link, state, terminal, view } = this;
    const to = message.conv ?? this.target(message.target ?? '');
    this.inFlight.add(message.cid!);
    // On a terminal the line shows at once and its mark changes in place; a script sees it
    // once the server has it, unless it has to wait.
    if (terminal.interactive || !link.connected) view.show(message);
    link.send(to, message.text, message.cid!).then(
      ({ mid, conv }) => {
        if (typeof to === 'string' && link.features.has('usernames')) state.rememberUsername(to, conv);
        const sent = state.markSent(message.cid!, mid, conv);
        if (sent && !view.restate(sent)) view.show(sent);
        if (this.open === null || (typeof to === 'string' && this.open.name === to))
          this.openConversation(conv, false);
        this.settled();
      },
      (error: unknown) => {
        this.inFlight.delete(message.cid!);
        if (error instanceof MensageiroError && error.code === 'timeout') return this.settled();
        state.dropOutgoing(message.cid!);
        terminal.print(
          `* not sent to ${message.target}: ${error instanceof Error ? error.message : String(error)}`,
        );
        this.settled();
      },
    );
  }

  private settled(): void {
    const wake = this.onSettled;
    this.onSettled = null;
    wake?.();
  }

  private async read(which: string | undefined): Promise<void> {
    const conv = which === undefined ? undefined : await this.resolve(which);
    if (conv === null) return this.terminal.print(`* unknown contact ${which}`);
    const unread = this.state.unread(conv);
    if (unread.length === 0) return this.terminal.print('* nothing unread');
    for (const row of unread) {
      this.link.markRead(row.conv, { mid: row.mid, ts: row.ts });
      this.state.markReadLocally(row.conv);
      this.terminal.print(`* read ${row.count} from ${this.view.nameOf(row.conv)}`);
    }
  }

  /** What to send to: a contact's or group's id, a raw id, or a username for the server. */
  private target(name: string): number | string {
    const contact = this.state.contact(name);
    if (contact) return contact.id;
    const group = this.state.group(name);
    if (group) return group.id;
    return /^\d{1,13}$/.test(name) ? Number(name) : name;
  }

  private convOf(name: string): number | null {
    const to = this.target(name);
    if (typeof to === 'number') return to;
    const known = this.state.contacts().find((c) => c.username?.toLowerCase() === to.toLowerCase());
    return known?.id ?? null;
  }

  /** A conversation's id, asking the server for a username the profile does not know yet. */
  private async resolve(name: string): Promise<number | null> {
    const conv = this.convOf(name);
    if (conv !== null || !this.link.features.has('usernames')) return conv;
    try {
      const found = await this.link.lookup(name);
      this.state.rememberName(found.id, found.username);
      return found.id;
    } catch {
      return null;
    }
  }
}

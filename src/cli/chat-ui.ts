import crypto from 'node:crypto';
import { MensageiroError } from '../core/errors.js';
import type { ChatLink, Feature } from '../client/chat-link.js';
import type { LocalMessage, LocalState } from '../client/local-state.js';
import type { Terminal } from './terminal.js';

const HELP = [
  '@<contact|group|username|id> <text>   send a message',
  '/contacts                    your contacts',
  '/add <alias> <id|username>   add a contact',
  '/group <name> <members...>   create a group (up to 7 others)',
  '/groups                      your groups',
  '/history <contact|group>     the conversation so far',
  '/read [contact|group]        mark messages read (sends read receipts)',
  '/who [contacts...]           who is online',
  '/lobby [text]                join the public lobby, or post to it',
  '/help                        this list',
  '/quit                        leave',
];

const FEATURE_OF: Record<string, Feature> = { '/who': 'presence', '/lobby': 'lobby' };

/** The interactive chat over any ChatLink, keeping everything in the profile's LocalState. */
export class ChatUi {
  private me: number | null = null;
  private lobbyJoined = false;

  constructor(
    private readonly link: ChatLink,
    private readonly state: LocalState,
    private readonly terminal: Terminal,
  ) {}

  async run(options: { server: string; historyLines?: number }): Promise<void> {
    const { link, state, terminal } = this;
    this.me = state.identity?.id ?? null;
    for (const message of state.history(null, options.historyLines ?? 20))
      terminal.print(this.format(message));
    link.on('connected', (info) => {
      this.me = info.id;
      const known = state.identity;
      state.identity = {
        id: info.id,
        username: info.username,
        token: info.token ?? known?.token ?? null,
        server: options.server,
        dialect: link.dialect,
      };
      terminal.print(
        `* signed in as ${info.username ?? info.id} (id ${info.id}) on ${options.server} via ${link.dialect}`,
      );
      this.flushQueued();
    });
    link.on('disconnected', () => terminal.print('* disconnected; reconnecting'));
    link.on('position', (seq) => (state.lastSeq = seq));
    link.on('message', (m) => {
      if (state.addIncoming({ mid: m.mid, from: m.from, conv: m.conv, text: m.text, ts: m.ts })) {
        terminal.print(
          this.format({
            direction: 'in',
            from: m.from,
            conv: m.conv,
            text: m.text,
            ts: m.ts,
            state: 'received',
          }),
        );
      }
    });
    link.on('receipt', (r) => {
      const moved = state.applyReceipt(r.conv, r.status, r.mid !== null ? { mid: r.mid } : { ts: r.ts });
      if (moved) terminal.print(this.format(moved));
    });
    link.on('group', (g) => {
      const name = g.name || state.group(g.id)?.name || '';
      state.saveGroup({ id: g.id, name, members: g.members });
      terminal.print(
        `* group ${name || g.id} (id ${g.id}): ${g.members.map((m) => this.nameOf(m)).join(', ')}`,
      );
    });
    link.on('presence', (p) =>
      terminal.print(`* ${this.nameOf(p.id)} is ${p.online ? 'online' : 'offline'}`),
    );
    link.on('lobby', (post) => terminal.print(`[lobby] ${post.author}: ${post.text}`));

    if (state.identity === null) terminal.print(`* registering a new account on ${options.server}`);
    await new Promise<void>((resolve) => {
      terminal.onClose(() => {
        link.close();
        resolve();
      });
      terminal.onLine((line) => {
        this.handle(line.trim()).catch((error: unknown) =>
          terminal.print(`* ${error instanceof Error ? error.message : String(error)}`),
        );
      });
      terminal.prompt();
      link.start().catch((error: unknown) => {
        terminal.print(`* ${error instanceof Error ? error.message : String(error)}`);
        terminal.close();
      });
    });
  }

  private async handle(line: string): Promise<void> {
    if (line === '') return;
    const { terminal, state, link } = this;
    const [command, ...args] = line.split(/\s+/);
    const needed = FEATURE_OF[command!];
    if (needed && !link.features.has(needed)) {
      terminal.print(`* ${command} is not available on the ${link.dialect} dialect`);
      return;
    }
    if (line.startsWith('@')) {
      const match = /^@(\S+)\s+(.+)$/s.exec(line);
      if (!match) return terminal.print('* usage: @contact text');
      return this.send(match[1]!, match[2]!);
    }
    switch (command) {
      case '/help':
        for (const row of HELP) terminal.print(row);
        return;
      case '/quit':
        terminal.close();
        return;
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
      case '/group': {
        if (args.length < 2) return terminal.print('* usage: /group <name> <members...>');
        if (!link.features.has('groups'))
          return terminal.print(`* groups are not available on the ${link.dialect} dialect`);
        const members = args.slice(1).map((m) => this.target(m));
        await link.createGroup(args[0]!, members);
        state.saveGroup({ id: 0, name: args[0]!, members: [] });
        return;
      }
      case '/groups': {
        const groups = state.groups().filter((g) => g.id !== 0);
        if (groups.length === 0) terminal.print('* no groups yet; /group <name> <members...>');
        for (const g of groups)
          terminal.print(
            `${g.name || g.id} (id ${g.id}): ${g.members.map((m) => this.nameOf(m)).join(', ')}`,
          );
        return;
      }
      case '/history': {
        if (args.length !== 1) return terminal.print('* usage: /history <contact|group>');
        const conv = this.convOf(args[0]!);
        if (conv === null) return terminal.print(`* unknown contact ${args[0]}`);
        for (const message of state.history(conv, 200)) terminal.print(this.format(message));
        return;
      }
      case '/read':
        return this.read(args[0]);
      case '/who': {
        const ids = args.length
          ? args.map((a) => this.convOf(a)).filter((id): id is number => id !== null)
          : state.contacts().map((c) => c.id);
        if (ids.length === 0) return terminal.print('* no contacts to ask about');
        link.who(ids);
        return;
      }
      case '/lobby':
        if (!this.lobbyJoined) {
          link.joinLobby();
          this.lobbyJoined = true;
          terminal.print('* joined the lobby');
        }
        if (args.length > 0) link.postLobby(line.slice('/lobby'.length).trim());
        return;
      default:
        terminal.print(`* unknown command ${command}; /help lists them`);
    }
  }

  private send(target: string, text: string): void {
    const cid = crypto.randomUUID();
    const to = this.target(target);
    const conv = typeof to === 'number' ? to : null;
    const message = this.state.addOutgoing({ cid, target, conv, text, ts: Math.floor(Date.now() / 1000) });
    this.deliver(message);
  }

  /** Hands a stored outgoing message to the link; it stays 'sending' until the server has it. */
  private deliver(message: LocalMessage): void {
    const { link, state, terminal } = this;
    const to = this.target(message.target ?? String(message.conv));
    this.inFlight.add(message.cid!);
    if (!link.connected) terminal.print(this.format(message) + ' (queued)');
    link.send(to, message.text, message.cid!).then(
      ({ mid, conv }) => {
        if (typeof to === 'string' && link.features.has('usernames')) state.rememberUsername(to, conv);
        const sent = state.markSent(message.cid!, mid, conv);
        if (sent) terminal.print(this.format(sent));
      },
      (error: unknown) => {
        if (error instanceof MensageiroError && error.code === 'timeout') {
          // The link could not take it (offline): it goes again on the next connect.
          this.inFlight.delete(message.cid!);
          return;
        }
        state.dropOutgoing(message.cid!);
        terminal.print(
          `* not sent to ${message.target}: ${error instanceof Error ? error.message : String(error)}`,
        );
      },
    );
  }

  /** Handed to the link in this run and not refused; the native SDK resends its own outbox. */
  private readonly inFlight = new Set<string>();

  /** Messages typed while the link could not take them, or left unsent by an earlier run. */
  private flushQueued(): void {
    for (const message of this.state.pendingOutgoing()) {
      if (!this.inFlight.has(message.cid!)) this.deliver(message);
    }
  }

  private read(which: string | undefined): void {
    const conv = which === undefined ? undefined : this.convOf(which);
    if (conv === null) return this.terminal.print(`* unknown contact ${which}`);
    const unread = this.state.unread(conv);
    if (unread.length === 0) return this.terminal.print('* nothing unread');
    for (const row of unread) {
      this.link.markRead(row.conv, { mid: row.mid, ts: row.ts });
      this.state.markReadLocally(row.conv);
      this.terminal.print(`* read ${row.count} from ${this.nameOf(row.conv)}`);
    }
  }

  /** What to send to: a contact's or group's id, a raw id, or a username for the server. */
  private target(name: string): number | string {
    const contact = this.state.contact(name);
    if (contact) return contact.id;
    const group = this.state.group(name);
    if (group && group.id !== 0) return group.id;
    return /^\d{1,13}$/.test(name) ? Number(name) : name;
  }

  private convOf(name: string): number | null {
    const to = this.target(name);
    return typeof to === 'number' ? to : null;
  }

  private nameOf(id: number | null): string {
    if (id === null) return '?';
    if (id === this.me) return 'me';
    const contact = this.state.contacts().find((c) => c.id === id);
    if (contact) return contact.alias;
    const group = this.state.groups().find((g) => g.id === id);
    return group?.name || String(id);
  }

  /** One line per message: time, who, text, and for your own messages their state mark. */
  private format(
    message: Pick<LocalMessage, 'direction' | 'from' | 'conv' | 'text' | 'ts' | 'state'> & {
      target?: string | null;
    },
  ): string {
    const time = new Date(message.ts * 1000).toTimeString().slice(0, 5);
    if (message.direction === 'in') {
      const isGroup = message.conv !== message.from;
      return `[${time}] ${this.nameOf(message.from)}${isGroup ? ` @ ${this.nameOf(message.conv)}` : ''}: ${message.text}`;
    }
    const to = message.conv !== null ? this.nameOf(message.conv) : (message.target ?? '?');
    return `[${time}] me → ${to}: ${message.text} ${this.mark(message.state)}`;
  }

  private mark(state: LocalMessage['state']): string {
    switch (state) {
      case 'sending':
        return '…';
      case 'sent':
        return '✓';
      case 'delivered':
        return '✓✓';
      case 'read':
        return this.terminal.interactive ? this.terminal.paint(34, '✓✓') : '✓✓ read';
      default:
        return '';
    }
  }
}

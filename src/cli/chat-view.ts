import type { ChatLink } from '../client/chat-link.js';
import type { LocalMessage, LocalState } from '../client/local-state.js';
import type { PrintedLine, Terminal } from './terminal.js';

type Shown = Pick<LocalMessage, 'direction' | 'from' | 'conv' | 'text' | 'ts' | 'state'> & {
  target?: string | null;
  localId?: number;
};

/** A contact's alias, a group's name, a username learnt from the server, or else the id. */
export function displayName(state: LocalState, id: number | null, me: number | null): string {
  if (id === null) return '?';
  if (id === me) return 'me';
  const contact = state.contacts().find((c) => c.id === id);
  if (contact) return contact.alias;
  const group = state.group(id);
  if (group?.name) return group.name;
  return state.knownName(id) ?? String(id);
}

/**
 * What the chat shows: names instead of ids (a sender the profile does not know is looked up
 * once and remembered), one line per message, and your messages' marks, rewritten in place on a
 * terminal where the line is still on screen and summed up in one line per receipt otherwise.
 */
export class ChatView {
  me: number | null = null;
  /** Set once the profile is closed: nothing is shown or looked up after that. */
  closed = false;
  private readonly printed = new Map<number, PrintedLine>();
  private readonly asked = new Set<number>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: ChatLink,
    private readonly state: LocalState,
    private readonly terminal: Terminal,
  ) {}

  /** Runs `show` once the names of `ids` are known, in the order the events came. */
  later(ids: Array<number | null>, show: () => void): void {
    const run = () => {
      if (!this.closed) show();
    };
    this.queue = this.queue.then(() => this.learnNames(ids)).then(run, run);
  }

  /** Resolves once everything queued for display is shown. */
  settled(): Promise<void> {
    return this.queue;
  }

  private async learnNames(ids: Array<number | null>): Promise<void> {
    if (!this.link.features.has('usernames')) return;
    for (const id of new Set(ids)) {
      if (id === null || this.closed || !this.link.connected || this.asked.has(id)) continue;
      if (this.nameOf(id) !== String(id) || this.state.knownName(id) !== undefined) continue;
      this.asked.add(id);
      try {
        const found = await this.link.lookup(String(id));
        if (!this.closed) this.state.rememberName(id, found.username);
      } catch {
        // An id the server does not know (or a dropped link) keeps showing as the id.
      }
    }
  }

  nameOf(id: number | null): string {
    return displayName(this.state, id, this.me);
  }

  /** Prints a message; your own are remembered so their mark can change in place later. */
  show(message: Shown): void {
    const printed = this.terminal.printTracked(this.format(message));
    if (message.direction === 'out' && message.localId !== undefined)
      this.printed.set(message.localId, printed);
  }

  /** A message whose mark changed: rewritten in place if possible; false if it was not. */
  restate(message: LocalMessage): boolean {
    const printed = this.printed.get(message.localId);
    return printed !== undefined && this.terminal.update(printed, this.format(message));
  }

  /** After a receipt: marks in place, and one summary line for what could not be. */
  receipt(status: 'delivered' | 'read', conv: number, moved: LocalMessage[]): void {
    const unseen = moved.filter((m) => !this.restate(m));
    if (unseen.length === 0) return;
    const group = this.state.group(conv) !== null;
    const who = group ? `everyone in ${this.nameOf(conv)}` : this.nameOf(conv);
    const count = `${unseen.length} message${unseen.length === 1 ? '' : 's'}`;
    this.terminal.print(`* ✓✓ ${status === 'read' ? 'read by' : 'delivered to'} ${who}: ${count}`);
  }

  /** `/chats`: every conversation this profile holds, newest first. */
  chats(): void {
    const list = this.state.conversations();
    if (list.length === 0) return this.terminal.print('* no conversations yet');
    for (const { conv, last, unread } of list)
      this.terminal.print(`${this.nameOf(conv)}${unread ? ` (${unread} unread)` : ''}: ${this.format(last)}`);
  }

  /** A group notice: what changed, by whom, in words. */
  groupChange(g: {
    id: number;
    name: string;
    members: number[];
    change?: string;
    by?: number;
    affected?: number[];
  }): string {
    const group = g.name || String(g.id);
    const by = g.by === undefined ? 'someone' : this.nameOf(g.by);
    const affected = (g.affected ?? []).map((id) => this.nameOf(id)).join(', ');
    switch (g.change) {
      case 'add':
        return `${by} added ${affected} to ${group}`;
      case 'remove':
        return `${by} removed ${affected} from ${group}`;
      case 'leave':
        return `${affected} left ${group}`;
      case 'rename':
        return `${by} renamed the group to ${group}`;
      case 'admins':
        return `${by} made ${affected || 'nobody else'} admin of ${group}`;
      default:
        return `group ${group} (id ${g.id}): ${g.members.map((m) => this.nameOf(m)).join(', ')}`;
    }
  }

  /** `/info`: one message's state, per member in a group. */
  info(message: LocalMessage): string {
    const to = message.conv !== null ? this.nameOf(message.conv) : (message.target ?? '?');
    const head = `* me → ${to}: "${message.text}"${message.mid !== null ? ` (message ${message.mid})` : ''}: ${message.state}`;
    const group = message.conv === null ? null : this.state.group(message.conv);
    if (!group) return head;
    const readers = this.state.readers(message.localId);
    const waiting = group.members.filter((m) => m !== this.me && !readers.includes(m));
    const names = (ids: number[]) => ids.map((id) => this.nameOf(id)).join(', ');
    return `${head}; read by ${readers.length ? names(readers) : 'nobody yet'}${waiting.length ? `; not yet by ${names(waiting)}` : ''}`;
  }

  /** One line per message: time, who, text, and for your own messages their state mark. */
  format(message: Shown): string {
    const time = new Date(message.ts * 1000).toTimeString().slice(0, 5);
    if (message.direction === 'in') {
      const isGroup = message.conv !== message.from;
      return `[${time}] ${this.nameOf(message.from)}${isGroup ? ` @ ${this.nameOf(message.conv)}` : ''}: ${message.text}`;
    }
    const to = message.conv !== null ? this.nameOf(message.conv) : (message.target ?? '?');
    const queued = message.state === 'sending' && !this.link.connected ? ' (queued)' : '';
    return `[${time}] me → ${to}: ${message.text} ${this.mark(message.state)}${queued}`;
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

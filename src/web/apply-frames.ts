import type { Conversation, StoredMessage } from './db.js';
import type {
  ConversationsFrame,
  GroupFrame,
  HistoryMessage,
  MsgFrame,
  ReadSyncFrame,
  ReceiptFrame,
} from './protocol.js';
import { storedMessage } from './records.js';

/** The items of the account's inbox stream, each with a seq the browser acks. */
export type InboxFrame = MsgFrame | ReceiptFrame | GroupFrame | ReadSyncFrame;

/** What applying the server's frames reads and changes of the model. */
export interface InboxTarget {
  readonly me: number;
  readonly convs: Map<number, Conversation>;
  readonly people: Map<number, string>;
  /** The conversation with `id`, made (as `kind`) when new. */
  conversation(id: number, kind: 'user' | 'group'): Conversation;
  nameOf(id: number): string;
  /** Whether the user is looking at that conversation now. */
  isShown(id: number): boolean;
  notify(title: string, body: string): void;
  /** Asks the server for a name this browser does not know. */
  resolveName(id: number): void;
}

/**
 * Applies one inbox item to the model and the open transaction; returns the conversation it
 * touched. A message also goes to `shown`, for the open conversation.
 */
export function applyInboxItem(
  model: InboxTarget,
  frame: InboxFrame,
  tx: IDBTransaction,
  shown: StoredMessage[],
): number | null {
  const me = model.me;
  if (frame.type === 'msg') {
    const mine = frame.id === me;
    // Mine (from another device): the conversation is where it went; to me: the sender's;
    // otherwise a group's.
    const id = frame.to === me ? frame.id : frame.to;
    const conv = model.conversation(
      id,
      model.convs.get(id)?.kind ?? (mine || frame.to === me ? 'user' : 'group'),
    );
    if (frame.from_name && !mine && model.people.get(frame.id) !== frame.from_name) {
      model.people.set(frame.id, frame.from_name);
      tx.objectStore('people').put({ id: frame.id, name: frame.from_name });
      if (conv.kind === 'user') conv.name = frame.from_name;
    }
    const message = storedMessage(id, { ...frame, from: frame.id });
    tx.objectStore('messages').put(message);
    shown.push(message);
    if (frame.at >= conv.lastAt)
      Object.assign(conv, { lastText: frame.text, lastAt: frame.at, lastFrom: frame.id });
    if (!mine) {
      conv.unread++;
      if (!model.isShown(id))
        model.notify(
          conv.kind === 'group' ? `${model.nameOf(frame.id)} in ${conv.name}` : conv.name,
          frame.text,
        );
    }
    return id;
  }
  if (frame.type === 'receipt') {
    const conv = model.conversation(frame.conv, model.convs.get(frame.conv)?.kind ?? 'user');
    conv.deliveredUpTo = Math.max(conv.deliveredUpTo, frame.mid);
    if (frame.status === 'read') {
      if (conv.kind === 'group') {
        const readBy = (conv.readBy ??= {});
        readBy[frame.by] = Math.max(readBy[frame.by] ?? 0, frame.mid);
        const others = (conv.members ?? []).filter((member) => member !== me);
        conv.readUpTo = others.length === 0 ? 0 : Math.min(...others.map((member) => readBy[member] ?? 0));
      } else conv.readUpTo = Math.max(conv.readUpTo, frame.mid);
    }
    return conv.id;
  }
  if (frame.type === 'read') {
    const conv = model.conversation(frame.conv, model.convs.get(frame.conv)?.kind ?? 'user');
    conv.readMid = Math.max(conv.readMid, frame.mid);
    conv.unread = 0;
    return conv.id;
  }
  const conv = model.conversation(frame.gid, 'group');
  conv.kind = 'group';
  conv.name = frame.name ?? conv.name;
  conv.members = frame.members;
  conv.active = frame.members.includes(me);
  frame.members.forEach((member, index) => {
    const name = frame.names?.[index];
    if (name) {
      model.people.set(member, name);
      tx.objectStore('people').put({ id: member, name });
    } else if (!model.people.has(member)) model.resolveName(member);
  });
  if (conv.lastAt === 0) Object.assign(conv, { lastAt: frame.at, lastText: '' });
  return conv.id;
}

/** A message of a history page or the conversation list; one of mine also moves my ticks. */
export function fromHistory(model: InboxTarget, conv: number, message: HistoryMessage): StoredMessage {
  const stored = storedMessage(conv, message);
  const summary = model.convs.get(conv)!;
  if (message.from === model.me) {
    if (message.status !== 'sent') summary.deliveredUpTo = Math.max(summary.deliveredUpTo, message.mid);
    if (message.status === 'read') summary.readUpTo = Math.max(summary.readUpTo, message.mid);
  }
  return stored;
}

/** The server's conversation list: names, members, unread counts and last messages. */
export function applyConversations(model: InboxTarget, frame: ConversationsFrame, tx: IDBTransaction): void {
  for (const summary of frame.conversations) {
    const conv = model.conversation(summary.conv, summary.kind);
    conv.kind = summary.kind;
    if (summary.name) conv.name = summary.name;
    if (summary.members) conv.members = summary.members;
    conv.unread = summary.unread;
    if (summary.last && summary.last.at >= conv.lastAt) {
      Object.assign(conv, {
        lastText: summary.last.text,
        lastAt: summary.last.at,
        lastFrom: summary.last.from,
      });
      fromHistory(model, conv.id, summary.last);
    }
    tx.objectStore('convs').put(conv);
  }
}

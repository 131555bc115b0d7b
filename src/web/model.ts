import {
  clearAll,
  getAll,
  olderMessages,
  openDb,
  transact,
  type Conversation,
  type MetaEntry,
  type Person,
  type StoredMessage,
} from './db.js';
import {
  applyConversations,
  applyInboxItem,
  fromHistory,
  type InboxFrame,
  type InboxTarget,
} from './apply-frames.js';
import { ServerLink, type LinkStatus } from './link.js';
import { Outbox } from './outbox.js';
import { byTime, newCid } from './records.js';
import { markRefused, markSent, sendMessage } from './sending.js';
import {
  type ConversationsFrame,
  type HistoryFrame,
  type LobbyFrame,
  type ServerFrame,
  type WelcomeFrame,
} from './protocol.js';

export interface Session {
  id: number;
  username: string;
  token: string;
}

export type View = { kind: 'none' } | { kind: 'conv'; id: number } | { kind: 'lobby' };

const PAGE = 50;
const LOBBY_KEEP = 500;

/**
 * Everything the app knows, and the handlers that change it. Handlers change state and call
 * `changed`; rendering happens elsewhere.
 */
export class Model implements InboxTarget {
  session: Session | null = null;
  convs = new Map<number, Conversation>();
  people = new Map<number, string>();
  presence = new Map<number, boolean>();
  view: View = { kind: 'none' };
  /** The open conversation's loaded messages, oldest first. */
  messages: StoredMessage[] = [];
  lobby: LobbyFrame[] = [];
  lobbyMembers = 0;
  authError = '';
  notice = '';
  readonly link: ServerLink;
  readonly outbox: Outbox;
  private lastSeq = 0;
  private incoming: InboxFrame[] = [];
  private flushing = false;
  private pendingRequests = new Map<string, (frame: ServerFrame) => void>();
  private signInFrame: Record<string, unknown> | null = null;

  constructor(
    readonly db: IDBDatabase,
    readonly changed: () => void,
    readonly notify: (title: string, body: string) => void,
  ) {
    this.link = new ServerLink({
      hello: () => this.hello(),
      frame: (frame) => this.onFrame(frame),
      status: () => this.changed(),
    });
    this.outbox = new Outbox(db, this.link, (entry, error) => markRefused(this, entry, error));
  }

  static async open(changed: () => void, notify: (title: string, body: string) => void): Promise<Model> {
    const model = new Model(await openDb(), changed, notify);
    await model.load();
    return model;
  }

  get me(): number {
    return this.session!.id;
  }

  isShown(id: number): boolean {
    return document.visibilityState === 'visible' && this.view.kind === 'conv' && this.view.id === id;
  }

  get status(): LinkStatus {
    return this.link.status;
  }

  private async load(): Promise<void> {
    const meta = await getAll<MetaEntry>(this.db, 'meta');
    const value = (key: string) => meta.find((entry) => entry.key === key)?.value;
    this.session = (value('session') as Session | undefined) ?? null;
    this.lastSeq = (value('seq') as number | undefined) ?? 0;
    for (const conv of await getAll<Conversation>(this.db, 'convs')) this.convs.set(conv.id, conv);
    for (const person of await getAll<Person>(this.db, 'people')) this.people.set(person.id, person.name);
    if (this.session) this.link.start();
  }

  private hello(): Record<string, unknown> {
    if (this.signInFrame) return this.signInFrame;
    const resume = this.lastSeq > 0 ? { resume: this.lastSeq } : {};
    return { type: 'login', token: this.session?.token, acks: true, ...resume };
  }

  signIn(mode: 'register' | 'login', username: string, secret: string): void {
    this.authError = '';
    this.signInFrame = { type: mode, username, secret, acks: true, device_name: 'browser' };
    this.link.start();
  }

  async signOut(): Promise<void> {
    // The server forgets this device's token first, so a copy left anywhere stops working; a
    // server that does not answer within a few seconds does not keep the user signed in here.
    await new Promise<void>((resolve) => {
      if (!this.request({ type: 'logout' }, () => resolve())) resolve();
      setTimeout(resolve, 3000);
    });
    this.link.stop();
    await clearAll(this.db);
    this.session = null;
    this.convs.clear();
    this.people.clear();
    this.messages = [];
    this.lobby = [];
    this.lastSeq = 0;
    this.view = { kind: 'none' };
    this.changed();
  }

  nameOf(id: number): string {
    return this.people.get(id) ?? this.convs.get(id)?.name ?? String(id).padStart(13, '0');
  }

  /** Sends a request with a cid and calls back with its answer or error. */
  request(frame: Record<string, unknown>, answer: (frame: ServerFrame) => void): boolean {
    const cid = newCid('r');
    this.pendingRequests.set(cid, answer);
    if (this.link.send({ ...frame, cid })) return true;
    this.pendingRequests.delete(cid);
    return false;
  }

  private onFrame(frame: ServerFrame): void {
    const cid = 'cid' in frame ? frame.cid : undefined;
    const waiting = cid === undefined ? undefined : this.pendingRequests.get(String(cid));
    if (waiting) {
      this.pendingRequests.delete(String(cid));
      waiting(frame);
      if (frame.type !== 'history' && frame.type !== 'conversations') return;
    }
    switch (frame.type) {
      case 'welcome':
        return void this.onWelcome(frame);
      case 'msg':
      case 'receipt':
      case 'group':
      case 'read':
        this.incoming.push(frame);
        return void this.flushIncoming();
      case 'sent':
        return void markSent(this, frame.cid, frame.mid, frame.at);
      case 'history':
        return void this.onHistory(frame);
      case 'conversations':
        return void this.onConversations(frame);
      case 'presence':
        this.presence.set(frame.id, frame.online);
        return this.changed();
      case 'lobby':
        this.lobby.push(frame);
        if (this.lobby.length > LOBBY_KEEP) this.lobby.splice(0, this.lobby.length - LOBBY_KEEP);
        return this.changed();
      case 'lobby.joined':
        this.lobbyMembers = frame.members;
        return this.changed();
      case 'error':
        return this.onError(frame.code, frame.text, frame.cid);
    }
  }

  private async onWelcome(frame: WelcomeFrame): Promise<void> {
    if (this.signInFrame || !this.session) {
      const username = frame.username ?? String(frame.id);
      this.session = { id: frame.id, username, token: frame.token ?? this.session?.token ?? '' };
      this.signInFrame = null;
      await transact(this.db, ['meta'], 'readwrite', (tx) => {
        tx.objectStore('meta').put({ key: 'session', value: this.session });
      });
    }
    this.people.set(frame.id, this.session!.username);
    this.link.online();
    this.link.send({ type: 'conversations', limit: 500 });
    const peers = [...this.convs.values()].filter((conv) => conv.kind === 'user').map((conv) => conv.id);
    if (peers.length > 0) this.link.send({ type: 'who', ids: peers });
    if (this.view.kind === 'lobby') this.link.send({ type: 'lobby.join' });
    if (this.view.kind === 'conv') this.markRead();
    await this.outbox.drain();
    this.changed();
  }

  private onError(code: string, text: string, cid: string | undefined): void {
    if (code === 'auth_failed' || (code === 'username_taken' && this.signInFrame)) {
      this.authError = text;
      this.signInFrame = null;
      this.link.stop();
      if (code === 'auth_failed' && this.session) void this.signOut();
      return this.changed();
    }
    if (cid !== undefined && this.outbox.refused(String(cid), code, text)) return;
    // Requests this server does not know yet (an older server) are not the user's problem.
    if (code === 'unknown_type') return;
    this.notice = text;
    this.changed();
  }

  /** Queues a message durably, shows it, and sends it when the link is up. */
  send(conv: number, text: string): Promise<void> {
    return sendMessage(this, conv, text);
  }

  /** Stores a batch of inbox items in one transaction, then acks the last seq. */
  private async flushIncoming(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.incoming.length > 0) {
        const batch = this.incoming;
        this.incoming = [];
        const shown: StoredMessage[] = [];
        const touched = new Set<number>();
        await transact(this.db, ['messages', 'convs', 'people', 'meta'], 'readwrite', (tx) => {
          for (const frame of batch) {
            if (frame.seq !== undefined) {
              if (frame.seq <= this.lastSeq) continue;
              this.lastSeq = frame.seq;
            }
            const conv = applyInboxItem(this, frame, tx, shown);
            if (conv !== null) touched.add(conv);
          }
          for (const id of touched) tx.objectStore('convs').put(this.convs.get(id)!);
          tx.objectStore('meta').put({ key: 'seq', value: this.lastSeq });
        });
        this.link.send({ type: 'ack', seq: this.lastSeq });
        if (this.view.kind === 'conv') {
          const open = this.view.id;
          for (const message of shown) {
            if (message.conv === open && !this.messages.some((known) => known.k === message.k))
              this.messages.push(message);
          }
          this.messages.sort(byTime);
          this.markRead();
        }
        this.changed();
      }
    } finally {
      this.flushing = false;
    }
  }

  conversation(id: number, kind: 'user' | 'group'): Conversation {
    let conv = this.convs.get(id);
    if (!conv) {
      conv = {
        id,
        kind,
        name: this.people.get(id) ?? String(id).padStart(13, '0'),
        lastText: '',
        lastAt: 0,
        lastFrom: 0,
        unread: 0,
        readMid: 0,
        deliveredUpTo: 0,
        readUpTo: 0,
      };
      this.convs.set(id, conv);
      // Names come with the messages (from_name) and the conversation list; presence is asked
      // for all the new peers of a turn at once.
      if (kind === 'user') this.watchPresence(id);
    }
    return conv;
  }

  private newPeers: number[] = [];

  private watchPresence(id: number): void {
    if (this.newPeers.push(id) > 1) return;
    queueMicrotask(() => {
      const ids = this.newPeers;
      this.newPeers = [];
      this.link.send({ type: 'who', ids });
    });
  }

  resolveName(id: number): void {
    this.request({ type: 'lookup', name: id }, (answer) => {
      if (answer.type !== 'lookup' || !answer.username) return;
      void this.rememberName(id, answer.username);
    });
  }

  private async rememberName(id: number, name: string): Promise<void> {
    this.people.set(id, name);
    const conv = this.convs.get(id);
    if (conv && conv.kind === 'user') conv.name = name;
    await transact(this.db, ['people', 'convs'], 'readwrite', (tx) => {
      tx.objectStore('people').put({ id, name });
      if (conv) tx.objectStore('convs').put(conv);
    });
    this.changed();
  }

  /** Opens a conversation: the newest page from this browser, then the server's history if short. */
  async open(view: View): Promise<void> {
    if (this.view.kind === 'lobby' && view.kind !== 'lobby') this.link.send({ type: 'lobby.leave' });
    this.view = view;
    this.messages = [];
    if (view.kind === 'lobby') {
      this.lobbyMembers = 0;
      this.link.send({ type: 'lobby.join' });
    }
    if (view.kind === 'conv') {
      this.conversation(view.id, this.convs.get(view.id)?.kind ?? 'user');
      this.messages = (await olderMessages(this.db, view.id, Infinity, PAGE)).sort(byTime);
      if (this.messages.length < PAGE) this.fetchHistory(view.id);
      this.markRead();
    }
    this.changed();
  }

  /** Older messages for the open conversation: this browser's first, then the server's. */
  async loadOlder(): Promise<void> {
    if (this.view.kind !== 'conv') return;
    const id = this.view.id;
    const oldest = this.messages[0]?.at ?? Infinity;
    // Messages stored in one commit share a time: the page starts at the oldest's time, and
    // skips what is already shown.
    const known = new Set(this.messages.map((message) => message.k));
    const ties = this.messages.filter((message) => message.at === oldest).length;
    const older = (await olderMessages(this.db, id, oldest, PAGE + ties)).filter(
      (message) => !known.has(message.k),
    );
    if (older.length > 0) {
      this.messages = [...older, ...this.messages].sort(byTime);
      this.changed();
    } else this.fetchHistory(id);
  }

  private historyPending = new Set<number>();

  private fetchHistory(id: number): void {
    const conv = this.convs.get(id);
    if (conv?.moreHistory === false || this.historyPending.has(id)) return;
    const mids = this.messages.map((message) => message.mid ?? Infinity);
    const before = Math.min(...mids);
    const asked = this.request(
      { type: 'history', conv: id, limit: PAGE, ...(Number.isFinite(before) ? { before } : {}) },
      () => this.historyPending.delete(id),
    );
    if (asked) this.historyPending.add(id);
  }

  private async onHistory(frame: HistoryFrame): Promise<void> {
    const conv = this.convs.get(frame.conv);
    if (!conv) return;
    conv.moreHistory = frame.more;
    const stored = frame.messages.map((message) => fromHistory(this, frame.conv, message));
    await transact(this.db, ['messages', 'convs'], 'readwrite', (tx) => {
      for (const message of stored) tx.objectStore('messages').put(message);
      tx.objectStore('convs').put(conv);
    });
    if (this.view.kind === 'conv' && this.view.id === frame.conv) {
      const known = new Set(this.messages.map((message) => message.k));
      this.messages = [...stored.filter((message) => !known.has(message.k)), ...this.messages];
      this.messages.sort(byTime);
    }
    this.changed();
  }

  private async onConversations(frame: ConversationsFrame): Promise<void> {
    await transact(this.db, ['convs'], 'readwrite', (tx) => applyConversations(this, frame, tx));
    this.changed();
  }

  /** Tells the server the open conversation is read, only while the page is visible. */
  markRead(): void {
    if (this.view.kind !== 'conv' || document.visibilityState !== 'visible') return;
    const conv = this.convs.get(this.view.id);
    if (!conv) return;
    const me = this.session?.id;
    let newest = 0;
    for (const message of this.messages)
      if (message.from !== me && (message.mid ?? 0) > newest) newest = message.mid!;
    if (newest <= conv.readMid && conv.unread === 0) return;
    if (newest > conv.readMid && !this.link.send({ type: 'read', conv: conv.id, mid: newest })) return;
    conv.readMid = Math.max(conv.readMid, newest);
    conv.unread = 0;
    void transact(this.db, ['convs'], 'readwrite', (tx) => tx.objectStore('convs').put(conv));
    this.changed();
  }

  unreadTotal(): number {
    let total = 0;
    for (const conv of this.convs.values()) total += conv.unread;
    return total;
  }
}

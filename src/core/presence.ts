import type { NodeEvents } from './node-watch.js';
import { BUS_RESYNC, type Bus } from './ports.js';
import type { AccountId } from './types.js';

export const PRESENCE_SUBJECT = 'presence';

export interface PresenceChange {
  id: AccountId;
  online: boolean;
}

/** What presence can close when an operator suspends an account: a session's connection. */
export interface Closable {
  close(): void;
}

const UNCLOSABLE: Closable = { close() {} };

/** What nodes tell each other: one change, or a node's whole list when another joins. */
type PresenceNote = { node: string; id: AccountId; online: boolean } | { node: string; all: AccountId[] };

/**
 * Who is online, on this node and on the others. Keeps the live sessions per account here and
 * publishes only on the first and the last; keeps which other nodes have each account online
 * from their notes. Watchers hear a change only when the account goes online or offline
 * anywhere, not when it moves between nodes.
 */
export class Presence implements NodeEvents {
  private readonly sessions = new Map<AccountId, Closable[]>();
  private readonly elsewhere = new Map<AccountId, Set<string>>();
  private readonly byNode = new Map<string, Set<AccountId>>();
  private readonly watchers = new Set<(change: PresenceChange) => void>();

  constructor(
    private readonly bus: Bus,
    private readonly node: string,
  ) {
    bus.subscribe(PRESENCE_SUBJECT, (payload) => {
      if (payload !== BUS_RESYNC) this.onNote(payload as PresenceNote);
    });
  }

  isOnline(id: AccountId): boolean {
    return this.sessions.has(id) || this.elsewhere.has(id);
  }

  /** Every account with a live session on this server. */
  online(): AccountId[] {
    return [...this.sessions.keys()];
  }

  enter(id: AccountId, session: Closable = UNCLOSABLE): void {
    const open = this.sessions.get(id);
    if (open) {
      open.push(session);
      return;
    }
    this.sessions.set(id, [session]);
    this.bus.publish(PRESENCE_SUBJECT, { node: this.node, id, online: true } satisfies PresenceNote);
    if (!this.elsewhere.has(id)) this.notify({ id, online: true });
  }

  leave(id: AccountId, session: Closable = UNCLOSABLE): void {
    const open = this.sessions.get(id);
    if (!open) return;
    const at = open.indexOf(session);
    open.splice(at === -1 ? 0 : at, 1);
    if (open.length > 0) return;
    this.sessions.delete(id);
    this.bus.publish(PRESENCE_SUBJECT, { node: this.node, id, online: false } satisfies PresenceNote);
    if (!this.elsewhere.has(id)) this.notify({ id, online: false });
  }

  /** Closes every session of the account on this node; returns how many there were. */
  disconnect(id: AccountId): number {
    const open = [...(this.sessions.get(id) ?? [])];
    for (const session of open) session.close();
    return open.length;
  }

  watch(handler: (change: PresenceChange) => void): () => void {
    const own = (change: PresenceChange) => handler(change);
    this.watchers.add(own);
    return () => this.watchers.delete(own);
  }

  joined(): void {
    this.bus.publish(PRESENCE_SUBJECT, {
      node: this.node,
      all: [...this.sessions.keys()],
    } satisfies PresenceNote);
  }

  lost(node: string): void {
    for (const id of [...(this.byNode.get(node) ?? [])]) this.setElsewhere(id, node, false);
    this.byNode.delete(node);
  }

  private onNote(note: PresenceNote): void {
    if (typeof note?.node !== 'string' || note.node === this.node) return;
    if ('all' in note) {
      const now = new Set(note.all);
      for (const id of [...(this.byNode.get(note.node) ?? [])])
        if (!now.has(id)) this.setElsewhere(id, note.node, false);
      for (const id of now) this.setElsewhere(id, note.node, true);
    } else {
      this.setElsewhere(note.id, note.node, note.online);
    }
  }

  private setElsewhere(id: AccountId, node: string, online: boolean): void {
    const before = this.isOnline(id);
    let nodes = this.elsewhere.get(id);
    let ids = this.byNode.get(node);
    if (online) {
      if (!nodes) this.elsewhere.set(id, (nodes = new Set()));
      if (!ids) this.byNode.set(node, (ids = new Set()));
      nodes.add(node);
      ids.add(id);
    } else {
      nodes?.delete(node);
      if (nodes?.size === 0) this.elsewhere.delete(id);
      ids?.delete(id);
    }
    const after = this.isOnline(id);
    if (before !== after) this.notify({ id, online: after });
  }

  private notify(change: PresenceChange): void {
    for (const watcher of [...this.watchers]) watcher(change);
  }
}

import type { Bus } from './ports.js';
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

/** Live sessions per account; publishes a change only on the first and the last. */
export class Presence {
  private readonly sessions = new Map<AccountId, Closable[]>();

  constructor(private readonly bus: Bus) {}

  isOnline(id: AccountId): boolean {
    return this.sessions.has(id);
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
    this.bus.publish(PRESENCE_SUBJECT, { id, online: true } satisfies PresenceChange);
  }

  leave(id: AccountId, session: Closable = UNCLOSABLE): void {
    const open = this.sessions.get(id);
    if (!open) return;
    const at = open.indexOf(session);
    open.splice(at === -1 ? 0 : at, 1);
    if (open.length > 0) return;
    this.sessions.delete(id);
    this.bus.publish(PRESENCE_SUBJECT, { id, online: false } satisfies PresenceChange);
  }

  /** Closes every session of the account; returns how many there were. */
  disconnect(id: AccountId): number {
    const open = [...(this.sessions.get(id) ?? [])];
    for (const session of open) session.close();
    return open.length;
  }

  watch(handler: (change: PresenceChange) => void): () => void {
    const receive = (payload: unknown) => handler(payload as PresenceChange);
    this.bus.subscribe(PRESENCE_SUBJECT, receive);
    return () => this.bus.unsubscribe(PRESENCE_SUBJECT, receive);
  }
}

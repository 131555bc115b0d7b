import type { Bus } from './ports.js';
import type { AccountId } from './types.js';

export const PRESENCE_SUBJECT = 'presence';

export interface PresenceChange {
  id: AccountId;
  online: boolean;
}

/** Counts live sessions per account; publishes a change only on the first and the last. */
export class Presence {
  private readonly sessions = new Map<AccountId, number>();

  constructor(private readonly bus: Bus) {}

  isOnline(id: AccountId): boolean {
    return (this.sessions.get(id) ?? 0) > 0;
  }

  enter(id: AccountId): void {
    const count = (this.sessions.get(id) ?? 0) + 1;
    this.sessions.set(id, count);
    if (count === 1) this.bus.publish(PRESENCE_SUBJECT, { id, online: true } satisfies PresenceChange);
  }

  leave(id: AccountId): void {
    const count = (this.sessions.get(id) ?? 0) - 1;
    if (count > 0) {
      this.sessions.set(id, count);
      return;
    }
    this.sessions.delete(id);
    this.bus.publish(PRESENCE_SUBJECT, { id, online: false } satisfies PresenceChange);
  }

  watch(handler: (change: PresenceChange) => void): () => void {
    const receive = (payload: unknown) => handler(payload as PresenceChange);
    this.bus.subscribe(PRESENCE_SUBJECT, receive);
    return () => this.bus.unsubscribe(PRESENCE_SUBJECT, receive);
  }
}

import type { Bus, BusHandler } from '../../core/ports.js';

/**
 * In-process bus: a subject is a key, delivery is a synchronous call to each handler. Nearly
 * every subject (a user's inbox) has one subscriber, so that one is kept as is, with no Set:
 * an idle connection is a few hundred bytes smaller.
 */
export class LocalBus implements Bus {
  private readonly subjects = new Map<string, BusHandler | Set<BusHandler>>();

  publish(subject: string, payload: unknown): void {
    const handlers = this.subjects.get(subject);
    if (handlers === undefined) return;
    if (typeof handlers === 'function') {
      handlers(payload);
      return;
    }
    // Copy so a handler may unsubscribe itself while we iterate.
    for (const handler of [...handlers]) handler(payload);
  }

  subscribe(subject: string, handler: BusHandler): void {
    const current = this.subjects.get(subject);
    if (current === undefined) this.subjects.set(subject, handler);
    else if (typeof current === 'function') this.subjects.set(subject, new Set([current, handler]));
    else current.add(handler);
  }

  /** Whether anything here listens on the subject. */
  has(subject: string): boolean {
    return this.subjects.has(subject);
  }

  /** Every subject with a subscriber. */
  subjectNames(): IterableIterator<string> {
    return this.subjects.keys();
  }

  async close(): Promise<void> {
    this.subjects.clear();
  }

  unsubscribe(subject: string, handler: BusHandler): void {
    const current = this.subjects.get(subject);
    if (current === handler) {
      this.subjects.delete(subject);
    } else if (current instanceof Set) {
      current.delete(handler);
      if (current.size === 1) this.subjects.set(subject, current.values().next().value!);
    }
  }
}

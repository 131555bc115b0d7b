import type { Bus, BusHandler } from '../core/ports.js';

/** In-process bus: a subject is a key, delivery is a synchronous call to each handler. */
export class LocalBus implements Bus {
  private readonly subjects = new Map<string, Set<BusHandler>>();

  publish(subject: string, payload: unknown): void {
    const handlers = this.subjects.get(subject);
    if (!handlers) return;
    // Copy so a handler may unsubscribe itself while we iterate.
    for (const handler of [...handlers]) handler(payload);
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    let handlers = this.subjects.get(subject);
    if (!handlers) {
      handlers = new Set();
      this.subjects.set(subject, handlers);
    }
    handlers.add(handler);
    return () => {
      const current = this.subjects.get(subject);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) this.subjects.delete(subject);
    };
  }

  async close(): Promise<void> {
    this.subjects.clear();
  }
}

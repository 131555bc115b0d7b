import { getAll, transact, type OutboxEntry } from './db.js';
import type { ServerLink } from './link.js';
import { REFUSALS } from './protocol.js';

const RETRY_MS = 2000;

/**
 * Messages typed but not yet stored by the server. An entry leaves IndexedDB only when the
 * server acknowledges it (`sent`) or refuses it for good; after a reconnect every entry is sent
 * again in order, and the server's dedup by cid makes the resend harmless, so each message is
 * delivered exactly once.
 */
export class Outbox {
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly db: IDBDatabase,
    private readonly link: ServerLink,
    private readonly onRefused: (entry: OutboxEntry, error: string) => void,
  ) {}

  /** Sends one entry now if the link is up; otherwise the next drain sends it. */
  send(entry: OutboxEntry): void {
    this.link.send({ type: 'msg', to: entry.conv, text: entry.text, cid: entry.cid, ts: entry.ts });
  }

  /** Sends every queued entry, oldest first. */
  async drain(): Promise<void> {
    const entries = await getAll<OutboxEntry>(this.db, 'outbox');
    entries.sort((a, b) => a.n! - b.n!);
    for (const entry of entries) this.send(entry);
  }

  async entries(): Promise<OutboxEntry[]> {
    return getAll<OutboxEntry>(this.db, 'outbox');
  }

  /**
   * The server stored the message: removes its entry and runs `also` in the same transaction,
   * so the message is never both queued and stored. Returns the entry, or null for a duplicate ack.
   */
  async acknowledged(
    cid: string,
    also: (tx: IDBTransaction, entry: OutboxEntry) => void,
  ): Promise<OutboxEntry | null> {
    const entry = (await this.entries()).find((candidate) => candidate.cid === cid);
    if (!entry) return null;
    let removed = false;
    await transact(this.db, ['outbox', 'messages'], 'readwrite', (tx) => {
      const outbox = tx.objectStore('outbox');
      const request = outbox.get(entry.n!);
      request.onsuccess = () => {
        if (!request.result) return;
        removed = true;
        outbox.delete(entry.n!);
        also(tx, entry);
      };
    });
    return removed ? entry : null;
  }

  /** An error answering one of ours: true when it was, after dropping a refused entry or scheduling a retry. */
  refused(cid: string, code: string, text: string): boolean {
    if (!cid.startsWith('o')) return false;
    if (REFUSALS.has(code)) {
      void this.entries().then(async (entries) => {
        const entry = entries.find((candidate) => candidate.cid === cid);
        if (!entry) return;
        await transact(this.db, ['outbox'], 'readwrite', (tx) => tx.objectStore('outbox').delete(entry.n!));
        this.onRefused(entry, text);
      });
    } else if (this.retryTimer === null) {
      // rate_limited, internal: the server may take it later.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.drain();
      }, RETRY_MS);
    }
    return true;
  }
}

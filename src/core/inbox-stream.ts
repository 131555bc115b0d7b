import type { Hub } from './hub.js';
import type { AccountId, InboxItem } from './types.js';

const PAGE = 512;
/** Up to this much of a page (by its text) waits in memory for a full connection to drain. */
const READ_AHEAD_BYTES = 256 * 1024;

/** Where a stream writes: one connection of a dialect session. */
export interface InboxSink {
  deliver(item: InboxItem): void;
  /** False while the connection's write buffer is over its high-water mark. */
  writable(): boolean;
  /** False once the connection is closing: the stream stops for good. */
  open(): boolean;
  /** Calls back once, when the buffer has drained. */
  onDrain(callback: () => void): void;
  /** The store failed under the stream; the session should close so the client resumes. */
  onError(error: unknown): void;
  /**
   * Calls back once everything delivered so far has left the server for the kernel; never if
   * the connection is dropped first. Without it, delivered counts as written.
   */
  whenWritten?(callback: () => void): void;
}

/**
 * One session's view of a user's inbox: everything after a seq, first from the store, then
 * live from the bus, with no gap and no duplicate. Live items that arrive while the connection
 * is backed up are not buffered here: they are in the store, and the next pull fetches them,
 * so a slow reader costs the server no memory.
 */
export class InboxStream {
  private next: number;
  private pulling = false;
  private pullAgain = false;
  private closed = false;
  /** The live subscription's handler, while there is one. */
  private live: ((payload: unknown) => void) | null = null;
  private ackScheduled = false;
  private delivered: number;

  constructor(
    private readonly hub: Hub,
    readonly user: AccountId,
    afterSeq: number,
    private readonly sink: InboxSink,
    /** For clients that never ack: taken by the kernel counts as delivered. */
    private readonly autoAck: boolean,
    /** Whose cursor the automatic acks move. */
    private readonly device: number,
  ) {
    this.next = afterSeq + 1;
    this.delivered = afterSeq;
  }

  /** The last seq written to the sink. */
  get lastSeq(): number {
    return this.next - 1;
  }

  start(): void {
    this.live = (payload) => this.onLive(payload as InboxItem);
    this.hub.bus.subscribe(this.hub.inboxSubject(this.user), this.live);
    void this.pull();
  }

  stop(): void {
    this.closed = true;
    if (this.live) this.hub.bus.unsubscribe(this.hub.inboxSubject(this.user), this.live);
    this.live = null;
  }

  private onLive(item: InboxItem): void {
    if (this.closed || item.seq < this.next) return;
    if (!this.pulling && item.seq === this.next && this.sink.writable()) {
      this.emit(item);
      return;
    }
    void this.pull();
  }

  private emit(item: InboxItem): void {
    this.next = item.seq + 1;
    this.sink.deliver(item);
    if (item.kind === 'msg') this.hub.observer.delivered(this.hub.dialect);
    if (this.autoAck) this.scheduleAck();
  }

  private async pull(): Promise<void> {
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.pulling = true;
    // The part of the last page that did not fit before the buffer filled. It is kept across the
    // drain wait when it is small, so that a fast reader's pages are not read twice.
    let page: InboxItem[] = [];
    let at = 0;
    let lastPage = false;
    try {
      do {
        this.pullAgain = false;
        while (!this.closed) {
          if (!this.sink.open()) {
            this.stop();
            break;
          }
          if (!this.sink.writable()) {
            if (weightOf(page, at) > READ_AHEAD_BYTES) page = [];
            await new Promise<void>((resolve) => this.sink.onDrain(resolve));
            continue;
          }
          if (at >= page.length || page[at]!.seq !== this.next) {
            page = await this.hub.store.readInbox(this.user, this.next - 1, PAGE);
            at = 0;
            lastPage = page.length < PAGE;
            if (this.closed || page.length === 0) break;
          }
          // Item by item, so a connection holds at most its high-water mark plus one frame.
          const first = at;
          while (at < page.length && (at === first || this.sink.writable())) this.emit(page[at++]!);
          if (at === page.length && lastPage) break;
        }
      } while (this.pullAgain && !this.closed);
    } catch (error) {
      if (!this.closed) this.sink.onError(error);
    } finally {
      this.pulling = false;
    }
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const upTo = this.next - 1;
      if (upTo <= this.delivered) return;
      // What is still in the server's buffer when a stalled connection is dropped was never the
      // client's: it stays undelivered and is sent again next time.
      if (this.sink.whenWritten) this.sink.whenWritten(() => this.ackUpTo(upTo));
      else this.ackUpTo(upTo);
    });
  }

  private ackUpTo(upTo: number): void {
    const before = this.delivered;
    if (upTo <= before) return;
    this.delivered = upTo;
    // A failed ack only delays receipts: the next write acks the larger range.
    this.hub.ack(this.user, upTo, this.device).catch(() => {
      if (this.delivered === upTo) this.delivered = before;
    });
  }
}

/** About what the items from `from` on take in memory: message text, and a little for the rest. */
function weightOf(items: InboxItem[], from: number): number {
  let bytes = 0;
  for (let i = from; i < items.length; i++) {
    const item = items[i]!;
    bytes += item.kind === 'msg' ? 2 * item.msg.text.length + 128 : 256;
  }
  return bytes;
}

import { BUS_RESYNC, type Bus } from './ports.js';

export const NODES_SUBJECT = 'nodes';
/** A node unheard for this many heartbeats is taken for dead. */
const MISSED_BEATS = 3;

interface Beat {
  node: string;
  /** Sent by a node that has just seen another for the first time: "tell me your state". */
  hello?: boolean;
}

export interface NodeEvents {
  /** A node appeared (or asked again): publish this node's live state for it. */
  joined(node: string): void;
  /** A node stopped beating: forget what it had announced. */
  lost(node: string): void;
}

/**
 * Which other nodes are alive, from heartbeats on the bus. Presence and the p2p directory live
 * in each node's memory; this lets every node learn the others' and drop a dead node's.
 */
export class NodeWatch {
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly receive = (payload: unknown) => {
    if (payload !== BUS_RESYNC) this.onBeat(payload as Beat);
  };

  constructor(
    private readonly bus: Bus,
    readonly node: string,
    private readonly heartbeatMs: number,
    private readonly now: () => number,
    private readonly events: NodeEvents[],
  ) {}

  /** The other nodes alive now. */
  get peers(): string[] {
    return [...this.seen.keys()];
  }

  start(): void {
    this.bus.subscribe(NODES_SUBJECT, this.receive);
    this.bus.publish(NODES_SUBJECT, { node: this.node, hello: true } satisfies Beat);
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.bus.unsubscribe(NODES_SUBJECT, this.receive);
  }

  private tick(): void {
    this.bus.publish(NODES_SUBJECT, { node: this.node } satisfies Beat);
    const deadline = this.now() - MISSED_BEATS * this.heartbeatMs;
    for (const [node, last] of this.seen) {
      if (last >= deadline) continue;
      this.seen.delete(node);
      for (const events of this.events) events.lost(node);
    }
  }

  private onBeat(beat: Beat): void {
    if (typeof beat?.node !== 'string' || beat.node === this.node) return;
    const known = this.seen.has(beat.node);
    this.seen.set(beat.node, this.now());
    if (known && !beat.hello) return;
    for (const events of this.events) events.joined(beat.node);
    // It may have forgotten this node (a partition): ask it for its state in turn.
    if (!known) this.bus.publish(NODES_SUBJECT, { node: this.node, hello: true } satisfies Beat);
  }
}

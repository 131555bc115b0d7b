import { MensageiroError } from '../core/errors.js';
import { serverLabel, type ServerAddress } from './servers.js';

/**
 * Which server a client tries next. A failed server hands over to the next in the list at once;
 * only when a whole round has failed does the client back off (exponential, with jitter). A
 * server that answered in another protocol is never tried again.
 */
export class ServerRotation {
  private index = 0;
  /** Failed attempts since the last sign-in. */
  private failures = 0;
  private readonly failedThisRound = new Map<number, string>();
  private readonly foreign = new Map<number, string>();

  constructor(
    readonly servers: ServerAddress[],
    private readonly minDelayMs: number,
    private readonly maxDelayMs: number,
  ) {
    if (servers.length === 0) throw new MensageiroError('bad_request', 'no server given');
  }

  get current(): ServerAddress {
    return this.servers[this.index]!;
  }

  succeeded(): void {
    this.failures = 0;
    this.failedThisRound.clear();
  }

  /**
   * Records that the current server failed. Returns where and when to try next, or null when
   * there is nothing left to try: every server spoke another protocol, or (with `once`) every
   * server failed once.
   */
  failed(reason: string, foreign: boolean, once: boolean): { next: ServerAddress; delayMs: number } | null {
    const failed = this.index;
    if (foreign) this.foreign.set(failed, `does not speak native (${reason})`);
    this.failedThisRound.set(failed, this.foreign.get(failed) ?? reason);
    const usable = this.servers.map((_, index) => index).filter((index) => !this.foreign.has(index));
    this.failures++;
    const roundOver = this.failures % Math.max(1, usable.length) === 0;
    if (usable.length === 0 || (once && roundOver)) return null;
    this.index = usable.find((index) => index > failed) ?? usable[0]!;
    if (!roundOver) return { next: this.current, delayMs: 0 };
    this.failedThisRound.clear();
    const round = this.failures / usable.length - 1;
    const delayMs = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** round) * (0.5 + Math.random() / 2);
    return { next: this.current, delayMs };
  }

  /** Why every server of the last round failed, one clause per server. */
  whyNone(): MensageiroError {
    const reasons = [...this.failedThisRound].map(([index, why]) => {
      const label = serverLabel(this.servers[index]!);
      return why.startsWith('does not speak') ? `${label} ${why}` : `cannot reach ${label} (${why})`;
    });
    const foreignOnly = this.foreign.size === this.servers.length;
    return new MensageiroError(foreignOnly ? 'bad_frame' : 'timeout', reasons.join('; '));
  }
}

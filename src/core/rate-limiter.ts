import { MensageiroError } from './errors.js';

export interface RateLimit {
  /** Tokens a key starts with and can save up. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many keys, full buckets (keys at rest) are forgotten, so memory stays bounded. */
const PRUNE_ABOVE = 10_000;

/** Token buckets, one per key (an account or an IP): a burst, then a steady rate. */
export class RateLimiter {
  private readonly buckets = new Map<string | number, Bucket>();

  constructor(
    readonly what: string,
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`, or throws 'rate_limited' saying when to try again. */
  take(key: string | number): void {
    if (this.limit.burst <= 0) return;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(
      this.limit.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond,
    );
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      const wait =
        this.limit.perSecond > 0 ? Math.ceil((1 - bucket.tokens) / this.limit.perSecond) : Infinity;
      throw new MensageiroError('rate_limited', `too many ${this.what}; try again in ${wait} s`);
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > PRUNE_ABOVE) this.prune(now);
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const tokens = bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond;
      if (tokens >= this.limit.burst) this.buckets.delete(key);
    }
  }
}

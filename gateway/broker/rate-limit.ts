import type { Clock } from '../core/clock.ts';

/**
 * Per-client token buckets for PUBLISH packets. A client over its rate is not dropped but
 * slowed: `reserve()` hands out the wait before its packet may proceed, and because aedes reads
 * a client's next packets only after the current ones are handled, waiting here pushes back
 * onto the client's TCP connection. Tokens may go negative (a debt), which queues concurrent
 * packets of one read batch in arrival order.
 */
export class PublishRateLimiter {
  private buckets = new Map<string, { tokens: number; at: number; throttled: number }>();

  constructor(
    private readonly settings: { publishesPerSecond: number; burst: number },
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** Takes one token for this client; returns how many ms its packet must wait (0 when within its rate). */
  reserve(clientId: string): number {
    const { publishesPerSecond: rate, burst } = this.settings;
    const now = this.clock.now();
    let bucket = this.buckets.get(clientId);
    if (!bucket) {
      bucket = { tokens: burst, at: now, throttled: 0 };
      this.buckets.set(clientId, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / 1000);
    bucket.at = now;
    bucket.tokens -= 1;
    if (bucket.tokens >= 0) return 0;
    bucket.throttled++;
    return Math.ceil((-bucket.tokens * 1000) / rate);
  }

  /** Packets of this client that had to wait since the last call; resets the count. */
  takeThrottledCount(clientId: string): number {
    const bucket = this.buckets.get(clientId);
    if (!bucket) return 0;
    const n = bucket.throttled;
    bucket.throttled = 0;
    return n;
  }

  /**
   * Forgets a disconnected client once its bucket has refilled, so that anonymous test-bench ids
   * cannot grow the map, while a flooder that reconnects at once still finds its debt.
   */
  release(clientId: string): void {
    const bucket = this.buckets.get(clientId);
    if (!bucket) return;
    const { publishesPerSecond: rate, burst } = this.settings;
    const refilled = bucket.tokens + ((this.clock.now() - bucket.at) * rate) / 1000;
    if (refilled >= burst) this.buckets.delete(clientId);
  }

  get size(): number {
    return this.buckets.size;
  }
}

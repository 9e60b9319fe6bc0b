import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { PublishRateLimiter } from '../../../gateway/broker/rate-limit.ts';

describe('PublishRateLimiter', () => {
  it('lets a burst through, then spaces packets at the sustained rate, in arrival order', () => {
    const clock = new FakeClock();
    const limiter = new PublishRateLimiter({ publishesPerSecond: 10, burst: 3 }, clock);
    expect([1, 2, 3].map(() => limiter.reserve('a'))).toEqual([0, 0, 0]);
    // Tokens go into debt: the 4th waits one interval, the 5th two.
    expect(limiter.reserve('a')).toBe(100);
    expect(limiter.reserve('a')).toBe(200);
    expect(limiter.takeThrottledCount('a')).toBe(2);
    expect(limiter.takeThrottledCount('a')).toBe(0);
  });

  it('refills with time, never above the burst', () => {
    const clock = new FakeClock();
    const limiter = new PublishRateLimiter({ publishesPerSecond: 10, burst: 3 }, clock);
    for (let i = 0; i < 3; i++) limiter.reserve('a');
    clock.advance(100);
    expect(limiter.reserve('a')).toBe(0);
    expect(limiter.reserve('a')).toBe(100);
    clock.advance(60_000);
    expect([1, 2, 3, 4].map(() => limiter.reserve('a'))).toEqual([0, 0, 0, 100]);
  });

  it('keeps clients apart', () => {
    const clock = new FakeClock();
    const limiter = new PublishRateLimiter({ publishesPerSecond: 1, burst: 1 }, clock);
    expect(limiter.reserve('flooder')).toBe(0);
    expect(limiter.reserve('flooder')).toBe(1000);
    expect(limiter.reserve('quiet')).toBe(0);
  });

  it('forgets a disconnected client only once its bucket is full again, so reconnecting does not reset a debt', () => {
    const clock = new FakeClock();
    const limiter = new PublishRateLimiter({ publishesPerSecond: 10, burst: 2 }, clock);
    for (let i = 0; i < 5; i++) limiter.reserve('a');
    limiter.release('a');
    expect(limiter.size).toBe(1);
    expect(limiter.reserve('a')).toBeGreaterThan(0);
    clock.advance(10_000);
    limiter.release('a');
    expect(limiter.size).toBe(0);
  });
});

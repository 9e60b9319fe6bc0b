import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type TimerHandle } from '../../gateway/core/clock.ts';

/**
 * The system clock with a wall-time offset a test can step, as `date -s` or an NTP step does on
 * a real gateway: `now()` jumps, while timers and the monotonic clock keep running undisturbed
 * (Node's timers and performance.now() are monotonic, exactly like the kernel's CLOCK_MONOTONIC).
 */
export class JumpClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return systemClock.setTimeout(fn, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    systemClock.clearTimeout(handle);
  }

  /** Steps wall time by `ms` (negative: back). */
  step(ms: number): void {
    this.offsetMs += ms;
  }
}

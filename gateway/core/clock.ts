/** Injectable time source, so rules and timers can be tested without waiting. */
export interface Clock {
  now(): number;
  /**
   * Milliseconds on a clock that never steps (CLOCK_MONOTONIC), for measuring how long ago
   * something happened: wall time (now) jumps when NTP or an operator sets the clock.
   * Optional so that hand-made clocks keep working; users fall back to now().
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

let nextTimerId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    const handle = { id: nextTimerId++, t };
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout((handle as unknown as { t: NodeJS.Timeout }).t);
  },
};

/**
 * A clock for tests: time moves only when advance() is called; due timers fire in order.
 * set() steps the wall clock only, as NTP or `date -s` does: timers, like Node's, and
 * monotonic() run on the time that really passed (advance), not on wall time.
 */
export class FakeClock implements Clock {
  /** Timers by the monotonic time they fall due. */
  private timers = new Map<number, { at: number; fn: () => void }>();
  /**
   * No timer falls due before this (a lower bound: a cleared timer may have set it). Lets advance()
   * skip the scan of every timer, which a benchmark stepping the clock per event would otherwise
   * charge to the code under test: real timers cost nothing while time passes.
   */
  private earliest = Infinity;
  private elapsed = 0;
  constructor(private current = Date.parse('2026-11-01T08:00:00+08:00')) {}

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.elapsed;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextTimerId++;
    const at = this.elapsed + Math.max(0, ms);
    this.timers.set(id, { at, fn });
    if (at < this.earliest) this.earliest = at;
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Moves time forward, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): void {
    const target = this.elapsed + ms;
    while (this.earliest <= target) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      let earliest = Infinity;
      for (const entry of this.timers) {
        if (entry[1].at < earliest) earliest = entry[1].at;
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      this.earliest = earliest;
      if (!next) break;
      this.timers.delete(next[0]);
      this.current += next[1].at - this.elapsed;
      this.elapsed = next[1].at;
      next[1].fn();
    }
    this.current += target - this.elapsed;
    this.elapsed = target;
  }

  /** Steps the wall clock to `ms`; pending timers keep their remaining time. */
  set(ms: number): void {
    this.current = ms;
  }
}

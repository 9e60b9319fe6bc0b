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
  /**
   * Pending timers as a binary heap by (due time, order set), so that advance() finds the next
   * one without reading every timer: a benchmark stepping the clock per event would otherwise
   * charge the code under test for scans (and the entry arrays they allocated) that real timers
   * never cost. A cleared timer is only marked (its handle is the timer itself), and dropped
   * when it reaches the top.
   */
  private heap: FakeTimer[] = [];
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
    const timer: FakeTimer = { at: this.elapsed + Math.max(0, ms), id, fn, cleared: false };
    this.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as FakeTimer).cleared = true;
  }

  /** Moves time forward, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): void {
    const target = this.elapsed + ms;
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= target) {
      const timer = this.pop();
      if (timer.cleared) continue;
      this.current += timer.at - this.elapsed;
      this.elapsed = timer.at;
      timer.fn();
    }
    this.current += target - this.elapsed;
    this.elapsed = target;
  }

  private push(timer: FakeTimer): void {
    const heap = this.heap;
    let i = heap.push(timer) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): FakeTimer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const child = left + 1 < heap.length && before(heap[left + 1]!, heap[left]!) ? left + 1 : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Steps the wall clock to `ms`; pending timers keep their remaining time. */
  set(ms: number): void {
    this.current = ms;
  }
}

interface FakeTimer {
  at: number;
  /** Set order: timers due at the same time fire in the order they were set. */
  id: number;
  fn: () => void;
  cleared: boolean;
}

const before = (a: FakeTimer, b: FakeTimer) => a.at < b.at || (a.at === b.at && a.id < b.id);

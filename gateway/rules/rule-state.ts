import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Store } from '../store/store.ts';

const TIMER_PREFIX = 't:';
/**
 * Keys an event-sourced rule keeps on disk: what the events alone cannot tell after a restart
 * (that an alert already fired for a door's opening, up to when a door's passages were judged).
 */
export const KEPT_PREFIX = 'k:';
/** Timers and kept keys are written even for an event-sourced rule. */
const isDurable = (key: string) => key.startsWith(TIMER_PREFIX) || key.startsWith(KEPT_PREFIX);

interface StoredTimer {
  dueMs: number;
  data: unknown;
}

/**
 * One rule's durable state: windows, counters, last-seen times and pending timers, kept in
 * memory for speed and mirrored to SQLite (rule_state). Changes made in one turn of the event
 * loop are coalesced into a single group-committed write, so a busy window costs one row write
 * per key per tick rather than one per event. The object outlives rule instances: a hot swap
 * of the rule's parameters hands the same state to the new instance.
 */
/**
 * Collects the rule states changed in this turn of the event loop and writes them all in one
 * queued write (one savepoint in the group commit), however many rules changed.
 */
export class StateWriter {
  private pending = new Set<RuleState>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  changed(state: RuleState): void {
    if (this.pending.size === 0) {
      // The write runs when the queue commits; by then every change of this tick is recorded.
      this.store.writes
        .write(() => this.writeAll())
        .catch(() => {
          /* the store is closing; stop() has queued what it could */
        });
    }
    this.pending.add(state);
  }

  private writeAll(): void {
    const states = this.pending;
    this.pending = new Set();
    const now = this.clock.now();
    for (const state of states) this.store.ruleState.setMany(state.ruleId, state.takeDirty(), now);
  }
}

export class RuleState {
  private values: Map<string, unknown>;
  private dirty = new Map<string, unknown>();
  /** Keys that have a row in SQLite: a key set and deleted within one tick never reaches the disk. */
  private stored: Set<string>;
  /** Windows and counters are rebuilt from the events table; only timers are written (see setEventSourced). */
  private eventSourced = false;

  constructor(
    readonly ruleId: string,
    private readonly store: Store,
    private readonly writer: StateWriter,
  ) {
    this.values = store.ruleState.all(ruleId);
    this.stored = new Set(this.values.keys());
  }

  /** The changes since the last write, handed to the StateWriter. */
  takeDirty(): [string, unknown][] {
    const batch: [string, unknown][] = [];
    for (const [key, value] of this.dirty) {
      if (value === undefined) {
        if (!this.stored.delete(key)) continue;
      } else this.stored.add(key);
      batch.push([key, value]);
    }
    this.dirty.clear();
    return batch;
  }

  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.values.set(key, value);
    if (!this.eventSourced || isDurable(key)) this.markDirty(key, value);
  }

  delete(key: string): void {
    if (!this.values.delete(key)) return;
    if (!this.eventSourced || isDurable(key) || this.stored.has(key)) this.markDirty(key, undefined);
  }

  /**
   * Event-sourced (RuleType.rebuildLookbackMs): every key but the timers and `k:` keys is kept in memory only,
   * because the engine rebuilds it by replaying stored events. Switching on forgets those keys, in
   * memory and on disk (rows written before the rule became event-sourced), ready for the replay.
   */
  setEventSourced(on: boolean): void {
    this.eventSourced = on;
    if (!on) return;
    for (const key of [...this.values.keys()]) {
      if (isDurable(key)) continue;
      this.values.delete(key);
      if (this.stored.has(key)) this.markDirty(key, undefined);
    }
  }

  /** Entries whose key starts with the prefix (timers excluded unless asked for). */
  *entries<T>(prefix = ''): IterableIterator<[string, T]> {
    for (const [key, value] of this.values) {
      if (key.startsWith(prefix) && (prefix.startsWith(TIMER_PREFIX) || !key.startsWith(TIMER_PREFIX))) yield [key, value as T];
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** Forgets everything, in memory and on disk (rule removed or its type changed). */
  clear(): void {
    for (const key of [...this.values.keys()]) this.delete(key);
  }

  /** Kept for callers that want the changes queued now; the StateWriter already queued them for this tick. */
  flush(): void {
    if (this.dirty.size > 0) this.writer.changed(this);
  }

  private markDirty(key: string, value: unknown): void {
    if (this.dirty.size === 0) this.writer.changed(this);
    this.dirty.set(key, value);
  }

  /** Durable timers live in the same state under `t:`; see DurableTimers. */
  timerEntries(): [string, StoredTimer][] {
    return [...this.entries<StoredTimer>(TIMER_PREFIX)].map(([k, v]) => [k.slice(TIMER_PREFIX.length), v]);
  }

  setTimer(key: string, timer: StoredTimer): void {
    this.set(this.timerKey(key), timer);
  }

  deleteTimer(key: string): void {
    this.delete(this.timerKey(key));
  }

  getTimer(key: string): StoredTimer | undefined {
    return this.values.get(this.timerKey(key)) as StoredTimer | undefined;
  }

  /**
   * `t:` + key, the same string each time: door-held-open sets and cancels a timer per door per
   * passage, and a string built anew must be hashed anew at every map it meets.
   */
  private timerKeys = new Map<string, string>();
  private timerKey(key: string): string {
    let stored = this.timerKeys.get(key);
    if (stored === undefined) {
      // Timer keys are few (doors, checks, sweeps); a rule that mints them without bound starts over.
      if (this.timerKeys.size >= 10_000) this.timerKeys.clear();
      stored = TIMER_PREFIX + key;
      this.timerKeys.set(key, stored);
    }
    return stored;
  }
}

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

export type TimerHandler = (key: string, data: unknown, lateMs: number) => void;

/**
 * Timers that survive a restart: the due time and data are stored in the rule's state and re-armed
 * on start. A timer that fell due while the gateway was down fires once at start with `lateMs`
 * telling how late it is; the rule decides whether the condition still holds (catch-up policy,
 * docs/rules.md). There is never more than one firing per timer key.
 *
 * Deadlines are lazy: the rule's pending timers share ONE clock timer, armed for the earliest of
 * them. Rules such as door-held-open and tailgating set a timer on nearly every passage and cancel
 * it a moment later; setting one is a state write (coalesced per turn, so a set and cancel in one
 * turn never reaches SQLite) and at most a re-arm when it is the new earliest; cancelling touches
 * no clock timer at all: when the shared timer fires it finds what is really due and re-arms for
 * the next. Firing order is the order of due times, ties in the order the keys were set.
 */
export class DurableTimers {
  /** Pending keys → when they may fire (due time, or the arm time for one already overdue). */
  private fireAt = new Map<string, number>();
  private handle: TimerHandle | null = null;
  private handleAt = Infinity;
  private running = false;

  constructor(
    private readonly state: RuleState,
    private readonly clock: Clock,
    private readonly onFire: (fire: () => void) => void,
  ) {}

  private handler: TimerHandler = () => {};

  /** Re-arms every stored timer; overdue ones fire on the next clock turn. */
  start(handler: TimerHandler): void {
    this.handler = handler;
    this.running = true;
    const now = this.clock.now();
    for (const [key, timer] of this.state.timerEntries()) this.fireAt.set(key, Math.max(timer.dueMs, now));
    this.rearm();
  }

  stop(): void {
    this.running = false;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.handleAt = Infinity;
    this.fireAt.clear();
  }

  at(key: string, dueMs: number, data: unknown = null): void {
    this.state.setTimer(key, { dueMs, data });
    if (!this.running) return;
    const at = Math.max(dueMs, this.clock.now());
    // Re-set keys move to the end of the tie order, as a fresh clock timer would.
    this.fireAt.delete(key);
    this.fireAt.set(key, at);
    if (at < this.handleAt) this.armFor(at);
  }

  cancel(key: string): void {
    this.fireAt.delete(key);
    this.state.deleteTimer(key);
  }

  has(key: string): boolean {
    return this.state.getTimer(key) !== undefined;
  }

  private armFor(at: number): void {
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handleAt = at;
    const delay = at - this.clock.now();
    // Node fires a longer timeout at once: wake up at the limit and arm again for what is left.
    if (delay > MAX_TIMEOUT_MS) {
      this.handle = this.clock.setTimeout(() => {
        this.handle = null;
        this.handleAt = Infinity;
        if (this.running) this.rearm();
      }, MAX_TIMEOUT_MS);
    } else this.handle = this.clock.setTimeout(() => this.fire(at), delay);
  }

  /** Arms the shared clock timer for the earliest pending key, or leaves none armed. */
  private rearm(): void {
    let earliest = Infinity;
    for (const at of this.fireAt.values()) if (at < earliest) earliest = at;
    if (earliest === Infinity) {
      if (this.handle) this.clock.clearTimeout(this.handle);
      this.handle = null;
      this.handleAt = Infinity;
    } else if (earliest !== this.handleAt || !this.handle) this.armFor(earliest);
  }

  private fire(target: number): void {
    this.handle = null;
    this.handleAt = Infinity;
    if (!this.running) return;
    const due: [string, number][] = [];
    for (const [key, at] of this.fireAt) if (at <= target) due.push([key, at]);
    // Stable: equal times keep the order the keys were set in.
    due.sort((a, b) => a[1] - b[1]);
    try {
      for (const [key, at] of due) {
        // An earlier handler may have cancelled or re-set this key.
        if (!this.running || this.fireAt.get(key) !== at) continue;
        const stored = this.state.getTimer(key);
        this.fireAt.delete(key);
        if (!stored) continue;
        this.state.deleteTimer(key);
        const lateMs = Math.max(0, this.clock.now() - stored.dueMs);
        this.onFire(() => this.handler(key, stored.data, lateMs));
      }
    } finally {
      // A handler that throws must not leave the other timers without a clock timer.
      if (this.running) this.rearm();
    }
  }
}

/**
 * One in-memory clock timer armed for the earliest of a rule's deadlines, for event-sourced rules
 * whose deadlines are rebuilt by the replay (a durable timer per passage would cost a state write
 * per event). Arming a deadline later than the armed one costs a comparison; the handler
 * (RuleInstance.onWake) finds what is due and arms the next. Arms made before start() (during
 * the replay) are held until then.
 */
export class Wakeup {
  private handle: TimerHandle | null = null;
  private armedAt = Infinity;
  private running = false;
  private handler: () => void = () => {};

  constructor(private readonly clock: Clock) {}

  start(handler: () => void): void {
    this.handler = handler;
    this.running = true;
    const at = this.armedAt;
    this.armedAt = Infinity;
    if (at !== Infinity) this.arm(at);
  }

  stop(): void {
    this.running = false;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.armedAt = Infinity;
  }

  arm(atMs: number): void {
    if (atMs >= this.armedAt) return;
    this.armedAt = atMs;
    if (!this.running) return;
    if (this.handle) this.clock.clearTimeout(this.handle);
    // A wake-up earlier than asked for is harmless: the handler arms again for what is left.
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, atMs - this.clock.now()));
    this.handle = this.clock.setTimeout(() => {
      this.handle = null;
      this.armedAt = Infinity;
      if (this.running) this.handler();
    }, delay);
  }
}

import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Service } from '../core/service.ts';
import type { Store } from './store.ts';

const DAY_MS = 86_400_000;
/** Rows per delete transaction: short, so device events never wait long for their turn. */
const CHUNK = 2_000;

export interface RetentionFloor {
  /** The rule that needs the longest history, and how long. */
  ruleId: string;
  ms: number;
}

/**
 * Stored device events are personal data (who passed which door, when): they are kept for
 * `storage.eventRetentionDays` and then deleted, in small chunks through the write queue. The
 * rules that rebuild their state from stored events at start (group rental, frequent stranger,
 * repeated denials) need their lookback kept: the retention is never shorter than the longest
 * one, whatever the configuration says. Alerts keep their own message and details; only the
 * evidence events of alerts older than the retention are gone. The alerts' change log (the
 * console stream's replay, with a copy of each alert at its raise and status changes) goes after
 * the same time.
 */
export class EventRetention implements Service {
  readonly name = 'event-retention';
  private timer: TimerHandle | null = null;
  private running: Promise<number> | null = null;
  private warnedFloor: string | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      days: number;
      /** Read at every sweep: the active rules may change. */
      floor: () => RetentionFloor | null;
      sweepMinutes?: number;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
    },
  ) {}

  start(): void {
    // First sweep soon after start (a gateway that was off for long has a backlog), then regularly.
    this.schedule(60_000);
  }

  async stop(): Promise<void> {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
  }

  /** How long events are kept now: the configured days, or the longest rule lookback if longer. */
  retentionMs(): { ms: number; floor: RetentionFloor | null } {
    const configured = this.deps.days * DAY_MS;
    const floor = this.deps.floor();
    if (floor && floor.ms > configured) return { ms: floor.ms, floor };
    return { ms: configured, floor: null };
  }

  /** Deletes events older than the retention; resolves with how many. */
  sweep(): Promise<number> {
    this.running ??= this.deleteExpired().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async deleteExpired(): Promise<number> {
    const { store, clock, metrics, log } = this.deps;
    const { ms, floor } = this.retentionMs();
    if (floor && this.warnedFloor !== `${floor.ruleId}:${floor.ms}`) {
      this.warnedFloor = `${floor.ruleId}:${floor.ms}`;
      log.warn(
        { rule: floor.ruleId, configuredDays: this.deps.days, keptDays: +(floor.ms / DAY_MS).toFixed(2) },
        `events are kept ${+(floor.ms / DAY_MS).toFixed(2)} days, not ${this.deps.days}: rule ${floor.ruleId} looks back that far`,
      );
    }
    const cutoff = clock.now() - ms;
    const deleted = await this.inChunks(() => {
      const n = store.events.deleteBefore(cutoff, CHUNK);
      metrics.eventsExpired.inc(n);
      return n;
    });
    if (deleted > 0) log.info({ deleted, before: new Date(cutoff).toISOString() }, `deleted ${deleted} events older than the retention`);
    const entries = await this.inChunks(() => store.alerts.deleteLogBefore(cutoff, CHUNK));
    if (entries > 0) log.info({ entries, before: new Date(cutoff).toISOString() }, `deleted ${entries} alert change-log entries older than the retention`);
    return deleted;
  }

  /** Runs `deleteChunk` through the write queue until it deletes less than a chunk; the total. */
  private async inChunks(deleteChunk: () => number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = await this.deps.store.writes.write(deleteChunk);
      deleted += n;
      if (n < CHUNK) return deleted;
      // Let device traffic through between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private schedule(delayMs: number): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.sweep()
        .catch((error: unknown) => {
          this.deps.metrics.errors.inc({ component: 'event-retention' });
          this.deps.log.error({ err: error }, 'event retention sweep failed; retrying at the next sweep');
        })
        .finally(() => {
          if (this.timer) this.schedule((this.deps.sweepMinutes ?? 60) * 60_000);
        });
    }, delayMs);
  }
}

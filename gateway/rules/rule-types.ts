import type { z } from 'zod';
import type { ScheduleSchema, ScopeSchema } from '../../config/schema/rules.ts';
import type { AlertDraft } from '../alerts/alert-service.ts';
import type { DeviceStatusChange } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Category, DeviceEvent, EventType, IdentityKind, Severity } from '../core/model.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';
import type { DurableTimers, RuleState, Wakeup } from './rule-state.ts';

export type MergeBy = 'default' | 'device' | 'place' | 'subject' | 'rule';

export interface ResolvedRule<P> {
  id: string;
  type: string;
  severity: Severity;
  category: Category;
  cooldownMs: number;
  mergeBy: MergeBy;
  scope?: z.infer<typeof ScopeSchema>;
  schedule?: z.infer<typeof ScheduleSchema>;
  /** Not acknowledged within afterMs → raised again at this severity and flagged to the platform. */
  escalation?: { afterMs: number; severity: Severity };
  params: P;
}

/** What a rule may raise: the engine fills in the rule's id, type, cooldown and defaults. */
export type RuleAlert = Omit<AlertDraft, 'ruleId' | 'ruleType' | 'cooldownMs' | 'severity' | 'category'> &
  Partial<Pick<AlertDraft, 'severity' | 'category'>>;

/** A stretch of time the gateway was down: events in it were never seen. */
export interface Downtime {
  fromMs: number;
  toMs: number;
}

export interface RuleContext {
  clock: Clock;
  log: Logger;
  site: SiteModel;
  identifier: Identifier;
  /**
   * Raises (or merges) an alert. Returns false when the alert was not raised because the instant
   * is outside the rule's schedule (rules that track outside their schedule rely on this).
   */
  raise(alert: RuleAlert): boolean;
  /** True when the instant falls inside the rule's schedule (always, without one). */
  inSchedule(ms: number): boolean;
  /** True when the event's place is inside the rule's circle (always, without a scope). */
  inScope(event: Pick<DeviceEvent, 'deviceId' | 'place'>): boolean;
  /** Durable windows, counters and last-seen times (SQLite rule_state). */
  state: RuleState;
  /** Durable timers; fire handlers are `RuleInstance.onTimer`. */
  timers: DurableTimers;
  /** An in-memory wake-up at the earliest armed time, for event-sourced rules; calls `RuleInstance.onWake`. */
  wakeup: Wakeup;
  /** The gateway's downtime just before this start, if any (for absence stopwatches). */
  downtime: Downtime | null;
  /** Every downtime of the last 91 days, oldest first: for stopwatches rebuilt from stored events. */
  downtimes: readonly Downtime[];
}

export interface RuleInstance {
  /** The event types onEvent cares about; the engine sends it no others. Undefined: every type. */
  eventTypes?: ReadonlySet<EventType>;
  /**
   * Only events whose identity is of one of these kinds reach onEvent (e.g. watchlisted, unknown):
   * the engine skips the call for every other event. Undefined: any identity, or none.
   */
  identityKinds?: ReadonlySet<IdentityKind>;
  /** Called for events inside the rule's scope and schedule (unless the type tracks outside them). */
  onEvent?(event: DeviceEvent): void;
  onDeviceStatus?(status: DeviceStatusChange): void;
  /** A durable timer fell due; `lateMs` > 0 when it fell due while the gateway was down. */
  onTimer?(key: string, data: unknown, lateMs: number): void;
  /** The wake-up armed through `ctx.wakeup` is due (or the rule just started and had armed one). */
  onWake?(): void;
  start?(): void;
  stop?(): void;
}

export interface RuleType<P> {
  type: string;
  /** zh-CN name shown to guards and in docs. */
  title: string;
  params: z.ZodType<P>;
  defaults: { severity: Severity; category: Category; cooldownSeconds?: number };
  /**
   * 'events' (default): only events inside scope and schedule reach the rule.
   * 'alerts': the rule sees every event (it must track state all day, e.g. who is inside) and the
   * schedule and scope gate what it raises.
   */
  filter?: 'events' | 'alerts';
  /**
   * Event-sourced state: the rule's windows and counters are a function of the events of the last
   * `rebuildLookbackMs(params)` only, so they live in memory and are rebuilt at start by replaying
   * those events from the events table (committed before any rule sees them) with alerts muted.
   * Only durable timers (`t:` keys) and `k:` keys (what the events cannot tell after a restart,
   * such as that an alert already fired for a door's opening) are written to rule_state. Such a
   * rule's onEvent must change nothing but `ctx.state` and its in-memory windows, and call nothing
   * but `ctx.raise` and `ctx.wakeup` (no durable timers), so a replay reproduces exactly the state
   * the live run had; deadlines are judged once the rule has started (start() runs after the
   * replay). Used where state changes on nearly every event (one key per credential or subject,
   * a door's passages), which would otherwise cost a SQLite row write per event.
   */
  rebuildLookbackMs?(params: P): number;
  create(rule: ResolvedRule<P>, ctx: RuleContext): RuleInstance;
}

export function defineRule<S extends z.ZodType>(def: RuleType<z.infer<S>> & { params: S }): RuleType<z.infer<S>> {
  return def;
}

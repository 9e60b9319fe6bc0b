import type { z } from 'zod';
import { RuleSchema, type RuleConfig } from '../../config/schema/rules.ts';
import { formatPath } from '../../config/load.ts';
import type { AlertService } from '../alerts/alert-service.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import { SEVERITIES, type DeviceEvent, type IdentityKind, type Severity } from '../core/model.ts';
import type { Service } from '../core/service.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';
import type { Store } from '../store/store.ts';
import { DEFAULT_RULES, RULE_CATALOGUE } from './catalogue/index.ts';
import { DurableTimers, RuleState, StateWriter, Wakeup } from './rule-state.ts';
import type { Downtime, MergeBy, ResolvedRule, RuleAlert, RuleContext, RuleInstance, RuleType } from './rule-types.ts';
import { inSchedule, inScope } from './circle.ts';
import { eventMs, placeKey, subjectKey } from './subjects.ts';

export { inSchedule, inScope };

export interface RuleProblem {
  ruleId: string;
  /** e.g. params.count */
  field: string;
  message: string;
}

interface ActiveRule {
  config: ResolvedRule<unknown>;
  type: RuleType<unknown>;
  instance: RuleInstance;
  ctx: RuleContext;
  /** True while stored events are replayed into the rule: what it raises was raised live already. */
  muted: { on: boolean };
  /** Events outside the rule's schedule do not reach it (it has one and does not gate only its alerts). */
  scheduled: boolean;
  /** The instance's onEvent and identityKinds, read once at activation. */
  onEvent: RuleInstance['onEvent'];
  identityKinds: RuleInstance['identityKinds'];
}

interface Route {
  rules: ActiveRule[];
  /**
   * Per device: the place the answer was worked out for, and the rules whose circle holds it,
   * by the event's identity kind (kindSlot; filled as kinds come), so that rules which declare
   * identityKinds (watchlist hits, strangers) are not visited for every resident's passage.
   */
  byDevice: Map<string, DeviceRoute>;
}

interface DeviceRoute {
  place: DeviceEvent['place'];
  rules: ActiveRule[];
  byKind: (ActiveRule[] | undefined)[];
}

/** Where an identity kind's rules sit in a route's byKind (0: events nobody was identified in). */
function kindSlot(identity: DeviceEvent['identity']): number {
  if (identity === undefined) return 0;
  const kind = identity.kind;
  return kind === 'resident' ? 1 : kind === 'unknown' ? 2 : kind === 'watchlisted' ? 3 : kind === 'visitor' ? 4 : OTHER_KIND;
}
const OTHER_KIND = 5;

/** The engine's own bookkeeping lives in rule_state under this id. */
const ENGINE_STATE_ID = '__engine';
const ALIVE_EVERY_MS = 60_000;
/** Downtimes are remembered this long: as long as the longest stay or window a rule rebuilds from events. */
const DOWNTIME_HISTORY_MS = 91 * 86_400_000;
const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/**
 * Runs the configured rules. A rule whose type is unknown or whose params are invalid is rejected
 * with an error naming the rule and the field; every other rule keeps running. Rule state
 * (windows, counters, timers) is durable and survives both a restart and a hot swap.
 */
export class RuleEngine implements Service {
  readonly name = 'rules';
  private active: ActiveRule[] = [];
  private states = new Map<string, RuleState>();
  private writer: StateWriter | null = null;
  private unsubscribe: (() => void)[] = [];
  private aliveTimer: TimerHandle | null = null;
  private downtime: Downtime | null = null;
  /** Every downtime within DOWNTIME_HISTORY_MS, oldest first (the last is `downtime`). */
  private downtimes: Downtime[] = [];
  private running = false;
  problems: RuleProblem[] = [];

  constructor(
    private readonly deps: {
      rules: RuleConfig[] | undefined;
      site: SiteModel;
      identifier: Identifier;
      alerts: AlertService;
      /** Durable rule state. */
      store: Store;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
    },
  ) {}

  private get store(): Store {
    return this.deps.store;
  }

  /** Checks rule configs without running them: for start-up, `gridguard check` and platform updates. */
  static validate(rules: unknown[] | undefined): { resolved: ResolvedRule<unknown>[]; problems: RuleProblem[] } {
    const resolved: ResolvedRule<unknown>[] = [];
    const problems: RuleProblem[] = [];
    const seen = new Set<string>();
    (rules ?? DEFAULT_RULES).forEach((raw, index) => {
      const base = RuleSchema.safeParse(raw);
      const rawId = (raw as { id?: unknown })?.id;
      const ruleId = typeof rawId === 'string' && rawId ? rawId : `rules[${index}]`;
      if (!base.success) {
        for (const issue of base.error.issues) problems.push({ ruleId, field: formatPath(issue.path as (string | number)[]) || '(rule)', message: issue.message });
        return;
      }
      const rule = base.data;
      if (seen.has(rule.id)) {
        problems.push({ ruleId, field: 'id', message: `duplicate rule id "${rule.id}" (rules[${index}])` });
        return;
      }
      seen.add(rule.id);
      if (!rule.enabled) return;
      const type = RULE_CATALOGUE.get(rule.type);
      if (!type) {
        problems.push({ ruleId, field: 'type', message: `unknown rule type "${rule.type}"; known: ${[...RULE_CATALOGUE.keys()].join(', ')}` });
        return;
      }
      const params = (type.params as z.ZodType).safeParse(rule.params);
      if (!params.success) {
        for (const issue of params.error.issues)
          problems.push({ ruleId, field: formatPath(['params', ...(issue.path as (string | number)[])]), message: issue.message });
        return;
      }
      const severity = rule.severity ?? type.defaults.severity;
      if (rule.escalation && SEVERITY_RANK[rule.escalation.severity] >= SEVERITY_RANK[severity]) {
        problems.push({
          ruleId,
          field: 'escalation.severity',
          message: `must be higher than the rule's severity "${severity}" (one of ${SEVERITIES.filter((s) => SEVERITY_RANK[s] < SEVERITY_RANK[severity]).join(', ') || 'none: the rule is already critical'})`,
        });
        return;
      }
      resolved.push({
        id: rule.id,
        type: rule.type,
        severity,
        category: rule.category ?? type.defaults.category,
        cooldownMs: (rule.cooldownSeconds ?? type.defaults.cooldownSeconds ?? 300) * 1000,
        mergeBy: rule.mergeBy as MergeBy,
        ...(rule.scope ? { scope: rule.scope } : {}),
        ...(rule.schedule ? { schedule: rule.schedule } : {}),
        ...(rule.escalation ? { escalation: { afterMs: rule.escalation.afterMinutes * 60_000, severity: rule.escalation.severity } } : {}),
        params: params.data,
      });
    });
    return { resolved, problems };
  }

  start(): void {
    const { bus, clock } = this.deps;
    const store = this.store;
    this.running = true;
    // Events stored while stopped were never delivered to this run: replays must count them.
    this.lastDelivered = undefined;
    const aliveAt = store.ruleState.get<number>(ENGINE_STATE_ID, 'aliveAt');
    const now = clock.now();
    // Longer than two missed heartbeats: the gateway was down (or stopped) and saw nothing.
    this.downtime = aliveAt !== undefined && now - aliveAt > 2 * ALIVE_EVERY_MS ? { fromMs: aliveAt, toMs: now } : null;
    if (this.downtime) this.deps.log.info({ downMinutes: Math.round((now - aliveAt!) / 60_000) }, 'rules resume after downtime; absence stopwatches pause over it');
    // Rules rebuilt from stored events pause their stopwatches over every downtime since an entry, not only the last.
    const known = store.ruleState.get<Downtime[]>(ENGINE_STATE_ID, 'downtimes') ?? [];
    this.downtimes = [...known.filter((d) => d.toMs > now - DOWNTIME_HISTORY_MS), ...(this.downtime ? [this.downtime] : [])];
    if (this.downtimes.length !== known.length || this.downtime) {
      const downtimes = this.downtimes;
      void store.writes.write(() => store.ruleState.set(ENGINE_STATE_ID, 'downtimes', downtimes, now)).catch(() => {});
    }
    const { resolved, problems } = RuleEngine.validate(this.deps.rules);
    this.reportProblems(problems);
    this.problems = problems;
    this.activateAll(resolved);
    this.dropOrphanState(new Set([...resolved.map((r) => r.id), ...problems.map((p) => p.ruleId)]));
    this.deps.log.info({ rules: this.active.map((r) => r.config.id) }, `${this.active.length} rules active`);
    this.unsubscribe.push(
      bus.on('event.stored', (event) => this.onEvent(event)),
      bus.on('device.status', (status) => {
        for (const rule of this.active) this.guard(rule, () => rule.instance.onDeviceStatus?.(status));
      }),
    );
    this.markAlive();
  }

  stop(): void {
    this.running = false;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.aliveTimer) this.deps.clock.clearTimeout(this.aliveTimer);
    this.aliveTimer = null;
    for (const rule of this.active) this.deactivate(rule);
    this.active = [];
    this.routes.clear();
    for (const state of this.states.values()) state.flush();
    this.writeAlive();
  }

  /**
   * Replaces the rule set while running (platform downlink or a reload). Each rule is validated
   * on its own: a rejected rule is reported and, if a valid version of it is running, that
   * version keeps running; rules that did not change keep their instance. Durable state survives
   * a swap unless the rule's type changed or the rule was removed.
   */
  updateRules(rules: RuleConfig[] | unknown[]): RuleProblem[] {
    if (!this.running) {
      // Not started yet: these become the rules start() runs.
      this.deps.rules = rules as RuleConfig[];
      return RuleEngine.validate(rules).problems;
    }
    const { resolved, problems } = RuleEngine.validate(rules);
    this.reportProblems(problems);
    const rejected = new Set(problems.map((p) => p.ruleId));
    const next = new Map(resolved.map((r) => [r.id, r]));
    const kept: ActiveRule[] = [];
    for (const rule of this.active) {
      const replacement = next.get(rule.config.id);
      if (!replacement) {
        if (rejected.has(rule.config.id)) {
          kept.push(rule);
          continue;
        }
        this.deactivate(rule);
        this.states.get(rule.config.id)?.clear();
        this.states.delete(rule.config.id);
        continue;
      }
      if (JSON.stringify(replacement) === JSON.stringify(rule.config)) {
        kept.push(rule);
        next.delete(rule.config.id);
        continue;
      }
      this.deactivate(rule);
      if (replacement.type !== rule.config.type) this.states.get(rule.config.id)?.clear();
    }
    this.active = kept;
    this.routes.clear();
    this.activateAll([...next.values()]);
    // Rules whose previous version keeps running are still reported: the update was not applied.
    this.problems = problems;
    this.deps.log.info({ rules: this.active.map((r) => r.config.id), rejected: [...rejected] }, `rules updated: ${this.active.length} active`);
    return problems;
  }

  activeRules(): ResolvedRule<unknown>[] {
    return this.active.map((r) => r.config);
  }

  /** The escalation policy of a running rule (AlertEscalation asks). */
  escalationFor(ruleId: string): ResolvedRule<unknown>['escalation'] | undefined {
    return this.active.find((r) => r.config.id === ruleId)?.config.escalation;
  }

  /**
   * Starts rules: each instance is made, the event-sourced ones are rebuilt from the stored events
   * together (replayAll), then each starts its timers. A rule that fails to start is logged and
   * left out; the others run.
   */
  private activateAll(configs: ResolvedRule<unknown>[]): void {
    const made: { entry: ActiveRule; lookbackMs: number | undefined }[] = [];
    for (const config of configs) {
      const type = RULE_CATALOGUE.get(config.type) as RuleType<unknown>;
      const muted = { on: false };
      const ctx = this.contextFor(config, type, muted);
      const entry: ActiveRule = { config, type, instance: {}, ctx, muted, scheduled: type.filter !== 'alerts' && config.schedule !== undefined, onEvent: undefined, identityKinds: undefined };
      const lookbackMs = type.rebuildLookbackMs?.(config.params);
      ctx.state.setEventSourced(lookbackMs !== undefined);
      try {
        entry.instance = type.create(config, ctx);
        entry.onEvent = entry.instance.onEvent;
        entry.identityKinds = entry.instance.identityKinds;
        made.push({ entry, lookbackMs });
      } catch (error) {
        this.failedToStart(entry, error);
      }
    }
    const replaying = made.filter((m): m is { entry: ActiveRule; lookbackMs: number } => m.lookbackMs !== undefined && m.entry.instance.onEvent !== undefined);
    let replayFailure: unknown = null;
    try {
      this.replayAll(replaying);
    } catch (error) {
      replayFailure = error;
    }
    for (const { entry, lookbackMs } of made) {
      const { ctx } = entry;
      try {
        if (replayFailure && lookbackMs !== undefined) throw replayFailure;
        entry.instance.start?.();
        ctx.timers.start((key, data, lateMs) => this.guard(entry, () => entry.instance.onTimer?.(key, data, lateMs)));
        ctx.wakeup.start(() => this.guard(entry, () => entry.instance.onWake?.()));
      } catch (error) {
        this.failedToStart(entry, error);
        continue;
      }
      this.active.push(entry);
    }
    this.routes.clear();
  }

  private failedToStart(entry: ActiveRule, error: unknown): void {
    this.deps.metrics.errors.inc({ component: `rule:${entry.config.id}` });
    this.deps.log.error({ err: error, rule: entry.config.id }, 'rule failed to start');
    entry.ctx.timers.stop();
    entry.ctx.wakeup.stop();
  }

  /**
   * Rebuilds event-sourced rules' windows and counters: the stored events of each rule's lookback
   * go through the same routing, scope and schedule as live events, with its alerts muted (they
   * were raised when the events were live; the alerts table has them). One pass for all the rules
   * starting together: each stored event is read and parsed once, however many rules replay it
   * (three rules reading a day or a week each parsed the same events three times: 2.4 of a
   * 2.7 s start-up in the benchmark).
   */
  private replayAll(rules: { entry: ActiveRule; lookbackMs: number }[]): void {
    if (rules.length === 0) return;
    const now = this.deps.clock.now();
    const started = performance.now();
    // Per event type, the earliest instant any rule replaying it looks back to.
    const fromByType = new Map<string, number>();
    let fromAllTypes = Infinity;
    for (const { entry, lookbackMs } of rules) {
      const fromMs = now - lookbackMs;
      const types = entry.instance.eventTypes;
      if (!types) fromAllTypes = Math.min(fromAllTypes, fromMs);
      else for (const type of types) fromByType.set(type, Math.min(fromByType.get(type) ?? Infinity, fromMs));
    }
    const byFrom = new Map<number, string[]>();
    for (const [type, fromMs] of fromByType) if (fromMs < fromAllTypes) byFrom.set(fromMs, [...(byFrom.get(fromMs) ?? []), type]);
    const windows: { fromMs: number; types: string[] | null }[] = [...byFrom].map(([fromMs, types]) => ({ fromMs, types }));
    if (fromAllTypes !== Infinity) windows.push({ fromMs: fromAllTypes, types: null });
    const replayed = rules.map(() => 0);
    let read = 0;
    for (const r of rules) r.entry.muted.on = true;
    try {
      // Events committed after the last one delivered (a hot swap between a commit and its
      // publish) will reach the rules live, with their alerts: the replay leaves them alone.
      for (const event of this.store.ruleState.eventsSince(windows, this.lastDelivered)) {
        read++;
        const ms = eventMs(event);
        for (let i = 0; i < rules.length; i++) {
          const { entry, lookbackMs } = rules[i]!;
          if (ms < now - lookbackMs || !this.admits(entry, event, ms)) continue;
          replayed[i]!++;
          this.guard(entry, () => entry.instance.onEvent!(event));
        }
      }
    } finally {
      for (const r of rules) r.entry.muted.on = false;
    }
    const ms = Math.round(performance.now() - started);
    rules.forEach(({ entry, lookbackMs }, i) =>
      this.deps.log.info({ rule: entry.config.id, events: replayed[i], lookbackHours: Math.round(lookbackMs / 3_600_000) }, 'rule state rebuilt from stored events'),
    );
    this.deps.log.info({ rules: rules.length, eventsRead: read, ms }, 'event-sourced rules rebuilt');
  }

  private deactivate(rule: ActiveRule): void {
    rule.ctx.timers.stop();
    rule.ctx.wakeup.stop();
    this.guard(rule, () => rule.instance.stop?.());
    rule.ctx.state.flush();
  }

  private reportProblems(problems: RuleProblem[]): void {
    for (const p of problems) {
      this.deps.log.error({ rule: p.ruleId, field: p.field }, `rule ${p.ruleId} rejected: ${p.field}: ${p.message}`);
      this.deps.metrics.rejected.inc({ source: 'rules', reason: 'invalid-rule' });
    }
  }

  /** State of rules that no longer exist would otherwise linger (and revive if the id came back). */
  private dropOrphanState(keep: Set<string>): void {
    const store = this.store;
    const orphans = store.ruleState.ruleIds().filter((id) => id !== ENGINE_STATE_ID && !keep.has(id));
    if (orphans.length) void store.writes.write(() => orphans.forEach((id) => store.ruleState.deleteRule(id))).catch(() => {});
  }

  private markAlive(): void {
    if (!this.running) return;
    this.writeAlive();
    this.aliveTimer = this.deps.clock.setTimeout(() => this.markAlive(), ALIVE_EVERY_MS);
  }

  private writeAlive(): void {
    const { clock } = this.deps;
    const store = this.store;
    const now = clock.now();
    void store.writes.write(() => store.ruleState.set(ENGINE_STATE_ID, 'aliveAt', now, now)).catch(() => {});
  }

  /**
   * Rules by the event type they listen to, so an event visits only the rules that care about it;
   * within a type, the rules whose circle holds the event's device and place, worked out once per
   * device (the pipeline hands every event of a device the same cached place object).
   */
  private routes = new Map<string, Route>();

  private route(type: string): Route {
    return this.routes.get(type) ?? this.typeRoute(type);
  }

  /** Apart from route(): a closure there capturing `type` cost a context allocation per event. */
  private typeRoute(type: string): Route {
    const route: Route = { rules: this.active.filter((r) => r.instance.onEvent && (!r.instance.eventTypes || r.instance.eventTypes.has(type as never))), byDevice: new Map() };
    this.routes.set(type, route);
    return route;
  }

  /**
   * The rules of the event's type whose scope and identity kinds admit it (schedules are checked
   * per event). The lists are worked out in separate methods: a closure here that captured the
   * event would make V8 allocate a context for it on every call, cached answer or not (found with
   * a sampling heap profile: with route()'s, 120 bytes per event in the benchmark).
   */
  private routeFor(event: DeviceEvent): ActiveRule[] {
    const route = this.route(event.type);
    let known = route.byDevice.get(event.deviceId);
    if (known === undefined || known.place !== event.place) known = this.deviceRoute(route, event);
    const slot = kindSlot(event.identity);
    return known.byKind[slot] ?? this.kindRoute(known, slot, event.identity?.kind);
  }

  private deviceRoute(route: Route, event: DeviceEvent): DeviceRoute {
    const known: DeviceRoute = { place: event.place, rules: route.rules.filter((r) => r.type.filter === 'alerts' || inScope(r.config.scope, event)), byKind: [] };
    route.byDevice.set(event.deviceId, known);
    return known;
  }

  private kindRoute(known: DeviceRoute, slot: number, kind: IdentityKind | undefined): ActiveRule[] {
    const rules = known.rules.filter((r) => r.identityKinds === undefined || (kind !== undefined && r.identityKinds.has(kind)));
    // A kind this version does not know is filtered each time rather than cached under a shared slot.
    if (slot !== OTHER_KIND) known.byKind[slot] = rules;
    return rules;
  }

  /** The rule listens to the event's type and, unless it tracks all day, the event is inside its circle and schedule. */
  private admits(rule: ActiveRule, event: DeviceEvent, eventMs: number): boolean {
    if (!rule.instance.onEvent || (rule.instance.eventTypes && !rule.instance.eventTypes.has(event.type))) return false;
    const kinds = rule.instance.identityKinds;
    if (kinds && (!event.identity || !kinds.has(event.identity.kind))) return false;
    return rule.type.filter === 'alerts' || (inScope(rule.config.scope, event) && inSchedule(rule.config.schedule, eventMs));
  }

  /**
   * The id of the last event that reached the engine. The pipeline publishes events in the order
   * it stores them, so every stored event up to this one has been delivered and any stored after
   * it is still on its way (whatever the times on them: the wall clock may step back). One field
   * per event, where a ring of recent ids cost 0.1–0.2 µs per event in the benchmark. Before the
   * first delivery (at start) nothing is in flight: what was stored before the engine subscribed
   * either reached the previous run or never will reach a rule.
   */
  private lastDelivered: string | undefined = undefined;

  private onEvent(event: DeviceEvent): void {
    const receivedMs = eventMs(event);
    this.lastDelivered = event.id;
    const rules = this.routeFor(event);
    for (let i = 0; i < rules.length; i++) {
      // Fields of the ActiveRule, not of the instance: every rule type's instance has its own shape.
      const rule = rules[i]!;
      if (rule.scheduled && !inSchedule(rule.config.schedule, receivedMs)) continue;
      try {
        rule.onEvent!.call(rule.instance, event);
      } catch (error) {
        this.failed(rule, error);
      }
    }
  }

  /** A throwing rule is logged and counted; it does not stop the event reaching other rules. */
  private guard(rule: ActiveRule, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.failed(rule, error);
    }
  }

  private failed(rule: ActiveRule, error: unknown): void {
    this.deps.metrics.errors.inc({ component: `rule:${rule.config.id}` });
    this.deps.log.error({ err: error, rule: rule.config.id }, 'rule failed on an event');
  }

  private stateFor(ruleId: string): RuleState {
    let state = this.states.get(ruleId);
    if (!state) {
      this.writer ??= new StateWriter(this.store, this.deps.clock);
      state = new RuleState(ruleId, this.store, this.writer);
      this.states.set(ruleId, state);
    }
    return state;
  }

  private contextFor(config: ResolvedRule<unknown>, type: RuleType<unknown>, muted: { on: boolean }): RuleContext {
    const { site, identifier, alerts, clock, log } = this.deps;
    const ruleLog = log.child({ rule: config.id });
    const state = this.stateFor(config.id);
    const gateAlerts = type.filter === 'alerts';
    const ctx: RuleContext = {
      clock,
      log: ruleLog,
      site,
      identifier,
      state,
      timers: new DurableTimers(state, clock, (fire) => fire()),
      wakeup: new Wakeup(clock),
      downtime: this.downtime,
      downtimes: this.downtimes,
      raise: (alert) => {
        if (muted.on) return true;
        if (gateAlerts && (!inSchedule(config.schedule, clock.now()) || !inScope(config.scope, { deviceId: alert.deviceId ?? '', place: alert.place }))) return false;
        alerts
          .raise({
            ...alert,
            ruleId: config.id,
            ruleType: config.type,
            severity: alert.severity ?? config.severity,
            category: alert.category ?? config.category,
            cooldownMs: config.cooldownMs,
            mergeKey: mergeKeyFor(config.mergeBy, alert),
            details: { ...alert.details, rule: config.id, ruleType: config.type, ruleTitle: type.title },
          })
          .catch((error: unknown) => {
            this.deps.metrics.errors.inc({ component: 'alerts' });
            ruleLog.error({ err: error }, 'could not store alert');
          });
        return true;
      },
      inSchedule: (ms) => inSchedule(config.schedule, ms),
      inScope: (event) => inScope(config.scope, event),
    };
    return ctx;
  }
}

function mergeKeyFor(mergeBy: MergeBy, alert: RuleAlert): string {
  switch (mergeBy) {
    case 'device':
      return alert.deviceId ?? placeKey(alert.place);
    case 'place':
      return placeKey(alert.place);
    case 'subject':
      return (alert.subject && subjectKey(alert.subject.refs)) || alert.mergeKey;
    case 'rule':
      return '*';
    default:
      return alert.mergeKey;
  }
}

import type { z } from 'zod';
import { RuleSchema, type RuleConfig } from '../../config/schema/rules.ts';
import { formatPath } from '../../config/load.ts';
import type { AlertService } from '../alerts/alert-service.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { DeviceEvent } from '../core/model.ts';
import type { Service } from '../core/service.ts';
import { localParts } from '../core/time.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';
import { DEFAULT_RULES, RULE_CATALOGUE } from './catalogue/index.ts';
import type { ResolvedRule, RuleContext, RuleInstance, RuleType } from './rule-types.ts';

export interface RuleProblem {
  ruleId: string;
  /** e.g. params.count */
  field: string;
  message: string;
}

interface ActiveRule {
  config: ResolvedRule<unknown>;
  instance: RuleInstance;
  ctx: RuleContext;
}

/**
 * Runs the configured rules. A rule whose type is unknown or whose params are invalid is rejected
 * with an error naming the rule and the field; every other rule keeps running.
 */
export class RuleEngine implements Service {
  readonly name = 'rules';
  private active: ActiveRule[] = [];
  private unsubscribe: (() => void)[] = [];
  problems: RuleProblem[] = [];

  constructor(
    private readonly deps: {
      rules: RuleConfig[] | undefined;
      site: SiteModel;
      identifier: Identifier;
      alerts: AlertService;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
    },
  ) {}

  /** Checks rule configs without running them: for start-up and `gridguard check`. */
  static validate(rules: unknown[] | undefined): { resolved: ResolvedRule<unknown>[]; problems: RuleProblem[] } {
    const resolved: ResolvedRule<unknown>[] = [];
    const problems: RuleProblem[] = [];
    (rules ?? DEFAULT_RULES).forEach((raw, index) => {
      const base = RuleSchema.safeParse(raw);
      const ruleId = (raw as { id?: string })?.id ?? `rules[${index}]`;
      if (!base.success) {
        for (const issue of base.error.issues) problems.push({ ruleId, field: formatPath(issue.path as (string | number)[]), message: issue.message });
        return;
      }
      const rule = base.data;
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
      resolved.push({
        id: rule.id,
        type: rule.type,
        severity: rule.severity ?? type.defaults.severity,
        category: rule.category ?? type.defaults.category,
        cooldownMs: (rule.cooldownSeconds ?? type.defaults.cooldownSeconds ?? 300) * 1000,
        ...(rule.scope ? { scope: rule.scope } : {}),
        ...(rule.schedule ? { schedule: rule.schedule } : {}),
        params: params.data,
      });
    });
    return { resolved, problems };
  }

  start(): void {
    const { bus, log, metrics } = this.deps;
    const { resolved, problems } = RuleEngine.validate(this.deps.rules);
    this.problems = problems;
    for (const p of problems) {
      log.error({ rule: p.ruleId, field: p.field }, `rule ${p.ruleId} rejected: ${p.field}: ${p.message}`);
      metrics.rejected.inc({ source: 'rules', reason: 'invalid-rule' });
    }
    for (const config of resolved) {
      const type = RULE_CATALOGUE.get(config.type) as RuleType<unknown>;
      const ctx = this.contextFor(config);
      const instance = type.create(config, ctx);
      instance.start?.();
      this.active.push({ config, instance, ctx });
    }
    log.info({ rules: this.active.map((r) => r.config.id) }, `${this.active.length} rules active`);
    this.unsubscribe.push(
      bus.on('event.stored', (event) => this.onEvent(event)),
      bus.on('device.status', (status) => {
        for (const rule of this.active) this.guard(rule, () => rule.instance.onDeviceStatus?.(status));
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    for (const rule of this.active) rule.instance.stop?.();
    this.active = [];
  }

  activeRules(): ResolvedRule<unknown>[] {
    return this.active.map((r) => r.config);
  }

  private onEvent(event: DeviceEvent): void {
    const eventMs = Date.parse(event.receivedAt);
    for (const rule of this.active) {
      if (!rule.instance.onEvent) continue;
      if (!rule.ctx.inScope(event) || !rule.ctx.inSchedule(eventMs)) continue;
      this.guard(rule, () => rule.instance.onEvent!(event));
    }
  }

  /** A throwing rule is logged and counted; it does not stop the event reaching other rules. */
  private guard(rule: ActiveRule, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.deps.metrics.errors.inc({ component: `rule:${rule.config.id}` });
      this.deps.log.error({ err: error, rule: rule.config.id }, 'rule failed on an event');
    }
  }

  private contextFor(config: ResolvedRule<unknown>): RuleContext {
    const { site, identifier, alerts, clock, log } = this.deps;
    const ruleLog = log.child({ rule: config.id });
    return {
      clock,
      log: ruleLog,
      site,
      identifier,
      raise: (alert) => {
        alerts
          .raise({
            ...alert,
            ruleId: config.id,
            ruleType: config.type,
            severity: alert.severity ?? config.severity,
            category: alert.category ?? config.category,
            cooldownMs: config.cooldownMs,
            details: { ...alert.details, rule: config.id, ruleType: config.type },
          })
          .catch((error: unknown) => {
            this.deps.metrics.errors.inc({ component: 'alerts' });
            ruleLog.error({ err: error }, 'could not store alert');
          });
      },
      inSchedule: (ms) => inSchedule(config.schedule, ms),
      inScope: (event) => inScope(config.scope, event),
    };
  }
}

export function inSchedule(schedule: ResolvedRule<unknown>['schedule'], ms: number): boolean {
  if (!schedule) return true;
  const { weekday, minutes } = localParts(ms, schedule.timezone);
  return schedule.windows.some((w) => {
    const from = toMinutes(w.from);
    const to = toMinutes(w.to);
    if (from <= to) return minutes >= from && minutes < to && (!w.days || w.days.includes(weekday));
    // Wraps past midnight: the part after midnight belongs to the previous day's window.
    if (minutes >= from) return !w.days || w.days.includes(weekday);
    if (minutes < to) return !w.days || w.days.includes(weekday === 1 ? 7 : weekday - 1);
    return false;
  });
}

export function inScope(scope: ResolvedRule<unknown>['scope'], event: Pick<DeviceEvent, 'deviceId' | 'place'>): boolean {
  if (!scope) return true;
  const lists = [
    [scope.devices, event.deviceId],
    [scope.gates, event.place.gate],
    [scope.buildings, event.place.building],
    [scope.zones, event.place.zone],
  ] as const;
  const constrained = lists.filter(([list]) => list && list.length > 0);
  if (constrained.length === 0) return true;
  return constrained.some(([list, value]) => value !== undefined && list!.includes(value));
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

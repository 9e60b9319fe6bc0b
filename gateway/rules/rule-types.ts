import type { z } from 'zod';
import type { ScheduleSchema, ScopeSchema } from '../../config/schema/rules.ts';
import type { AlertDraft } from '../alerts/alert-service.ts';
import type { DeviceStatusChange } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Category, DeviceEvent, Severity } from '../core/model.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';

export interface ResolvedRule<P> {
  id: string;
  type: string;
  severity: Severity;
  category: Category;
  cooldownMs: number;
  scope?: z.infer<typeof ScopeSchema>;
  schedule?: z.infer<typeof ScheduleSchema>;
  params: P;
}

/** What a rule may raise: the engine fills in the rule's id, type, cooldown and defaults. */
export type RuleAlert = Omit<AlertDraft, 'ruleId' | 'ruleType' | 'cooldownMs' | 'severity' | 'category'> &
  Partial<Pick<AlertDraft, 'severity' | 'category'>>;

export interface RuleContext {
  clock: Clock;
  log: Logger;
  site: SiteModel;
  identifier: Identifier;
  raise(alert: RuleAlert): void;
  /** True when the instant falls inside the rule's schedule (always, without one). */
  inSchedule(ms: number): boolean;
  /** True when the event's place is inside the rule's circle (always, without a scope). */
  inScope(event: Pick<DeviceEvent, 'deviceId' | 'place'>): boolean;
}

export interface RuleInstance {
  /** Called for events inside the rule's scope and schedule. */
  onEvent?(event: DeviceEvent): void;
  onDeviceStatus?(status: DeviceStatusChange): void;
  start?(): void;
  stop?(): void;
}

export interface RuleType<P> {
  type: string;
  /** zh-CN name shown to guards and in docs. */
  title: string;
  params: z.ZodType<P>;
  defaults: { severity: Severity; category: Category; cooldownSeconds?: number };
  create(rule: ResolvedRule<P>, ctx: RuleContext): RuleInstance;
}

export function defineRule<S extends z.ZodType>(def: RuleType<z.infer<S>> & { params: S }): RuleType<z.infer<S>> {
  return def;
}

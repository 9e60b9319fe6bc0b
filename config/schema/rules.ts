import { z } from 'zod';
import { CATEGORIES, SEVERITIES } from '../../gateway/core/model.ts';
import { Clock, Id } from './common.ts';

export const ScopeSchema = z
  .object({
    devices: z.array(Id).optional(),
    gates: z.array(Id).optional(),
    buildings: z.array(Id).optional(),
    zones: z.array(Id).optional(),
  })
  .strict()
  .describe('The circle (圈): empty means the whole community');

export const ScheduleSchema = z
  .object({
    windows: z
      .array(
        z
          .object({
            from: Clock,
            to: Clock.describe('A window may wrap past midnight, e.g. 22:00–06:00'),
            days: z.array(z.number().int().min(1).max(7)).optional().describe('ISO weekdays, 1 = Monday'),
          })
          .strict(),
      )
      .min(1),
    timezone: z.string().default('Asia/Shanghai'),
  })
  .strict();

/**
 * Fields common to every rule. `params` is checked against the rule type's own schema by the
 * rule engine, so that one bad rule is rejected (and reported) while the others keep running.
 */
export const RuleSchema = z
  .object({
    id: Id,
    type: z.string().min(1).describe('Rule type from the catalogue (docs/rules.md)'),
    enabled: z.boolean().default(true),
    severity: z.enum(SEVERITIES).optional().describe('Default depends on the rule type'),
    category: z.enum(CATEGORIES).optional(),
    cooldownSeconds: z.number().int().min(0).optional().describe('Triggers with the same merge key within this time merge into one alert; default depends on the rule type'),
    mergeBy: z
      .enum(['default', 'device', 'place', 'subject', 'rule'])
      .default('default')
      .describe('What makes triggers "the same" alert within the cooldown: the rule type\'s own key (default), the device, the place, the subject, or one alert per rule'),
    scope: ScopeSchema.optional(),
    schedule: ScheduleSchema.optional(),
    escalation: z
      .object({
        afterMinutes: z.number().positive().max(10_080).describe('An alert still not acknowledged after this long is escalated'),
        severity: z.enum(SEVERITIES).describe('Severity after escalation; must be higher than the rule\'s'),
      })
      .strict()
      .optional(),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type RuleConfig = z.infer<typeof RuleSchema>;

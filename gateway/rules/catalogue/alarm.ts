import { z } from 'zod';
import { CATEGORIES, SEVERITIES, type EventType } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';

const ALARMS: Partial<Record<EventType, { text: string; severity: (typeof SEVERITIES)[number]; category: (typeof CATEGORIES)[number] }>> = {
  'doorplate.sos': { text: '一键求助 (SOS)', severity: 'critical', category: 'police' },
  'sensor.smoke': { text: '烟感报警', severity: 'critical', category: 'property' },
  'sensor.fire': { text: '火警', severity: 'critical', category: 'property' },
  'sensor.gas': { text: '燃气泄漏报警', severity: 'critical', category: 'property' },
  'sensor.water': { text: '水浸报警', severity: 'medium', category: 'property' },
  'device.tamper': { text: '设备防拆报警', severity: 'high', category: 'property' },
};

/** 报警类: SOS, smoke, fire, gas, water and tamper raise at once, merged per device and type. */
export const alarm = defineRule({
  type: 'alarm',
  title: '报警',
  params: z
    .object({
      types: z.array(z.enum(Object.keys(ALARMS) as [EventType, ...EventType[]])).default(Object.keys(ALARMS) as EventType[]),
    })
    .strict(),
  defaults: { severity: 'high', category: 'property', cooldownSeconds: 300 },
  create(rule, ctx) {
    const types = new Set(rule.params.types);
    return {
      eventTypes: types,
      onEvent(event) {
        if (!types.has(event.type)) return;
        const alarm = ALARMS[event.type]!;
        ctx.raise({
          severity: alarm.severity,
          category: alarm.category,
          message: `${event.place.label} ${alarm.text} (${hhmm(eventMs(event))})`,
          details: { eventType: event.type },
          mergeKey: `${event.deviceId}|${event.type}`,
          evidence: [event.id],
          ...whereOf(event),
          subject: event.subjects.personId || event.subjects.cardNo ? { refs: event.subjects, ...(event.identity ? { identity: event.identity } : {}) } : null,
        });
      },
    };
  },
});

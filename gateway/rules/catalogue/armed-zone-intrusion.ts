import { z } from 'zod';
import type { EventType } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';

const TEXT: Record<string, string> = {
  'intrusion.detected': '检测到入侵',
  'person.passed': '检测到人员',
  'face.captured': '抓拍到人脸',
  'plate.captured': '抓拍到车辆',
};

/**
 * 周界入侵: an intrusion (fence, beam, video line-crossing) or, optionally, any detection in a zone
 * while it is armed. The armed schedule is the rule's schedule; the zones are its scope.
 */
export const armedZoneIntrusion = defineRule({
  type: 'armed-zone-intrusion',
  title: '周界入侵',
  params: z
    .object({
      types: z
        .array(z.enum(['intrusion.detected', 'person.passed', 'face.captured', 'plate.captured']))
        .min(1)
        .default(['intrusion.detected']),
      requireZone: z.boolean().default(true).describe('Only events placed in a zone count'),
    })
    .strict(),
  defaults: { severity: 'high', category: 'property', cooldownSeconds: 120 },
  create(rule, ctx) {
    const types = new Set<string>(rule.params.types);
    return {
      eventTypes: types as ReadonlySet<EventType>,
      onEvent(event) {
        if (!types.has(event.type)) return;
        if (rule.params.requireZone && !event.place.zone) return;
        const zoneName = event.place.zone ? (ctx.site.zoneName(event.place.zone) ?? event.place.zone) : event.place.label;
        ctx.raise({
          message: `周界入侵: ${zoneName} 于 ${hhmm(eventMs(event))} ${TEXT[event.type]} (${event.place.label}, 设备 ${event.deviceId})`,
          details: { eventType: event.type, zone: event.place.zone ?? null, armed: rule.schedule?.windows ?? 'always' },
          mergeKey: event.place.zone ?? event.deviceId,
          evidence: [event.id],
          ...whereOf(event),
          subject: null,
        });
      },
    };
  },
});

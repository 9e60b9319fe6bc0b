import { z } from 'zod';
import { EVENT_TYPES, type DeviceEvent, type EventType } from '../../core/model.ts';
import type { PersonRecord } from '../../store/registry.ts';
import { defineRule } from '../rule-types.ts';
import { dayTime, eventMs, hours, housePlace, pauseOverDowntime } from '../subjects.ts';

interface Watch {
  /** Last activity seen, for the message; null when none was seen since the rule began watching. */
  lastMs: number | null;
  lastEventId: string | null;
  lastPlace: string | null;
  /** Absence is counted from here: the last activity, moved forward over gateway downtime. */
  clockFromMs: number;
  /** Set once an alert was raised for this absence; cleared by the next activity. */
  alerted: boolean;
}

/**
 * 独居老人/关爱对象多日未出: a resident on the care list shows no door, access or doorplate activity
 * for `hours`. Activity is any event identified as the person (card, face, person id) anywhere in
 * the community, or a door/doorplate event from a device in the person's house. Evaluated on a
 * durable timer every `checkEveryMinutes`; the rule's schedule and scope (the resident's building)
 * gate the alert, not the activity.
 */
export const careAbsence = defineRule({
  type: 'care-absence',
  title: '关爱对象多日未出',
  params: z
    .object({
      hours: z.number().positive().max(24 * 30).default(24),
      checkEveryMinutes: z.number().positive().max(1440).default(15),
      activityTypes: z
        .array(z.enum(EVENT_TYPES))
        .min(1)
        .default(['access.granted', 'door.opened', 'door.closed', 'door.exit-button', 'doorplate.scan', 'doorplate.sos', 'face.captured'] as EventType[]),
    })
    .strict(),
  defaults: { severity: 'high', category: 'care', cooldownSeconds: 24 * 3600 },
  filter: 'alerts',
  create(rule, ctx) {
    const thresholdMs = rule.params.hours * 3_600_000;
    const everyMs = rule.params.checkEveryMinutes * 60_000;
    const types = new Set(rule.params.activityTypes);
    const state = ctx.state;
    const careByHouse = new Map<string, string[]>();

    // The care list is rebuilt only when the registry changed since: a scan of 100,000 residents
    // every check would cost more than all the events between two checks.
    let careList: PersonRecord[] = [];
    let careVersion = -1;
    const careResidents = (): PersonRecord[] => {
      if (careVersion === ctx.identifier.version) return careList;
      const list: PersonRecord[] = [];
      careByHouse.clear();
      for (const p of ctx.identifier.allPersons()) {
        if (!p.care || p.kind !== 'resident') continue;
        list.push(p);
        for (const h of p.houses) careByHouse.set(h, [...(careByHouse.get(h) ?? []), p.id]);
      }
      careList = list;
      careVersion = ctx.identifier.version;
      return list;
    };

    const recordActivity = (personId: string, event: DeviceEvent) => {
      const at = eventMs(event);
      state.set(`p:${personId}`, { lastMs: at, lastEventId: event.id, lastPlace: event.place.label, clockFromMs: at, alerted: false } satisfies Watch);
    };

    const check = () => {
      const now = ctx.clock.now();
      for (const person of careResidents()) {
        const key = `p:${person.id}`;
        let watch = state.get<Watch>(key);
        if (!watch) {
          // First time this rule sees the person: absence counts from now, not from the epoch.
          watch = { lastMs: null, lastEventId: null, lastPlace: null, clockFromMs: now, alerted: false };
          state.set(key, watch);
        }
        const absentMs = now - watch.clockFromMs;
        if (watch.alerted || absentMs < thresholdMs) continue;
        const houseId = person.houses[0];
        const { place, codes } = houseId ? housePlace(ctx.site, houseId) : { place: { label: '未登记住址' }, codes: housePlace(ctx.site, '').codes };
        // The guard is told the real time since the last sign of life; the threshold is judged on observed time only.
        const sinceLastMs = watch.lastMs !== null ? now - watch.lastMs : absentMs;
        const last = watch.lastMs !== null ? `最后一次 ${dayTime(watch.lastMs)} 于 ${watch.lastPlace}` : '自开始关注以来无任何记录';
        const raised = ctx.raise({
          message: `关爱对象 ${person.name} (${place.label}) 已 ${hours(sinceLastMs)} 小时无开门/门禁/门牌活动 (阈值 ${rule.params.hours} 小时), ${last}, 请上门查看`,
          details: {
            thresholds: { hours: rule.params.hours },
            observedAbsentHours: Math.round((absentMs / 3_600_000) * 10) / 10,
            hoursSinceLastActivity: Math.round((sinceLastMs / 3_600_000) * 10) / 10,
            lastActivityAt: watch.lastMs !== null ? new Date(watch.lastMs).toISOString() : null,
            personId: person.id,
          },
          mergeKey: person.id,
          evidence: watch.lastEventId ? [watch.lastEventId] : [],
          deviceId: null,
          place,
          codes,
          subject: { refs: { personId: person.id }, identity: { kind: 'resident', personId: person.id, name: person.name, houseIds: person.houses, care: true } },
        });
        if (raised) state.set(key, { ...watch, alerted: true });
      }
      ctx.timers.at('check', now + everyMs);
    };

    return {
      eventTypes: types,
      start() {
        if (ctx.downtime) {
          for (const [key, watch] of state.entries<Watch>('p:')) {
            const moved = pauseOverDowntime(watch.clockFromMs, ctx.downtime);
            if (moved !== watch.clockFromMs) state.set(key, { ...watch, clockFromMs: moved });
          }
        }
        careResidents();
        // One evaluation right away (catch-up), then the regular cadence.
        ctx.timers.at('check', Math.min(ctx.clock.now(), (ctx.state.get<{ dueMs: number }>('t:check')?.dueMs ?? Infinity)));
      },
      onTimer(key) {
        if (key === 'check') check();
      },
      onEvent(event) {
        if (!types.has(event.type)) return;
        const personId = event.identity?.personId;
        if (personId && event.identity?.care) recordActivity(personId, event);
        const house = event.place.house;
        if (house && event.deviceKind !== 'camera') for (const id of careByHouse.get(house) ?? []) if (id !== personId) recordActivity(id, event);
      },
    };
  },
});

import { z } from 'zod';
import { Clock as ClockTime } from '../../../config/schema/common.ts';
import { defineRule } from '../rule-types.ts';
import { inSchedule } from '../circle.ts';
import { dayTime, eventMs, hours, pauseOverDowntime } from '../subjects.ts';
import { normalizePlate } from '../../store/registry.ts';

interface Stay {
  plate: string;
  inMs: number;
  eventId: string;
  gate: string;
  clockFromMs: number;
  alerted: boolean;
  deviceId: string;
}

const IN = new Set(['in', 'entry', 'enter', '1']);
const OUT = new Set(['out', 'exit', 'leave', '2']);

/** in/out from payload.direction ("in"/"out", also "entry"/"exit" and the WG codes 1/2). */
export function plateDirection(payload: Record<string, unknown>): 'in' | 'out' | null {
  const raw = payload.direction;
  if (raw === undefined || raw === null) return null;
  const d = String(raw).toLowerCase();
  return IN.has(d) ? 'in' : OUT.has(d) ? 'out' : null;
}

/**
 * 外来车辆夜间滞留: an unregistered vehicle (not a resident's, not a valid visitor's) entered through a
 * gate and has not left after `hours`, judged during the night window. Entries and exits come from
 * plate captures with payload.direction; captures without a direction are ignored.
 */
export const vehicleOverstay = defineRule({
  type: 'vehicle-overstay',
  title: '外来车辆夜间滞留',
  params: z
    .object({
      hours: z.number().positive().max(24 * 7).default(6),
      night: z
        .object({ from: ClockTime, to: ClockTime })
        .strict()
        .nullable()
        .default({ from: '22:00', to: '06:00' })
        .describe('Only raise inside this window (null: any time)'),
      checkEveryMinutes: z.number().positive().max(1440).default(10),
      forgetAfterDays: z.number().positive().max(90).default(7).describe('A stay with no exit is dropped after this long (a missed exit capture)'),
    })
    .strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 12 * 3600 },
  filter: 'alerts',
  create(rule, ctx) {
    const thresholdMs = rule.params.hours * 3_600_000;
    const everyMs = rule.params.checkEveryMinutes * 60_000;
    const forgetMs = rule.params.forgetAfterDays * 86_400_000;
    const night = rule.params.night ? { windows: [rule.params.night], timezone: rule.schedule?.timezone ?? 'Asia/Shanghai' } : undefined;
    const state = ctx.state;

    const check = () => {
      const now = ctx.clock.now();
      for (const [key, stay] of state.entries<Stay>('v:')) {
        if (now - stay.inMs > forgetMs) {
          state.delete(key);
          continue;
        }
        const stayedMs = now - stay.clockFromMs;
        if (stay.alerted || stayedMs < thresholdMs || !inSchedule(night, now)) continue;
        const { place, codes } = ctx.site.placeOf(stay.deviceId);
        const raised = ctx.raise({
          message: `外来车辆 ${stay.plate} 于 ${dayTime(stay.inMs)} 从 ${stay.gate} 驶入, 已滞留 ${hours(now - stay.inMs)} 小时未离开 (阈值 ${rule.params.hours} 小时)`,
          details: { thresholds: { hours: rule.params.hours, night: rule.params.night }, enteredAt: new Date(stay.inMs).toISOString(), plate: stay.plate },
          mergeKey: stay.plate,
          evidence: [stay.eventId],
          deviceId: stay.deviceId,
          place,
          codes,
          subject: { refs: { plate: stay.plate }, identity: { kind: 'unknown' } },
        });
        if (raised) state.set(key, { ...stay, alerted: true });
      }
      ctx.timers.at('check', now + everyMs);
    };

    return {
      eventTypes: new Set(['plate.captured'] as const),
      start() {
        if (ctx.downtime) {
          for (const [key, stay] of state.entries<Stay>('v:')) {
            const moved = pauseOverDowntime(stay.clockFromMs, ctx.downtime);
            if (moved !== stay.clockFromMs) state.set(key, { ...stay, clockFromMs: moved });
          }
        }
        ctx.timers.at('check', Math.min(ctx.clock.now(), ctx.state.get<{ dueMs: number }>('t:check')?.dueMs ?? Infinity));
      },
      onTimer(key) {
        if (key === 'check') check();
      },
      onEvent(event) {
        if (event.type !== 'plate.captured' || !event.subjects.plate) return;
        const direction = plateDirection(event.payload);
        if (!direction) return;
        const plate = normalizePlate(event.subjects.plate);
        const key = `v:${plate}`;
        if (direction === 'out') return state.delete(key);
        const kind = event.identity?.kind;
        if (kind === 'resident' || kind === 'visitor') return;
        const now = eventMs(event);
        // Scope is a gate list here: entries through gates outside the circle are not tracked.
        if (!ctx.inScope(event)) return;
        state.set(key, { plate, inMs: now, eventId: event.id, gate: event.place.label, clockFromMs: now, alerted: false, deviceId: event.deviceId } satisfies Stay);
      },
    };
  },
});

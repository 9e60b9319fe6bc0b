import { z } from 'zod';
import { Clock as ClockTime } from '../../../config/schema/common.ts';
import { defineRule } from '../rule-types.ts';
import { inSchedule } from '../circle.ts';
import { dayTime, eventMs, hours, pauseOverDowntimes } from '../subjects.ts';
import { KEPT_PREFIX } from '../rule-state.ts';
import { normalizePlate } from '../../store/registry.ts';

interface Stay {
  plate: string;
  inMs: number;
  eventId: string;
  gate: string;
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
 *
 * Who is inside is rebuilt from the plate captures of the last `forgetAfterDays` (event-sourced):
 * every unregistered entry and exit used to cost a state row. A stay's stopwatch pauses over every
 * downtime since the entry (ctx.downtimes); the stay an alert was raised for is kept under
 * `k:<plate>` (its entry event id) until the vehicle leaves, so a restart does not raise it again.
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
  rebuildLookbackMs: (p) => p.forgetAfterDays * 86_400_000,
  create(rule, ctx) {
    const thresholdMs = rule.params.hours * 3_600_000;
    const everyMs = rule.params.checkEveryMinutes * 60_000;
    const forgetMs = rule.params.forgetAfterDays * 86_400_000;
    const night = rule.params.night ? { windows: [rule.params.night], timezone: rule.schedule?.timezone ?? 'Asia/Shanghai' } : undefined;
    const state = ctx.state;
    /** Unregistered vehicles inside, by normalised plate. */
    const stays = new Map<string, Stay>();
    /** Plate → the entry event of the stay already alerted (as kept on disk). */
    const alerted = new Map<string, string>();
    for (const [key, eventId] of state.entries<string>(KEPT_PREFIX)) alerted.set(key.slice(KEPT_PREFIX.length), eventId);
    const forgetAlert = (plate: string) => {
      if (alerted.delete(plate)) state.delete(KEPT_PREFIX + plate);
    };

    const check = () => {
      const now = ctx.clock.now();
      for (const [plate, stay] of stays) {
        if (now - stay.inMs > forgetMs) {
          stays.delete(plate);
          forgetAlert(plate);
          continue;
        }
        // Time the gateway was down does not count: the exit may simply not have been seen.
        const stayedMs = now - pauseOverDowntimes(stay.inMs, ctx.downtimes);
        if (alerted.get(plate) === stay.eventId || stayedMs < thresholdMs || !inSchedule(night, now)) continue;
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
        if (raised) {
          alerted.set(plate, stay.eventId);
          state.set(KEPT_PREFIX + plate, stay.eventId);
        }
      }
      ctx.timers.at('check', now + everyMs);
    };

    return {
      eventTypes: new Set(['plate.captured'] as const),
      start() {
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
        if (direction === 'out') {
          stays.delete(plate);
          if (alerted.size !== 0) forgetAlert(plate);
          return;
        }
        const kind = event.identity?.kind;
        if (kind === 'resident' || kind === 'visitor') return;
        // Scope is a gate list here: entries through gates outside the circle are not tracked.
        if (!ctx.inScope(event)) return;
        stays.set(plate, { plate, inMs: eventMs(event), eventId: event.id, gate: event.place.label, deviceId: event.deviceId });
        // A new entry is a new stay: an alert for an earlier one no longer applies.
        if (alerted.size !== 0 && alerted.get(plate) !== event.id) forgetAlert(plate);
      },
    };
  },
});

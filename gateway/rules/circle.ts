import type { DeviceEvent } from '../core/model.ts';
import { localParts } from '../core/time.ts';
import type { ResolvedRule } from './rule-types.ts';

/** True when the instant falls in one of the schedule's windows; windows may wrap past midnight. */
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

/** True when the place is inside the circle: any constrained list (devices, gates, buildings, zones) matches. */
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

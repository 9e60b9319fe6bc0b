import type { DeviceEvent } from '../core/model.ts';
import { localParts } from '../core/time.ts';
import type { ResolvedRule } from './rule-types.ts';

type Parts = ReturnType<typeof localParts>;
const partsCache = new Map<string, { minute: number; parts: Parts }>();

/**
 * localParts for one minute at a time: Intl formatting costs microseconds and events arrive in
 * time order, so nearly every call falls in the minute already formatted.
 */
export function minuteParts(ms: number, timeZone: string): Parts {
  const minute = Math.floor(ms / 60_000);
  const hit = partsCache.get(timeZone);
  if (hit && hit.minute === minute) return hit.parts;
  const parts = localParts(ms, timeZone);
  partsCache.set(timeZone, { minute, parts });
  return parts;
}

/** "22:41" in the site's time zone for alert messages, without an Intl call per message. */
export function hhmm(ms: number, timeZone = 'Asia/Shanghai'): string {
  return minuteParts(ms, timeZone).hhmm;
}

type Schedule = NonNullable<ResolvedRule<unknown>['schedule']>;
interface CompiledWindow {
  from: number;
  to: number;
  days: Set<number> | null;
}
interface CompiledSchedule {
  windows: CompiledWindow[];
  /** The last minute asked about and the answer: every event of a minute gets the same one. */
  minute: number;
  inside: boolean;
}
const compiled = new WeakMap<Schedule, CompiledSchedule>();

/** Window bounds as minutes since midnight, parsed once per schedule rather than once per event. */
function compiledOf(schedule: Schedule): CompiledSchedule {
  let c = compiled.get(schedule);
  if (!c) {
    c = { windows: schedule.windows.map((w) => ({ from: toMinutes(w.from), to: toMinutes(w.to), days: w.days ? new Set(w.days) : null })), minute: NaN, inside: false };
    compiled.set(schedule, c);
  }
  return c;
}

/** True when the instant falls in one of the schedule's windows; windows may wrap past midnight. */
export function inSchedule(schedule: ResolvedRule<unknown>['schedule'], ms: number): boolean {
  if (!schedule) return true;
  const c = compiledOf(schedule);
  const minute = Math.floor(ms / 60_000);
  if (minute === c.minute) return c.inside;
  c.inside = inWindows(c.windows, minuteParts(ms, schedule.timezone ?? 'Asia/Shanghai'));
  c.minute = minute;
  return c.inside;
}

function inWindows(windows: CompiledWindow[], { weekday, minutes }: Parts): boolean {
  for (const { from, to, days } of windows) {
    if (from <= to) {
      if (minutes >= from && minutes < to && (!days || days.has(weekday))) return true;
    } else if (minutes >= from) {
      if (!days || days.has(weekday)) return true;
    } else if (minutes < to) {
      // Wraps past midnight: the part after midnight belongs to the previous day's window.
      if (!days || days.has(weekday === 1 ? 7 : weekday - 1)) return true;
    }
  }
  return false;
}

type Scope = NonNullable<ResolvedRule<unknown>['scope']>;
interface CompiledScope {
  devices: Set<string> | null;
  gates: Set<string> | null;
  buildings: Set<string> | null;
  zones: Set<string> | null;
  any: boolean;
}
const compiledScopes = new WeakMap<Scope, CompiledScope>();
const setOf = (list?: string[]) => (list && list.length > 0 ? new Set(list) : null);

function scopeOf(scope: Scope): CompiledScope {
  let c = compiledScopes.get(scope);
  if (!c) {
    c = { devices: setOf(scope.devices), gates: setOf(scope.gates), buildings: setOf(scope.buildings), zones: setOf(scope.zones), any: false };
    c.any = !!(c.devices || c.gates || c.buildings || c.zones);
    compiledScopes.set(scope, c);
  }
  return c;
}

/** True when the place is inside the circle: any constrained list (devices, gates, buildings, zones) matches. */
export function inScope(scope: ResolvedRule<unknown>['scope'], event: Pick<DeviceEvent, 'deviceId' | 'place'>): boolean {
  if (!scope) return true;
  const c = scopeOf(scope);
  if (!c.any) return true;
  const { place } = event;
  return (
    (c.devices !== null && c.devices.has(event.deviceId)) ||
    (c.gates !== null && place.gate !== undefined && c.gates.has(place.gate)) ||
    (c.buildings !== null && place.building !== undefined && c.buildings.has(place.building)) ||
    (c.zones !== null && place.zone !== undefined && c.zones.has(place.zone))
  );
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

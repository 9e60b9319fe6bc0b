import type { DeviceEvent, Place, PlaceCodes, SubjectRefs } from '../core/model.ts';
import type { SiteModel } from '../site/site-model.ts';
import { localParts } from '../core/time.ts';
import { normalizePlate } from '../store/registry.ts';

/**
 * One stable key per subject, strongest reference first: the same plate written 闽A·12345 or
 * 闽a12345 is one subject. Undefined when the event names no subject.
 */
export function subjectKey(refs: SubjectRefs): string | undefined {
  if (refs.personId) return `person:${refs.personId}`;
  return presentedKey(refs, true, true, true);
}

/** The credential actually presented (card, plate, face), not the person it resolved to. */
export function credentialKey(refs: SubjectRefs): string | undefined {
  return presentedKey(refs, true, true, true) ?? (refs.personId ? `person:${refs.personId}` : undefined);
}

/**
 * The key of the strongest credential presented among the kinds asked for (card, then plate, then
 * face), normalised as subjectKey normalises it, after `prefix`. Flags rather than a filtered copy
 * of `refs`, and the prefix inside the one string: rules call it per event, and a key built in two
 * steps is a second string to make, and to flatten at the map that hashes it.
 */
export function presentedKey(refs: SubjectRefs, card: boolean, plate: boolean, face: boolean, prefix = ''): string | undefined {
  if (card && refs.cardNo) return `${prefix}card:${refs.cardNo.trim()}`;
  if (plate && refs.plate) return `${prefix}plate:${normalizePlate(refs.plate)}`;
  if (face && refs.faceId) return `${prefix}face:${refs.faceId}`;
  return undefined;
}

const SUBJECT_LABELS: Record<string, string> = { person: '人员', card: '卡号', plate: '车牌', face: '人脸' };

/** "车牌 闽A12345" for a key made by subjectKey/credentialKey. */
export function subjectLabel(key: string): string {
  const i = key.indexOf(':');
  return `${SUBJECT_LABELS[key.slice(0, i)] ?? key.slice(0, i)} ${key.slice(i + 1)}`;
}

/** One key per door or passage: the gate, else the unit entrance, else the zone, else the device. */
export function placeKey(place: Place, deviceId?: string | null): string {
  if (place.house) return `house:${place.house}`;
  if (place.gate) return `gate:${place.gate}`;
  if (place.building) return `unit:${place.building}/${place.unit ?? ''}`;
  if (place.zone) return `zone:${place.zone}`;
  return deviceId ? `device:${deviceId}` : `label:${place.label}`;
}

/** The door a passage counts at: like placeKey, but a doorplate at a house counts as its house door. */
export function doorKey(event: Pick<DeviceEvent, 'place' | 'deviceId'>): string {
  return placeKey(event.place, event.deviceId);
}

/** Where an alert about this event happened: its device, place and three codes (三码). */
export function whereOf(event: Pick<DeviceEvent, 'deviceId' | 'place' | 'codes'>): Pick<DeviceEvent, 'deviceId' | 'place' | 'codes'> {
  return { deviceId: event.deviceId, place: event.place, codes: event.codes };
}

let lastEvent: Pick<DeviceEvent, 'receivedAt'> | null = null;
let lastEventMs = 0;

/**
 * When the gateway received the event. Every rule an event visits asks, so the last answer is
 * kept: ISO parsing once per event rather than once per rule.
 */
export function eventMs(event: Pick<DeviceEvent, 'receivedAt'>): number {
  if (event !== lastEvent) {
    lastEventMs = parseReceivedAt(event.receivedAt);
    lastEvent = event;
  }
  return lastEventMs;
}

/** The minute last parsed, as the number its digits spell (yyyymmddhhmm), and its epoch ms. */
const minute = { key: -1, ms: 0 };
const digit = (s: string, i: number) => s.charCodeAt(i) - 48;
/** Two decimal digits at i, or a large negative number if either is not a digit. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1e9;
}

/**
 * Date.parse for the pipeline's `toISOString()` stamps (2026-11-02T00:41:07.123Z), which arrive in
 * time order: within the minute already parsed, seconds and milliseconds are read off the string.
 * The minute is recognised by the number its twelve digits spell, with the separators checked
 * (about 40 ns a call here; comparing the 16-character prefix, by startsWith or by a loop, took
 * 75). Anything else goes to Date.parse, and so does every new minute (which validates it).
 */
export function parseReceivedAt(iso: string): number {
  if (
    iso.length !== 24 ||
    iso.charCodeAt(23) !== 90 /* Z */ ||
    iso.charCodeAt(19) !== 46 /* . */ ||
    iso.charCodeAt(16) !== 58 /* : */ ||
    iso.charCodeAt(13) !== 58 /* : */ ||
    iso.charCodeAt(10) !== 84 /* T */ ||
    iso.charCodeAt(7) !== 45 /* - */ ||
    iso.charCodeAt(4) !== 45 /* - */
  )
    return Date.parse(iso);
  const key = (((twoDigits(iso, 0) * 100 + twoDigits(iso, 2)) * 100 + twoDigits(iso, 5)) * 100 + twoDigits(iso, 8)) * 10_000 + twoDigits(iso, 11) * 100 + twoDigits(iso, 14);
  if (key < 0) return Date.parse(iso);
  if (key !== minute.key) {
    const minuteMs = Date.parse(`${iso.slice(0, 16)}:00.000Z`);
    if (Number.isNaN(minuteMs)) return Date.parse(iso);
    minute.key = key;
    minute.ms = minuteMs;
  }
  const seconds = twoDigits(iso, 17);
  const m1 = digit(iso, 20);
  const m2 = digit(iso, 21);
  const m3 = digit(iso, 22);
  if (!(seconds >= 0 && seconds <= 59 && m1 >= 0 && m1 <= 9 && m2 >= 0 && m2 <= 9 && m3 >= 0 && m3 <= 9)) return Date.parse(iso);
  return minute.ms + seconds * 1000 + m1 * 100 + m2 * 10 + m3;
}

/** "11-02 22:41" in the site's time zone, for messages about earlier moments. */
export function dayTime(ms: number, timeZone = 'Asia/Shanghai'): string {
  const date = new Intl.DateTimeFormat('en-CA', { timeZone, month: '2-digit', day: '2-digit' }).format(ms);
  return `${date} ${localParts(ms, timeZone).hhmm}`;
}

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/** The local calendar day "2026-11-02" of an instant, for per-day counters. */
export function localDay(ms: number, timeZone = 'Asia/Shanghai'): string {
  const minute = Math.floor(ms / 60_000);
  const hit = dayCache.get(timeZone);
  if (hit && hit.minute === minute) return hit.day;
  let f = dayFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormatters.set(timeZone, f);
  }
  const day = f.format(ms);
  dayCache.set(timeZone, { minute, day });
  return day;
}
const dayCache = new Map<string, { minute: number; day: string }>();

/** The local day before "2026-11-02". Calendar arithmetic on the date itself, so DST cannot skew it. */
export function previousDay(day: string): string {
  const known = previousDays.get(day);
  if (known) return known;
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  const previous = d.toISOString().slice(0, 10);
  if (previousDays.size > 1000) previousDays.clear();
  previousDays.set(day, previous);
  return previous;
}
const previousDays = new Map<string, string>();

export function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 10 ? String(Math.round(h)) : h.toFixed(1).replace(/\.0$/, '');
}

/** Place and codes of a house (for rules that speak about a house rather than a device). */
export function housePlace(site: SiteModel, houseId: string): { place: Place; codes: PlaceCodes } {
  const house = site.houses.get(houseId);
  const cfg = site.config.site;
  const building = house ? cfg.buildings.find((b) => b.id === house.building) : undefined;
  const unit = building?.units.find((u) => u.id === house?.unit);
  const label = house ? `${building?.name ?? ''}${unit?.name ?? ''}${house.name ?? house.id}` : houseId;
  const place: Place = { label, house: houseId };
  if (house) Object.assign(place, { building: house.building, unit: house.unit });
  return {
    place,
    codes: { addressCode: house?.addressCode ?? cfg.addressCode ?? null, communityGridCode: cfg.communityGridCode, policeGridCode: cfg.policeGridCode },
  };
}

/** The houses an entry goes into: the device's own house (doorplate), else the subject's registered houses. */
export function housesEntered(event: Pick<DeviceEvent, 'place' | 'identity'>): string[] {
  if (event.place.house) return [event.place.house];
  return event.identity?.houseIds ?? [];
}

/**
 * Moves an absence stopwatch past the gateway's downtime: nothing was observed while the gateway
 * was down, so that time is not counted as absence (no burst of stale alerts after an outage).
 */
export function pauseOverDowntime(clockFromMs: number, downtime: { fromMs: number; toMs: number } | null): number {
  if (!downtime || clockFromMs >= downtime.toMs) return clockFromMs;
  const counted = Math.max(0, downtime.fromMs - clockFromMs);
  return downtime.toMs - counted;
}

/** pauseOverDowntime over each of several downtimes, oldest first (a stopwatch rebuilt from stored events). */
export function pauseOverDowntimes(clockFromMs: number, downtimes: readonly { fromMs: number; toMs: number }[]): number {
  let from = clockFromMs;
  for (const downtime of downtimes) from = pauseOverDowntime(from, downtime);
  return from;
}

/**
 * Removes, in place, the leading entries of a time-ordered window whose time (entry[0]) is at or
 * before `ms`; returns how many. Windows are appended in time order, so this replaces a filter
 * (a new array per event) with a look at the oldest entries.
 */
export function dropUntil(entries: [number, ...unknown[]][], ms: number): number {
  let n = 0;
  while (n < entries.length && entries[n]![0] <= ms) n++;
  if (n > 0) entries.splice(0, n);
  return n;
}

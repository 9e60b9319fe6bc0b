import { z } from 'zod';
import type { DeviceEvent } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { KEPT_PREFIX } from '../rule-state.ts';
import { defineRule } from '../rule-types.ts';
import { doorKey, eventMs } from '../subjects.ts';

/** A camera count; `unmatched`: how many of its passers found no opening (-1 until matched). */
type Pass = [ms: number, eventId: string, count: number, unmatched: number];
/** An opening, and the passer it was matched to: FREE, BEFORE (it came first) or LATE (reported after that passer). */
type Grant = [ms: number, eventId: string, use: number, takenBy: Pass | null];
const FREE = 0;
const BEFORE = 1;
const LATE = 2;

interface Door {
  /** KEPT_PREFIX + door key: where judgedTo and countedTo are kept on disk. */
  keptKey: string;
  /**
   * Valid openings (a granted credential or the exit button) and camera passer counts, in time
   * order from index `grantsFrom` / `passesFrom` (the entries before those have left the window
   * and are removed in bulk now and then, not one by one from the front).
   */
  grants: Grant[];
  grantsFrom: number;
  passes: Pass[];
  passesFrom: number;
  /** Index in passes of the first passage not judged yet. */
  next: number;
  /** Index in passes from which passages may still be unmatched (matching goes in time order). */
  matchNext: number;
  /**
   * Index in grants before which (from grantsFrom) no opening is FREE: openings only ever leave
   * FREE, so the search for a free one starts here rather than at the window's start, which at a
   * busy gate holds dozens of openings taken already.
   */
  freeFrom: number;
  /** The latest passage left with a passer without an opening (-Infinity if none): most judgements find none after their bound, and stop there. */
  unmatchedAt: number;
  /** When the last judgement was made: it judged every passage up to then (on disk: the last one that raised an alert). */
  judgedTo: number;
  /** Openings and passers at or before this instant were accounted for by an alert. */
  countedTo: number;
  /** The camera of the last passage: the alert names it. */
  cameraId: string;
  place: DeviceEvent['place'];
  codes: DeviceEvent['codes'];
}

/**
 * The first index from `from` on whose entry is later than `ms`, or at `ms` or later with `orAt`
 * (entries in time order: a binary search).
 */
function firstAfter(entries: readonly (Grant | Pass)[], ms: number, from: number, orAt = false): number {
  let lo = from;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = entries[mid]![0];
    if (t < ms || (t === ms && !orAt)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Adds an entry in time order: events come in time order, except across a step back of the wall
 * clock, and a window must stay sorted for firstAfter. Returns its index.
 */
function insertInOrder<T extends Grant | Pass>(entries: T[], entry: T, from: number): number {
  const last = entries.length - 1;
  if (last < from || entries[last]![0] <= entry[0]) return entries.push(entry) - 1;
  const at = firstAfter(entries, entry[0], from);
  entries.splice(at, 0, entry);
  return at;
}

/** Removes the entries before `from` once they are many: how many went (indexes shift down by that). */
function compact(entries: unknown[], from: number): number {
  if (from < 64 || from * 2 < entries.length) return 0;
  entries.splice(0, from);
  return from;
}

/**
 * 尾随: a camera counts more people passing a door than valid openings within `windowSeconds`.
 * The camera and the access controller must stand at the same place (gate or unit entrance).
 * A passage is judged `graceSeconds` after the camera reports it, so that a card swipe reported
 * a moment later still counts; one judgement covers every passage up to it (a busy gate is
 * judged once per burst, not once per passer, which would judge the window's edges over and over).
 *
 * The windows are rebuilt from the stored events (event-sourced): a busy gate changes them on
 * every passage. What the events cannot tell is kept per door under `k:`, written with each
 * alert: up to when passers were accounted for by an alert (they must not count again), and the
 * judgement that raised it. A judgement without an alert writes nothing: judging that passage
 * again after a restart sees the same stored events and the same accounted-for bound, so it
 * comes to the same answer (a row per judgement was a SQLite write per passage at a busy gate).
 */
export const tailgating = defineRule({
  type: 'tailgating',
  title: '尾随进入',
  params: z
    .object({
      windowSeconds: z.number().int().min(1).max(600).default(10),
      graceSeconds: z.number().min(0).max(60).default(2),
      minExcess: z.number().int().min(1).max(100).default(1).describe('Passers beyond openings that make an alert'),
    })
    .strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 300 },
  // A passage still judged after a restart fell due at most a window ago; its judgement looks a
  // window and the grace further back, and the passers before those, whose pairing decided which
  // openings are free, a window and the grace more.
  rebuildLookbackMs: (p) => (3 * p.windowSeconds + 2 * p.graceSeconds) * 1000,
  create(rule, ctx) {
    const { windowSeconds, graceSeconds, minExcess } = rule.params;
    const windowMs = windowSeconds * 1000;
    const graceMs = graceSeconds * 1000;
    const keepMs = 2 * windowMs + graceMs;
    const doors = new Map<string, Door>();
    /** Per device: the place its door was worked out for (the pipeline reuses one place object per device). */
    const byDevice = new Map<string, { place: DeviceEvent['place']; door: Door }>();
    let live = false;

    const doorOf = (event: DeviceEvent): Door => {
      const known = byDevice.get(event.deviceId);
      if (known !== undefined && known.place === event.place) return known.door;
      const keptKey = KEPT_PREFIX + doorKey(event);
      let door = doors.get(keptKey);
      if (!door) {
        const [judgedTo, countedTo] = ctx.state.get<[number, number]>(keptKey) ?? [0, 0];
        door = { keptKey, grants: [], grantsFrom: 0, passes: [], passesFrom: 0, next: 0, matchNext: 0, freeFrom: 0, unmatchedAt: -Infinity, judgedTo, countedTo, cameraId: event.deviceId, place: event.place, codes: event.codes };
        doors.set(keptKey, door);
      }
      byDevice.set(event.deviceId, { place: event.place, door });
      return door;
    };

    /**
     * Pairs every passer counted up to `upTo` with an opening, in time order: first the earliest
     * free opening within `windowSeconds` before it; else one there that an earlier passer took as
     * a late report (a swipe normally comes before its passer, so that passer is left without);
     * else a free one reported within `graceSeconds` after it. Pairing passers one by one, rather
     * than comparing a window's totals, keeps a window's edge from falling between a swipe and its
     * passer: at a busy gate, where the camera counts each person a moment after the swipe, a
     * window that began between the two counted the passer and not the swipe, a false alarm every
     * few dozen passages (200 in the benchmark's 200,000 events, with no tailgater among them).
     */
    const matchUpTo = (door: Door, upTo: number) => {
      const { grants, passes } = door;
      for (; door.matchNext < passes.length && passes[door.matchNext]![0] <= upTo; door.matchNext++) {
        const pass = passes[door.matchNext]!;
        // Matched already (a passage inserted behind it after a step back of the clock moved matchNext).
        if (pass[3] >= 0) continue;
        const ms = pass[0];
        let need = pass[2];
        const lo = firstAfter(grants, ms - windowMs, door.grantsFrom, true);
        for (let i = Math.max(lo, door.freeFrom); i < grants.length && need > 0 && grants[i]![0] <= ms; i++) {
          const grant = grants[i]!;
          if (grant[2] === FREE) (grant[2] = BEFORE), (grant[3] = pass), need--;
        }
        for (let i = lo; i < grants.length && need > 0 && grants[i]![0] <= ms; i++) {
          const grant = grants[i]!;
          if (grant[2] !== LATE) continue;
          const earlier = grant[3]!;
          earlier[3]++;
          door.unmatchedAt = Math.max(door.unmatchedAt, earlier[0]);
          (grant[2] = BEFORE), (grant[3] = pass), need--;
        }
        for (let i = firstAfter(grants, ms, lo); i < grants.length && need > 0 && grants[i]![0] <= ms + graceMs; i++) {
          const grant = grants[i]!;
          if (grant[2] === FREE) (grant[2] = LATE), (grant[3] = pass), need--;
        }
        while (door.freeFrom < grants.length && grants[door.freeFrom]![2] !== FREE) door.freeFrom++;
        pass[3] = need;
        if (need > 0) door.unmatchedAt = Math.max(door.unmatchedAt, ms);
      }
    };

    /**
     * Judges the passages up to `upTo` (the one whose grace ended at `dueMs`, and any at the same
     * instant): passers without an opening within the window ending there, not yet accounted for
     * by an alert; true when it raised one.
     */
    const judge = (door: Door, upTo: number, dueMs: number): boolean => {
      matchUpTo(door, upTo);
      // Passers left without an opening, not yet accounted for by an alert. A window and the grace
      // back: a passer whose late-reported swipe was taken back by the next passer stays counted.
      const unmatchedFrom = Math.max(upTo - windowMs - graceMs, door.countedTo + 1);
      if (door.unmatchedAt < unmatchedFrom) return false;
      const { grants, passes } = door;
      const unmatchedLo = firstAfter(passes, unmatchedFrom, door.passesFrom, true);
      let unmatched = 0;
      for (let i = unmatchedLo; i < passes.length && passes[i]![0] <= upTo; i++) if (passes[i]![3] > 0) unmatched += passes[i]![3];
      if (unmatched >= minExcess) {
        // The window is [from, dueMs]: found by binary search, as a busy gate holds dozens of entries.
        const from = Math.max(dueMs - windowMs - graceMs, door.countedTo + 1);
        const grantsLo = firstAfter(grants, from, door.grantsFrom, true);
        const grantsHi = firstAfter(grants, dueMs, grantsLo);
        const passesLo = firstAfter(passes, from, door.passesFrom, true);
        const passesHi = firstAfter(passes, dueMs, passesLo);
        const openings = grantsHi - grantsLo;
        let passers = 0;
        for (let i = passesLo; i < passesHi; i++) passers += passes[i]![2];
        // Most judgements find no excess: the evidence list is made only for an alert. The
        // window's openings and passages; first, any passer without an opening from before it.
        const before = passes.slice(unmatchedLo, passesLo).filter((pass) => pass[3] > 0);
        const evidence = [...before, ...grants.slice(grantsLo, grantsHi), ...passes.slice(passesLo, passesHi)].map((entry) => entry[1]);
        ctx.raise({
          message: `${door.place.label} 疑似尾随: ${hhmm(dueMs)} 前 ${windowSeconds} 秒内 ${unmatched} 人通过无对应有效开门 (共通过 ${passers} 人, 有效开门 ${openings} 次)`,
          details: { thresholds: { windowSeconds, graceSeconds, minExcess }, passers, openings, unmatched },
          mergeKey: door.keptKey.slice(KEPT_PREFIX.length),
          evidence,
          deviceId: door.cameraId,
          place: door.place,
          codes: door.codes,
          subject: null,
        });
        // The passers are accounted for: they must not count towards the next judgement again.
        door.countedTo = upTo;
        return true;
      }
      return false;
    };

    /**
     * Judges the door's passages due by `now`: the first one not judged yet sets when. One that
     * fell due more than a window ago (downtime) is dropped: the swipes it needed may be lost.
     */
    const judgeDue = (door: Door, now: number) => {
      const passes = door.passes;
      for (;;) {
        while (door.next < passes.length && passes[door.next]![0] <= door.judgedTo) door.next++;
        if (door.next === passes.length) return;
        const upTo = passes[door.next]![0];
        const dueMs = upTo + graceMs;
        if (dueMs > now) return;
        let raised = false;
        if (now - dueMs <= windowMs) raised = judge(door, upTo, dueMs);
        else {
          // Dropped: its passers take their openings (as they did when it was live) and count no more.
          matchUpTo(door, upTo);
          door.countedTo = Math.max(door.countedTo, upTo);
        }
        door.judgedTo = upTo;
        if (raised) ctx.state.set(door.keptKey, [door.judgedTo, door.countedTo]);
      }
    };

    return {
      eventTypes: new Set(['access.granted', 'door.exit-button', 'person.passed'] as const),
      start() {
        live = true;
        // After the replay: passages after the last judgement are due now (or dropped as late) or later.
        if (doors.size) ctx.wakeup.arm(ctx.clock.now());
      },
      stop() {
        live = false;
      },
      onEvent(event) {
        const isGrant = event.type === 'access.granted' || event.type === 'door.exit-button';
        if (!isGrant && event.type !== 'person.passed') return;
        const now = eventMs(event);
        const door = doorOf(event);
        // A passage due at this instant is judged before this event joins the window, as the wake-up would have.
        if (live) judgeDue(door, now);
        // Entries from now - keepMs on are still needed (a judgement due a window ago looks back a window and the grace).
        const cutoff = now - keepMs - 1;
        door.grantsFrom = firstAfter(door.grants, cutoff, door.grantsFrom);
        const grantsDropped = compact(door.grants, door.grantsFrom);
        door.grantsFrom -= grantsDropped;
        door.freeFrom = Math.max(door.grantsFrom, door.freeFrom - grantsDropped);
        door.passesFrom = firstAfter(door.passes, cutoff, door.passesFrom);
        const dropped = compact(door.passes, door.passesFrom);
        door.passesFrom -= dropped;
        door.next = Math.max(door.passesFrom, door.next - dropped);
        door.matchNext = Math.max(door.passesFrom, door.matchNext - dropped);
        if (isGrant) {
          const at = insertInOrder(door.grants, [now, event.id, FREE, null], door.grantsFrom);
          if (at < door.freeFrom) door.freeFrom = at;
        } else {
          const count = Number(event.payload.count ?? 1);
          const at = insertInOrder(door.passes, [now, event.id, Number.isInteger(count) && count > 0 && count < 1000 ? count : 1, -1], door.passesFrom);
          // Behind a passage already judged only after a step back of the clock: judged with the next ones.
          if (at < door.next) door.next = at;
          if (at < door.matchNext) door.matchNext = at;
          door.cameraId = event.deviceId;
          door.place = event.place;
          door.codes = event.codes;
          if (live) ctx.wakeup.arm(now + graceMs);
        }
      },
      onWake() {
        const now = ctx.clock.now();
        let next = Infinity;
        for (const door of doors.values()) {
          judgeDue(door, now);
          if (door.next < door.passes.length) next = Math.min(next, door.passes[door.next]![0] + graceMs);
        }
        if (next !== Infinity) ctx.wakeup.arm(next);
      },
    };
  },
});

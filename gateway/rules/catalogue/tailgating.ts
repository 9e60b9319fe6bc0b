import { z } from 'zod';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { doorKey, eventMs } from '../subjects.ts';

interface Door {
  /** Valid openings: a granted credential or the exit button. */
  grants: [ms: number, eventId: string][];
  /** Camera passer counts. */
  passes: [ms: number, eventId: string, count: number][];
  deviceId: string;
}

/** Removes, in place and keeping the order, the entries older than `fromMs` (a busy gate keeps dozens). */
function dropBefore(entries: [number, ...unknown[]][], fromMs: number): void {
  let kept = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry[0] < fromMs) continue;
    if (kept !== i) entries[kept] = entry;
    kept++;
  }
  if (kept !== entries.length) entries.length = kept;
}

/**
 * 尾随: a camera counts more people passing a door than valid openings within `windowSeconds`.
 * The camera and the access controller must stand at the same place (gate or unit entrance).
 * A passage is judged `graceSeconds` after the camera reports it, so that a card swipe reported a
 * moment later still counts.
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
  create(rule, ctx) {
    const { windowSeconds, graceSeconds, minExcess } = rule.params;
    const windowMs = windowSeconds * 1000;
    const state = ctx.state;
    const load = (key: string, deviceId: string): Door => state.get<Door>(key) ?? { grants: [], passes: [], deviceId };

    return {
      eventTypes: new Set(['access.granted', 'door.exit-button', 'person.passed'] as const),
      onEvent(event) {
        const isGrant = event.type === 'access.granted' || event.type === 'door.exit-button';
        if (!isGrant && event.type !== 'person.passed') return;
        const now = eventMs(event);
        const key = `d:${doorKey(event)}`;
        const door = load(key, event.deviceId);
        const keepFrom = now - windowMs - graceSeconds * 1000;
        dropBefore(door.grants, keepFrom);
        dropBefore(door.passes, keepFrom);
        if (isGrant) door.grants.push([now, event.id]);
        else {
          const count = Number(event.payload.count ?? 1);
          door.passes.push([now, event.id, Number.isInteger(count) && count > 0 && count < 1000 ? count : 1]);
          door.deviceId = event.deviceId;
          if (!ctx.timers.has(key)) ctx.timers.at(key, now + graceSeconds * 1000, { place: event.place, codes: event.codes });
        }
        state.set(key, door);
      },
      onTimer(key, data, lateMs) {
        const door = state.get<Door>(key);
        // A judgement that fell due while the gateway was down is dropped: the swipes it needed may be lost.
        if (!door || lateMs > windowMs) return;
        const now = ctx.clock.now();
        const from = now - windowMs - graceSeconds * 1000;
        const passes = door.passes.filter((p) => p[0] >= from);
        const grants = door.grants.filter((g) => g[0] >= from);
        const passers = passes.reduce((n, p) => n + p[2], 0);
        if (passers - grants.length < minExcess) return;
        const { place, codes } = data as { place: Parameters<typeof ctx.raise>[0]['place']; codes: Parameters<typeof ctx.raise>[0]['codes'] };
        ctx.raise({
          message: `${place.label} 疑似尾随: ${hhmm(now)} 前 ${windowSeconds} 秒内通过 ${passers} 人, 仅 ${grants.length} 次有效开门`,
          details: { thresholds: { windowSeconds, minExcess }, passers, openings: grants.length },
          mergeKey: key.slice(2),
          evidence: [...grants.map((g) => g[1]), ...passes.map((p) => p[1])],
          deviceId: door.deviceId,
          place,
          codes,
          subject: null,
        });
        // The passers are accounted for: they must not count towards the next judgement again.
        state.set(key, { ...door, grants: [], passes: [] });
      },
    };
  },
});

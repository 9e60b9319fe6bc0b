import { z } from 'zod';
import { EVENT_TYPES, type DeviceEvent, type EventType } from '../../core/model.ts';
import { defineRule } from '../rule-types.ts';
import { credentialKey, eventMs, housePlace, housesEntered, localDay, previousDay, subjectLabel } from '../subjects.ts';

/**
 * Who entered a house within the window, oldest first: entrant key, last entry time and its event.
 * Parallel arrays, scanned linearly: a house has a handful of entrants, and 20,000 houses of
 * small Maps cost more in allocation and iteration than the scan.
 */
interface Entrants {
  who: string[];
  ms: number[];
  ids: string[];
}
/**
 * One credential's uses per local day. Today's count is inline and earlier days get a Map only
 * once a day has passed: with 100,000 residents this is most of the rule's memory.
 */
interface CredentialDays {
  day: string;
  uses: number;
  /** Earlier local days → uses; only the last `consecutiveDays` days are kept. */
  earlier: Map<string, number> | null;
  /** Event ids of the last 5 uses today once today nears the limit: the evidence if it goes over. */
  today: string[] | null;
}

/**
 * 疑似群租: a house where ≥ distinctCount different people or credentials enter within windowDays,
 * or one credential used more than perDayUses times a day on consecutiveDays consecutive days.
 *
 * A passage counts for a house when the device stands in the house (a smart doorplate), else for
 * the houses the identified person is registered in (a resident's card at the unit door). An
 * unregistered credential at a unit door cannot be tied to a house: it counts for the per-credential
 * test only (the alert then names the door).
 */
export const groupRental = defineRule({
  type: 'group-rental',
  title: '疑似群租',
  params: z
    .object({
      distinctCount: z.number().int().min(2).max(1000).default(8),
      windowDays: z.number().positive().max(90).default(7),
      perDayUses: z.number().int().min(1).max(10_000).default(10),
      consecutiveDays: z.number().int().min(1).max(30).default(3),
      eventTypes: z.array(z.enum(EVENT_TYPES)).min(1).default(['access.granted', 'doorplate.scan'] as EventType[]),
    })
    .strict(),
  defaults: { severity: 'medium', category: 'police', cooldownSeconds: 7 * 86_400 },
  // One key per house and per credential: with 100,000 residents nearly every passage touches a
  // new key, so these counters are rebuilt from the stored events rather than written per key.
  // The lookback covers the entrant window and the streak's local days (today began < 1 day ago).
  rebuildLookbackMs: (p) => Math.max(p.windowDays, p.consecutiveDays + 1) * 86_400_000,
  create(rule, ctx) {
    const { distinctCount, windowDays, perDayUses, consecutiveDays } = rule.params;
    const windowMs = windowDays * 86_400_000;
    const types = new Set(rule.params.eventTypes);
    // Event-sourced (rebuildLookbackMs): kept in memory only, rebuilt at start from the stored
    // events, so plain Maps rather than JSON-ready rule state.
    const houses = new Map<string, Entrants>();
    const credentials = new Map<string, CredentialDays>();

    const countHouse = (houseId: string, who: string, event: DeviceEvent, now: number) => {
      let entrants = houses.get(houseId);
      if (!entrants) houses.set(houseId, (entrants = { who: [], ms: [], ids: [] }));
      const oldest = now - windowMs;
      let kept = 0;
      let found = -1;
      for (let i = 0; i < entrants.who.length; i++) {
        if (entrants.ms[i]! <= oldest) continue;
        if (kept !== i) {
          entrants.who[kept] = entrants.who[i]!;
          entrants.ms[kept] = entrants.ms[i]!;
          entrants.ids[kept] = entrants.ids[i]!;
        }
        if (entrants.who[kept] === who) found = kept;
        kept++;
      }
      entrants.who.length = entrants.ms.length = entrants.ids.length = kept;
      if (found >= 0) {
        entrants.ms[found] = now;
        entrants.ids[found] = event.id;
      } else {
        entrants.who.push(who);
        entrants.ms.push(now);
        entrants.ids.push(event.id);
      }
      if (entrants.who.length < distinctCount) return;
      const distinct = [...entrants.who];
      const { place, codes } = housePlace(ctx.site, houseId);
      ctx.raise({
        message: `疑似群租: ${place.label} ${windowDays} 天内有 ${distinct.length} 个不同人员/凭证进入 (阈值 ${distinctCount})`,
        details: { test: 'distinct-entrants', thresholds: { distinctCount, windowDays }, distinct: distinct.length, entrants: distinct.slice(0, 50), houseId },
        mergeKey: `house:${houseId}`,
        evidence: entrants.ids.map((id, i) => [entrants.ms[i]!, id] as const).sort((a, b) => a[0] - b[0]).map((e) => e[1]),
        deviceId: event.deviceId,
        place,
        codes,
        subject: null,
      });
    };

    const countCredential = (credential: string, event: DeviceEvent, now: number) => {
      const today = localDay(now);
      let saved = credentials.get(credential);
      if (!saved) credentials.set(credential, (saved = { day: today, uses: 0, earlier: null, today: null }));
      else if (saved.day !== today) {
        // A new day: keep only the days a streak can still use, and start today's evidence afresh.
        const earlier = (saved.earlier ??= new Map());
        earlier.set(saved.day, saved.uses);
        const keep = new Set<string>();
        for (let i = 0, d = today; i < consecutiveDays; i++, d = previousDay(d)) keep.add(d);
        for (const d of earlier.keys()) if (!keep.has(d)) earlier.delete(d);
        saved.day = today;
        saved.uses = 0;
        saved.today = null;
      }
      const uses = ++saved.uses;
      // The alert's evidence is the last 5 uses when the day goes over: ids before those are never shown.
      if (uses >= perDayUses - 3) {
        (saved.today ??= []).push(event.id);
        if (saved.today.length > 5) saved.today.shift();
      }
      // Fires once per day, on the use that first takes today over the limit.
      if (uses !== perDayUses + 1) return;
      const earlier = saved.earlier;
      const usesOn = (day: string) => (day === today ? uses : (earlier?.get(day) ?? 0));
      const streak: string[] = [];
      for (let i = 0, day = today; i < consecutiveDays; i++, day = previousDay(day)) {
        if (usesOn(day) <= perDayUses) return;
        streak.push(`${day.slice(5)}: ${usesOn(day)} 次`);
      }
      const days: Record<string, number> = {};
      for (const [d, n] of earlier ?? []) if (n > 0) days[d] = n;
      days[today] = uses;
      const houseId = housesEntered(event)[0];
      const { place, codes } = houseId ? housePlace(ctx.site, houseId) : { place: event.place, codes: event.codes };
      const who = event.identity?.name ? ` (${event.identity.name})` : '';
      ctx.raise({
        message: `疑似群租: ${subjectLabel(credential)}${who} 在 ${place.label} 连续 ${consecutiveDays} 天每天使用超过 ${perDayUses} 次 (${streak.reverse().join(', ')})`,
        details: { test: 'credential-daily-uses', thresholds: { perDayUses, consecutiveDays }, days, credential, houseId: houseId ?? null },
        mergeKey: houseId ? `house:${houseId}` : credential,
        evidence: [...saved.today!],
        deviceId: event.deviceId,
        place,
        codes,
        subject: { refs: event.subjects, ...(event.identity ? { identity: event.identity } : {}) },
      });
    };

    return {
      eventTypes: types,
      start() {
        if (!ctx.timers.has('sweep')) ctx.timers.at('sweep', ctx.clock.now() + 3_600_000);
      },
      onTimer(key) {
        if (key !== 'sweep') return;
        const now = ctx.clock.now();
        for (const [houseId, entrants] of houses) if (!entrants.ms.some((ms) => ms > now - windowMs)) houses.delete(houseId);
        const keepDays = new Set<string>();
        for (let i = 0, day = localDay(now); i < consecutiveDays; i++, day = previousDay(day)) keepDays.add(day);
        for (const [credential, c] of credentials) if (!keepDays.has(c.day) && ![...(c.earlier?.keys() ?? [])].some((d) => keepDays.has(d))) credentials.delete(credential);
        ctx.timers.at('sweep', now + 3_600_000);
      },
      onEvent(event) {
        if (!types.has(event.type)) return;
        const credential = credentialKey(event.subjects);
        if (!credential) return;
        const now = eventMs(event);
        const who = event.identity?.personId ? `person:${event.identity.personId}` : credential;
        for (const houseId of housesEntered(event)) countHouse(houseId, who, event, now);
        countCredential(credential, event, now);
      },
    };
  },
});

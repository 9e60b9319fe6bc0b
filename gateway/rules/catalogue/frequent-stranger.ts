import { z } from 'zod';
import { EVENT_TYPES, type EventType, type IdentityKind } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, presentedKey, subjectLabel, whereOf } from '../subjects.ts';

/**
 * Sightings of one subject in time order, flat: received ms, event id, received ms, event id, …
 * Most unknown subjects are seen once: no tuple per sighting.
 */
type Sightings = (number | string)[];
const SWEEP_EVERY_MS = 3_600_000;
const UNKNOWN: ReadonlySet<IdentityKind> = new Set(['unknown']);

/**
 * 陌生人频繁出入: an unregistered subject (plate, card, face identity) seen ≥ count times within
 * the window. Sightings closer together than `minGapMinutes` count once (one passage often yields a
 * face capture and a card swipe). Give the rule a night schedule to count only night sightings.
 */
export const frequentStranger = defineRule({
  type: 'frequent-stranger',
  title: '陌生人频繁出入',
  params: z
    .object({
      count: z.number().int().min(2).max(1000).default(3),
      windowHours: z.number().positive().max(24 * 90).default(24),
      minGapMinutes: z.number().min(0).max(1440).default(10),
      subjects: z.array(z.enum(['plate', 'card', 'face'])).min(1).default(['plate', 'card', 'face']),
      eventTypes: z
        .array(z.enum(EVENT_TYPES))
        .min(1)
        .default(['access.granted', 'access.denied', 'face.captured', 'plate.captured', 'doorplate.scan'] as EventType[]),
    })
    .strict(),
  defaults: { severity: 'medium', category: 'police', cooldownSeconds: 6 * 3600 },
  // One key per unknown plate, card or face: rebuilt from the stored events of the window.
  rebuildLookbackMs: (p) => p.windowHours * 3_600_000,
  create(rule, ctx) {
    const { count, minGapMinutes } = rule.params;
    const windowMs = rule.params.windowHours * 3_600_000;
    const gapMs = minGapMinutes * 60_000;
    const kinds = new Set(rule.params.subjects);
    const [byCard, byPlate, byFace] = [kinds.has('card'), kinds.has('plate'), kinds.has('face')];
    const types = new Set(rule.params.eventTypes);
    const state = ctx.state;
    return {
      eventTypes: types,
      identityKinds: UNKNOWN,
      start() {
        if (!ctx.timers.has('sweep')) ctx.timers.at('sweep', ctx.clock.now() + SWEEP_EVERY_MS);
      },
      onTimer(key) {
        if (key !== 'sweep') return;
        const oldest = ctx.clock.now() - windowMs;
        for (const [key, hits] of state.entries<Sightings>('s:')) if ((hits[hits.length - 2] as number) <= oldest) state.delete(key);
        ctx.timers.at('sweep', ctx.clock.now() + SWEEP_EVERY_MS);
      },
      onEvent(event) {
        if (!types.has(event.type) || event.identity?.kind !== 'unknown') return;
        const refs = event.subjects;
        // `s:` + the subject as subjectKey names it, over the kinds this rule counts.
        const key = presentedKey(refs, byCard, byPlate, byFace, 's:');
        if (key === undefined) return;
        const now = eventMs(event);
        let hits = state.get<Sightings>(key);
        if (hits === undefined) state.set(key, (hits = []));
        else {
          // Sightings that left the window go from the front.
          let n = 0;
          while (n < hits.length && (hits[n] as number) <= now - windowMs) n += 2;
          if (n > 0) hits.splice(0, n);
        }
        if (hits.length > 0 && now - (hits[hits.length - 2] as number) < gapMs) return;
        hits.push(now, event.id);
        if (hits.length / 2 < count) return;
        const subject = key.slice(2);
        const evidence: string[] = [];
        for (let i = 1; i < hits.length; i += 2) evidence.push(hits[i] as string);
        ctx.raise({
          message: `${subject.startsWith('plate:') ? `陌生车辆 ${subject.slice(6)}` : `陌生人员(${subjectLabel(subject)})`} ${rule.params.windowHours} 小时内第 ${evidence.length} 次出现 (阈值 ${count} 次), 最近 ${hhmm(now)} 于 ${event.place.label}`,
          details: { thresholds: { count, windowHours: rule.params.windowHours, minGapMinutes }, sightings: evidence.length, subject },
          mergeKey: subject,
          evidence,
          ...whereOf(event),
          subject: { refs, ...(event.identity ? { identity: event.identity } : {}) },
        });
      },
    };
  },
});

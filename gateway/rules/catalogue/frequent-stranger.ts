import { z } from 'zod';
import { EVENT_TYPES, type EventType, type IdentityKind } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { dropUntil, eventMs, subjectKey, subjectLabel, whereOf } from '../subjects.ts';

type Hit = [ms: number, eventId: string];
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
        for (const [k, hits] of state.entries<Hit[]>('s:')) if (hits[hits.length - 1]![0] <= oldest) state.delete(k);
        ctx.timers.at('sweep', ctx.clock.now() + SWEEP_EVERY_MS);
      },
      onEvent(event) {
        if (!types.has(event.type) || event.identity?.kind !== 'unknown') return;
        const refs = event.subjects;
        const subject = subjectKey({
          ...(refs.plate && kinds.has('plate') ? { plate: refs.plate } : {}),
          ...(refs.cardNo && kinds.has('card') ? { cardNo: refs.cardNo } : {}),
          ...(refs.faceId && kinds.has('face') ? { faceId: refs.faceId } : {}),
        });
        if (!subject) return;
        const now = eventMs(event);
        const key = `s:${subject}`;
        let hits = state.get<Hit[]>(key);
        if (hits === undefined) state.set(key, (hits = []));
        else dropUntil(hits, now - windowMs);
        const last = hits[hits.length - 1];
        if (last && now - last[0] < gapMs) return;
        hits.push([now, event.id]);
        if (hits.length < count) return;
        ctx.raise({
          message: `${subject.startsWith('plate:') ? `陌生车辆 ${subject.slice(6)}` : `陌生人员(${subjectLabel(subject)})`} ${rule.params.windowHours} 小时内第 ${hits.length} 次出现 (阈值 ${count} 次), 最近 ${hhmm(now)} 于 ${event.place.label}`,
          details: { thresholds: { count, windowHours: rule.params.windowHours, minGapMinutes }, sightings: hits.length, subject },
          mergeKey: subject,
          evidence: hits.map((h) => h[1]),
          ...whereOf(event),
          subject: { refs, ...(event.identity ? { identity: event.identity } : {}) },
        });
      },
    };
  },
});

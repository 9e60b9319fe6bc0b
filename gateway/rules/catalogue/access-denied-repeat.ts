import { z } from 'zod';
import { defineRule } from '../rule-types.ts';

/** 多次刷卡被拒: N denied attempts at one door (by one credential, when known) within T minutes. */
export const accessDeniedRepeat = defineRule({
  type: 'access-denied-repeat',
  title: '多次刷卡被拒',
  params: z
    .object({
      count: z.number().int().min(2).max(1000).default(5),
      windowMinutes: z.number().positive().max(1440).default(2),
    })
    .strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 600 },
  create(rule, ctx) {
    const windows = new Map<string, { at: number; eventId: string }[]>();
    const windowMs = rule.params.windowMinutes * 60_000;
    return {
      onEvent(event) {
        if (event.type !== 'access.denied') return;
        const credential = event.subjects.cardNo ?? event.subjects.plate ?? event.subjects.faceId ?? '';
        const key = `${event.deviceId}|${credential}`;
        const now = ctx.clock.now();
        const hits = (windows.get(key) ?? []).filter((h) => h.at > now - windowMs);
        hits.push({ at: now, eventId: event.id });
        if (hits.length < rule.params.count) {
          windows.set(key, hits);
          return;
        }
        windows.delete(key);
        ctx.raise({
          message: `${event.place.label} ${rule.params.windowMinutes} 分钟内 ${hits.length} 次验证被拒${credential ? ` (凭证 ${credential})` : ''}`,
          details: { threshold: rule.params.count, windowMinutes: rule.params.windowMinutes, count: hits.length },
          mergeKey: key,
          evidence: hits.map((h) => h.eventId),
          deviceId: event.deviceId,
          place: event.place,
          codes: event.codes,
          subject: credential ? { refs: event.subjects, ...(event.identity ? { identity: event.identity } : {}) } : null,
        });
      },
      stop() {
        windows.clear();
      },
    };
  },
});

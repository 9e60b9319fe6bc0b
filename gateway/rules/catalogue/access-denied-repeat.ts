import { z } from 'zod';
import { defineRule } from '../rule-types.ts';
import { credentialKey, dropUntil, eventMs, subjectLabel, whereOf } from '../subjects.ts';

type Hit = [ms: number, eventId: string];

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
  // One key per door and credential tried: rebuilt from the stored events of the window.
  rebuildLookbackMs: (p) => p.windowMinutes * 60_000,
  create(rule, ctx) {
    const windowMs = rule.params.windowMinutes * 60_000;
    const state = ctx.state;
    // Windows of credentials that never reach the count would otherwise stay in memory for good.
    let sweptAt = -Infinity;
    const sweep = (now: number) => {
      sweptAt = now;
      for (const [key, hits] of state.entries<Hit[]>('w:')) if (hits[hits.length - 1]![0] <= now - windowMs) state.delete(key);
    };
    return {
      eventTypes: new Set(['access.denied'] as const),
      start() {
        // Windows are minutes long: whatever is older than one window at start is of no use.
        sweep(ctx.clock.now());
      },
      onEvent(event) {
        if (event.type !== 'access.denied') return;
        const credential = credentialKey(event.subjects) ?? '';
        const key = `w:${event.deviceId}|${credential}`;
        const now = eventMs(event);
        if (now - sweptAt >= windowMs) sweep(now);
        let hits = state.get<Hit[]>(key);
        if (hits === undefined) state.set(key, (hits = []));
        else dropUntil(hits, now - windowMs);
        hits.push([now, event.id]);
        if (hits.length < rule.params.count) return;
        state.delete(key);
        ctx.raise({
          message: `${event.place.label} ${rule.params.windowMinutes} 分钟内 ${hits.length} 次验证被拒${credential ? ` (${subjectLabel(credential)})` : ''} (阈值 ${rule.params.count} 次)`,
          details: { thresholds: { count: rule.params.count, windowMinutes: rule.params.windowMinutes }, count: hits.length },
          mergeKey: key.slice(2),
          evidence: hits.map((h) => h[1]),
          ...whereOf(event),
          subject: credential ? { refs: event.subjects, ...(event.identity ? { identity: event.identity } : {}) } : null,
        });
      },
    };
  },
});

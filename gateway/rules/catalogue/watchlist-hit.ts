import { z } from 'zod';
import type { IdentityKind } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';
import { watchAt } from '../watch-scope.ts';

const WATCHLISTED: ReadonlySet<IdentityKind> = new Set(['watchlisted']);

const SUBJECT_NAMES = { card: '卡号', plate: '车牌', person: '人员', face: '人脸' } as const;

/** 布控命中: a watchlisted subject seen inside the circle within the entry's validity. */
export const watchlistHit = defineRule({
  type: 'watchlist-hit',
  title: '布控命中',
  params: z.object({}).strict(),
  defaults: { severity: 'high', category: 'police', cooldownSeconds: 600 },
  create(rule, ctx) {
    return {
      // Any event type can carry a watchlisted subject; only those events are worth a call.
      identityKinds: WATCHLISTED,
      onEvent(event) {
        const identity = event.identity;
        if (identity?.kind !== 'watchlisted' || !identity.watch) return;
        const hit = watchAt(ctx.identifier, event, identity);
        if (!hit) return;
        const watch = { entryId: hit.entry.id, level: hit.entry.level, reason: hit.entry.reason };
        const { by } = hit;
        const who =
          by === 'plate'
            ? `布控车辆 ${event.subjects.plate}`
            : identity.name
              ? `重点人员 ${identity.name}`
              : `重点人员(${SUBJECT_NAMES[by]} ${event.subjects.cardNo ?? event.subjects.faceId ?? event.subjects.personId ?? ''})`;
        ctx.raise({
          severity: watch.level,
          message: `${who}(布控:${watch.reason}) 于 ${hhmm(eventMs(event))} 出现在 ${event.place.label}`,
          details: { watchEntry: watch.entryId, level: watch.level, reason: watch.reason, matchedBy: by },
          mergeKey: `${watch.entryId}|${event.place.gate ?? event.deviceId}`,
          evidence: [event.id],
          ...whereOf(event),
          subject: { refs: event.subjects, identity: { ...identity, matchedBy: by, watch } },
        });
        void rule;
      },
    };
  },
});

import { z } from 'zod';
import type { DeviceEvent, Identity, IdentityKind, WatchLevel } from '../../core/model.ts';
import type { Identifier } from '../../identify/identifier.ts';
import { normalizePlate, type WatchRecord } from '../../store/registry.ts';
import { hhmm, inScope } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';

const LEVEL_RANK: Record<WatchLevel, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** Entries from a platform watchlist.upsert may carry a circle (触圈) scope, stored with the record. */
type ScopedWatch = WatchRecord & { scope?: Parameters<typeof inScope>[0] };

function matchesSubject(entry: WatchRecord, event: DeviceEvent, identity: Identity): boolean {
  const refs = event.subjects;
  switch (entry.subjectType) {
    case 'card':
      return refs.cardNo !== undefined && refs.cardNo.trim() === entry.subjectValue.trim();
    case 'plate':
      return refs.plate !== undefined && normalizePlate(refs.plate) === normalizePlate(entry.subjectValue);
    case 'face':
      return refs.faceId !== undefined && refs.faceId === entry.subjectValue;
    case 'person':
      return entry.subjectValue === refs.personId || entry.subjectValue === identity.personId;
  }
}

/**
 * The watch entry this hit is about, honouring circle scopes. Identification knows who the subject
 * is, not where: it reports the highest-level entry, scoped or not. A scoped entry only fires
 * inside its circle; outside it, the best other entry for the same subject that is in scope and
 * valid fires instead, or nothing does. (Only watchlisted events get here, so the scan is rare.)
 */
function watchAt(identifier: Identifier, event: DeviceEvent, identity: Identity): { entry: Pick<WatchRecord, 'id' | 'level' | 'reason'>; by: NonNullable<Identity['matchedBy']> } | null {
  const watch = identity.watch!;
  const by = identity.matchedBy ?? 'person';
  const entries = identifier.watchEntries() as ScopedWatch[];
  const reported = entries.find((e) => e.id === watch.entryId);
  if (!reported?.scope || inScope(reported.scope, event)) return { entry: { id: watch.entryId, level: watch.level, reason: watch.reason }, by };
  const ms = eventMs(event);
  let best: ScopedWatch | undefined;
  for (const e of entries) {
    if (e.id === reported.id || (e.validFromMs !== null && ms < e.validFromMs) || (e.validToMs !== null && ms > e.validToMs)) continue;
    if (!matchesSubject(e, event, identity) || (e.scope && !inScope(e.scope, event))) continue;
    if (!best || LEVEL_RANK[e.level] < LEVEL_RANK[best.level]) best = e;
  }
  return best ? { entry: best, by: best.subjectType } : null;
}

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

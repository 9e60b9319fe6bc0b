import type { DeviceEvent, Identity, SubjectRefs, WatchLevel } from '../core/model.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';
import { normalizePlate, type WatchRecord } from '../store/registry.ts';
import { inScope } from './circle.ts';
import { eventMs } from './subjects.ts';

/** Where and when a subject was seen: an event, or a card held to a reader. */
export type WatchWhere = Pick<DeviceEvent, 'deviceId' | 'place' | 'subjects' | 'receivedAt'>;

const LEVEL_RANK: Record<WatchLevel, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** Entries from a platform watchlist.upsert may carry a circle (触圈) scope, stored with the record. */
type ScopedWatch = WatchRecord & { scope?: Parameters<typeof inScope>[0] };

function matchesSubject(entry: WatchRecord, event: WatchWhere, identity: Identity): boolean {
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
export function watchAt(identifier: Identifier, event: WatchWhere, identity: Identity): { entry: Pick<WatchRecord, 'id' | 'level' | 'reason'>; by: NonNullable<Identity['matchedBy']> } | null {
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

/**
 * The identity an access decision at `deviceId` should act on. A watch entry with a circle
 * (触圈) scope applies only inside its circle: there the subject is watchlisted (with the entry
 * that applies); outside every circle of its entries, it is what the registry alone says (a
 * resident's card still opens the doors of their building). The event the reader then sends
 * is identified as usual, and the watchlist-hit rule applies the same circles to it.
 */
export function identityForAccess(identifier: Identifier, site: SiteModel, refs: SubjectRefs, deviceId: string, nowMs: number): Identity | undefined {
  const identity = identifier.identify(refs, nowMs);
  if (identity?.kind !== 'watchlisted' || !identity.watch) return identity;
  const where: WatchWhere = { deviceId, place: site.placeOf(deviceId).place, subjects: refs, receivedAt: new Date(nowMs).toISOString() };
  const hit = watchAt(identifier, where, identity);
  if (hit) return { ...identity, matchedBy: hit.by, watch: { entryId: hit.entry.id, level: hit.entry.level, reason: hit.entry.reason } };
  return identifier.identify(refs, nowMs, { watchlist: false });
}

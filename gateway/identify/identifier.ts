import type { GatewayConfig } from '../../config/schema/index.ts';
import type { Identity, SubjectRefs, WatchLevel } from '../core/model.ts';
import { normalizePlate, type PersonRecord, type RegistryRepo, type WatchRecord } from '../store/registry.ts';

/** A feature vector → the enrolled face id it matches at the configured threshold, or null. */
export type FaceMatcher = (feature: readonly number[]) => string | null;

const LEVEL_RANK: Record<WatchLevel, number> = { critical: 0, high: 1, medium: 2, low: 3 };

const toMs = (iso?: string) => (iso ? Date.parse(iso) : null);
const within = (nowMs: number, from: number | null, to: number | null) => (from === null || nowMs >= from) && (to === null || nowMs <= to);

/**
 * Resolves the subject references an event carries against the registry (一标三实) and the
 * watchlist (布控). Lookups are in-memory maps kept in step with SQLite by every write through
 * this class, so identify costs a few map reads per event.
 */
export class Identifier {
  private persons = new Map<string, PersonRecord>();
  private credentials = new Map<string, string>(); // `${type}:${value}` → person id
  private watch = new Map<string, WatchRecord[]>(); // `${type}:${value}` → entries

  private faceMatcher: FaceMatcher | null = null;

  constructor(private readonly repo: RegistryRepo) {}

  /**
   * Lets events that carry a camera-side feature vector (subjects.feature) be matched 1:N against
   * the face gallery, as the camera intake matches its own embeddings. Events without a feature
   * never reach the matcher, so identify stays a few map reads for them.
   */
  useFaceMatcher(matcher: FaceMatcher | null): void {
    this.faceMatcher = matcher;
  }

  /** Loads the in-memory index from SQLite. */
  load(): void {
    this.persons.clear();
    this.credentials.clear();
    this.watch.clear();
    for (const p of this.repo.persons()) this.indexPerson(p);
    for (const w of this.repo.watchlist()) this.indexWatch(w);
  }

  /** Writes the config's registry and watchlist seed into SQLite (inside a write) and indexes it. */
  seed(config: GatewayConfig): void {
    for (const r of config.registry.residents) {
      this.upsertPerson({
        id: r.id,
        kind: 'resident',
        name: r.name,
        care: r.care,
        houses: r.houses,
        relation: r.relation,
        validFromMs: null,
        validToMs: null,
        credentials: [...r.cards.map((value) => ({ type: 'card' as const, value })), ...r.plates.map((value) => ({ type: 'plate' as const, value }))],
      });
    }
    for (const v of config.registry.visitors) {
      this.upsertPerson({
        id: v.id,
        kind: 'visitor',
        name: v.name,
        care: false,
        houses: v.host ? [v.host] : [],
        validFromMs: toMs(v.validFrom),
        validToMs: toMs(v.validTo),
        credentials: [...v.cards.map((value) => ({ type: 'card' as const, value })), ...v.plates.map((value) => ({ type: 'plate' as const, value }))],
      });
    }
    for (const w of config.watchlist) {
      this.upsertWatch({
        id: w.id,
        subjectType: w.subject.type,
        subjectValue: w.subject.value,
        level: w.level,
        reason: w.reason,
        validFromMs: toMs(w.validFrom),
        validToMs: toMs(w.validTo),
      });
    }
  }

  /** Call inside a store write so the index and SQLite change together. */
  upsertPerson(p: PersonRecord): void {
    const old = this.persons.get(p.id);
    if (old) this.unindexPerson(old);
    this.repo.savePerson(p);
    this.indexPerson(p);
  }

  removePerson(id: string): void {
    const old = this.persons.get(id);
    if (old) this.unindexPerson(old);
    this.repo.deletePerson(id);
  }

  upsertWatch(w: WatchRecord): void {
    this.removeWatchFromIndex(w.id);
    this.repo.saveWatch(w);
    this.indexWatch(w);
  }

  removeWatch(id: string): void {
    this.removeWatchFromIndex(id);
    this.repo.deleteWatch(id);
  }

  person(id: string): PersonRecord | undefined {
    return this.persons.get(id);
  }

  allPersons(): IterableIterator<PersonRecord> {
    return this.persons.values();
  }

  watchEntries(): WatchRecord[] {
    return [...this.watch.values()].flat();
  }

  identify(refs: SubjectRefs, nowMs: number): Identity | undefined {
    const keys: [Identity['matchedBy'] & string, string][] = [];
    if (refs.cardNo) keys.push(['card', `card:${refs.cardNo.trim()}`]);
    if (refs.plate) keys.push(['plate', `plate:${normalizePlate(refs.plate)}`]);
    if (refs.faceId) keys.push(['face', `face:${refs.faceId}`]);
    else if (refs.feature && this.faceMatcher) {
      const faceId = this.faceMatcher(refs.feature);
      if (faceId) keys.push(['face', `face:${faceId}`]);
    }
    if (refs.personId) keys.push(['person', `person:${refs.personId}`]);
    if (keys.length === 0) return undefined;

    // The person a credential belongs to is itself watchable by person id.
    let person: PersonRecord | undefined;
    let matchedBy: Identity['matchedBy'];
    for (const [by, key] of keys) {
      const pid = by === 'person' ? key.slice(7) : this.credentials.get(key);
      const p = pid ? this.persons.get(pid) : undefined;
      if (p) {
        person = p;
        matchedBy = by;
        break;
      }
    }
    const watchKeys = keys.map(([, k]) => k);
    if (person) watchKeys.push(`person:${person.id}`);

    let best: WatchRecord | undefined;
    let bestBy: Identity['matchedBy'];
    for (const key of watchKeys) {
      for (const entry of this.watch.get(key) ?? []) {
        if (!within(nowMs, entry.validFromMs, entry.validToMs)) continue;
        if (!best || LEVEL_RANK[entry.level] < LEVEL_RANK[best.level]) {
          best = entry;
          bestBy = key.slice(0, key.indexOf(':')) as Identity['matchedBy'];
        }
      }
    }
    if (best) {
      const identity: Identity = { kind: 'watchlisted', matchedBy: bestBy, watch: { entryId: best.id, level: best.level, reason: best.reason } };
      if (person) Object.assign(identity, { personId: person.id, name: person.name, houseIds: person.houses });
      return identity;
    }
    if (person) {
      const valid = person.kind === 'resident' || within(nowMs, person.validFromMs, person.validToMs);
      if (valid) {
        const identity: Identity = { kind: person.kind, matchedBy, personId: person.id, name: person.name, houseIds: person.houses };
        if (person.care) identity.care = true;
        return identity;
      }
    }
    return { kind: 'unknown' };
  }

  private indexPerson(p: PersonRecord): void {
    this.persons.set(p.id, p);
    for (const c of p.credentials) this.credentials.set(`${c.type}:${c.type === 'plate' ? normalizePlate(c.value) : c.value.trim()}`, p.id);
  }

  private unindexPerson(p: PersonRecord): void {
    this.persons.delete(p.id);
    for (const c of p.credentials) {
      const key = `${c.type}:${c.type === 'plate' ? normalizePlate(c.value) : c.value.trim()}`;
      if (this.credentials.get(key) === p.id) this.credentials.delete(key);
    }
  }

  private indexWatch(w: WatchRecord): void {
    const key = `${w.subjectType}:${w.subjectType === 'plate' ? normalizePlate(w.subjectValue) : w.subjectValue.trim()}`;
    const list = this.watch.get(key) ?? [];
    list.push(w);
    this.watch.set(key, list);
  }

  private removeWatchFromIndex(id: string): void {
    for (const [key, list] of this.watch) {
      const kept = list.filter((w) => w.id !== id);
      if (kept.length === list.length) continue;
      if (kept.length) this.watch.set(key, kept);
      else this.watch.delete(key);
    }
  }
}

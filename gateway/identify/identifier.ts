import type { GatewayConfig } from '../../config/schema/index.ts';
import type { Identity, SubjectRefs, WatchLevel } from '../core/model.ts';
import { normalizeCredential, normalizePlate, type CredentialType, type PersonRecord, type RegistryRepo, type WatchRecord } from '../store/registry.ts';
import { RegistryIdentity, type RegistrySlots } from './registry-identity.ts';

/** A feature vector → the enrolled face id it matches at the configured threshold, or null. */
export type FaceMatcher = (feature: readonly number[]) => string | null;

const LEVEL_RANK: Record<WatchLevel, number> = { critical: 0, high: 1, medium: 2, low: 3 };

const NO_WATCH: Record<WatchRecord['subjectType'], Map<string, WatchRecord[]>> = { card: new Map(), plate: new Map(), face: new Map(), person: new Map() };

/**
 * The index's own copy of a person record, with the person's RegistrySlots in a private field
 * (invisible to JSON and to equality, like RegistryIdentity's). A class rather than the record
 * with a property added: every copy has one shape, which identify reads on every event.
 */
class IndexedPerson implements PersonRecord, RegistrySlots {
  readonly id: string;
  readonly kind: PersonRecord['kind'];
  readonly name: string;
  readonly care: boolean;
  readonly houses: string[];
  readonly validFromMs: number | null;
  readonly validToMs: number | null;
  readonly credentials: PersonRecord['credentials'];
  declare readonly relation?: string;
  // Numbers inline rather than an object of them: a rule reads them right after identify read the
  // record, from the same cache lines, where a separate object would be one more miss per event.
  readonly #person: number;
  readonly #house: number;
  readonly #otherHouses: readonly number[];
  readonly #card: number;
  readonly #plate: number;
  readonly #face: number;

  constructor(record: PersonRecord, slots: RegistrySlots) {
    this.id = record.id;
    this.kind = record.kind;
    this.name = record.name;
    this.care = record.care;
    this.houses = record.houses;
    this.validFromMs = record.validFromMs;
    this.validToMs = record.validToMs;
    this.credentials = record.credentials;
    this.#person = slots.person;
    this.#house = slots.house;
    this.#otherHouses = slots.otherHouses;
    this.#card = slots.card;
    this.#plate = slots.plate;
    this.#face = slots.face;
    if (record.relation !== undefined) (this as { relation?: string }).relation = record.relation;
  }

  // RegistrySlots, as accessors: not own properties, so not in a copy, JSON or equality of the record.
  get person(): number {
    return this.#person;
  }
  get house(): number {
    return this.#house;
  }
  get otherHouses(): readonly number[] {
    return this.#otherHouses;
  }
  get card(): number {
    return this.#card;
  }
  get plate(): number {
    return this.#plate;
  }
  get face(): number {
    return this.#face;
  }
}

const NO_HOUSES: readonly number[] = Object.freeze([]);

/** Ids numbered 0, 1, 2… in the order first given, both ways (see RegistrySlots). */
class SlotTable {
  private slots = new Map<string, number>();
  private ids: string[] = [];

  slotOf(id: string): number | undefined {
    return this.slots.get(id);
  }

  /** The id's number, given now if it has none. */
  give(id: string): number {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.ids.length;
      this.slots.set(id, slot);
      this.ids.push(id);
    }
    return slot;
  }

  idOf(slot: number): string | undefined {
    return this.ids[slot];
  }
}

const toMs = (iso?: string) => (iso ? Date.parse(iso) : null);
/** The valid entry of a higher level than `best` among `entries` (the first of a level wins), else `best`. */
function bestEntry(entries: WatchRecord[] | undefined, nowMs: number, best: WatchRecord | undefined): WatchRecord | undefined {
  if (entries === undefined) return best;
  for (const entry of entries) {
    if (!within(nowMs, entry.validFromMs, entry.validToMs)) continue;
    if (!best || LEVEL_RANK[entry.level] < LEVEL_RANK[best.level]) best = entry;
  }
  return best;
}

const within = (nowMs: number, from: number | null, to: number | null) => (from === null || nowMs >= from) && (to === null || nowMs <= to);

/**
 * Resolves the subject references an event carries against the registry (一标三实) and the
 * watchlist (布控). Lookups are in-memory maps kept in step with SQLite by every write through
 * this class, so identify costs a few map reads per event.
 */
export class Identifier {
  private persons = new Map<string, IndexedPerson>();
  /**
   * One map per credential type (normalised value → the person's current record) and per watched
   * subject type (normalised value → entries): identify looks the event's own strings up as they
   * are, with no `type:value` key built per reference and no second lookup by person id.
   */
  private credentials: Record<CredentialType, Map<string, IndexedPerson>> = { card: new Map(), plate: new Map(), face: new Map() };
  /**
   * Dense numbers for houses, persons and credentials (RegistrySlots), given on first sight and
   * kept for the life of the process, whatever the registry does later: a rule's arrays indexed by
   * them never see a number change meaning. They grow only with what was ever registered (and the
   * houses of the site's doorplates).
   */
  private houseSlots = new SlotTable();
  private personSlots = new SlotTable();
  /** Credentials of every type share one numbering (one counter array per rule, whatever the type). */
  private credentialSlots: Record<CredentialType, Map<string, number>> = { card: new Map(), plate: new Map(), face: new Map() };
  private credentialCount = 0;
  private watch: Record<WatchRecord['subjectType'], Map<string, WatchRecord[]>> = { card: new Map(), plate: new Map(), face: new Map(), person: new Map() };
  /** watchEntries(), flattened once per change of the watchlist rather than once per watchlist hit. */
  private watchList: WatchRecord[] | null = null;
  /** The last plate normalised and its normal form: one event's plate is looked up more than once. */
  private lastPlate = '';
  private lastPlateNormal = '';

  private faceMatcher: FaceMatcher | null = null;
  private changes = 0;

  /** Changes with every change to the registry or watchlist, so callers can cache what they derive from it. */
  get version(): number {
    return this.changes;
  }

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
    this.changes++;
    this.persons.clear();
    for (const map of Object.values(this.credentials)) map.clear();
    for (const map of Object.values(this.watch)) map.clear();
    this.watchList = null;
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

  /** Every watch entry (a copy: callers may keep or change it). */
  watchEntries(): WatchRecord[] {
    this.watchList ??= Object.values(this.watch).flatMap((map) => [...map.values()].flat());
    return this.watchList.slice();
  }

  /** The dense number of a house id (see RegistrySlots), given now if the house has none yet. */
  houseSlot(houseId: string): number {
    return this.houseSlots.give(houseId);
  }

  /** The dense number of a person id that is or ever was registered in this process; undefined for any other. */
  personSlot(personId: string): number | undefined {
    return this.personSlots.slotOf(personId);
  }

  /** The person id a slot was given to. */
  personIdOfSlot(slot: number): string | undefined {
    return this.personSlots.idOf(slot);
  }

  /** The house id a slot was given to. */
  houseIdOfSlot(slot: number): string | undefined {
    return this.houseSlots.idOf(slot);
  }

  /**
   * The dense number of a normalised credential that is or ever was registered in this process;
   * undefined for one never registered (a stranger's card), which has no number.
   */
  credentialSlot(type: CredentialType, value: string): number | undefined {
    return this.credentialSlots[type].get(value);
  }

  /** How many credential slots have been given: it grows exactly when a credential gets its first. */
  get credentialSlotCount(): number {
    return this.credentialCount;
  }

  /**
   * Who the event's subject is: the first reference that resolves to a registered person (card,
   * plate, face, person id, in that order), and the highest-level valid watch entry on any of the
   * references or on that person (the first one found wins a tie).
   */
  identify(refs: SubjectRefs, nowMs: number, options: { watchlist?: boolean } = {}): Identity | undefined {
    const card = refs.cardNo ? refs.cardNo.trim() : undefined;
    const plate = refs.plate ? this.normalPlate(refs.plate) : undefined;
    let face: string | undefined;
    if (refs.faceId) face = refs.faceId;
    else if (refs.feature && this.faceMatcher) face = this.faceMatcher(refs.feature) || undefined;
    const personRef = refs.personId || undefined;
    if (card === undefined && plate === undefined && face === undefined && personRef === undefined) return undefined;

    // The person a credential belongs to is itself watchable by person id.
    let person: IndexedPerson | undefined;
    let matchedBy: Identity['matchedBy'];
    if (card !== undefined) person = this.credentials.card.get(card);
    if (person) matchedBy = 'card';
    else if (plate !== undefined && (person = this.credentials.plate.get(plate))) matchedBy = 'plate';
    else if (face !== undefined && (person = this.credentials.face.get(face))) matchedBy = 'face';
    else if (personRef !== undefined && (person = this.persons.get(personRef))) matchedBy = 'person';

    let best: WatchRecord | undefined;
    let bestBy: Identity['matchedBy'];
    let better: WatchRecord | undefined;
    // `watchlist: false`: as the registry alone knows the subject (see rules/watch-scope.ts).
    const watch = options.watchlist === false ? NO_WATCH : this.watch;
    if (card !== undefined && (better = bestEntry(watch.card.get(card), nowMs, best)) !== best) [best, bestBy] = [better, 'card'];
    if (plate !== undefined && (better = bestEntry(watch.plate.get(plate), nowMs, best)) !== best) [best, bestBy] = [better, 'plate'];
    if (face !== undefined && (better = bestEntry(watch.face.get(face), nowMs, best)) !== best) [best, bestBy] = [better, 'face'];
    if (personRef !== undefined && (better = bestEntry(watch.person.get(personRef), nowMs, best)) !== best) [best, bestBy] = [better, 'person'];
    // Skipped when no person is watched: hashing the id would read one more string per event.
    if (person && watch.person.size !== 0 && (better = bestEntry(watch.person.get(person.id), nowMs, best)) !== best) [best, bestBy] = [better, 'person'];
    if (best) {
      const identity = person
        ? new RegistryIdentity('watchlisted', bestBy, person.id, person.name, person.houses, person)
        : new RegistryIdentity('watchlisted', bestBy);
      identity.watch = { entryId: best.id, level: best.level, reason: best.reason };
      return identity;
    }
    if (person) {
      const valid = person.kind === 'resident' || within(nowMs, person.validFromMs, person.validToMs);
      if (valid) {
        const identity = new RegistryIdentity(person.kind, matchedBy, person.id, person.name, person.houses, person);
        if (person.care) identity.care = true;
        return identity;
      }
    }
    return { kind: 'unknown' };
  }

  private normalPlate(plate: string): string {
    if (plate !== this.lastPlate) {
      this.lastPlateNormal = normalizePlate(plate);
      this.lastPlate = plate;
    }
    return this.lastPlateNormal;
  }

  private indexPerson(record: PersonRecord): void {
    this.changes++;
    const single: Record<CredentialType, number> = { card: -1, plate: -1, face: -1 };
    const seen: Record<CredentialType, number> = { card: 0, plate: 0, face: 0 };
    const values = record.credentials.map((c) => normalizeCredential(c.type, c.value));
    record.credentials.forEach((c, i) => {
      const slot = this.giveCredentialSlot(c.type, values[i]!);
      single[c.type] = seen[c.type]++ === 0 ? slot : -1;
    });
    const houses = record.houses.map((h) => this.houseSlot(h));
    const slots: RegistrySlots = { person: this.personSlots.give(record.id), house: houses[0] ?? -1, otherHouses: houses.length > 1 ? houses.slice(1) : NO_HOUSES, ...single };
    const p = new IndexedPerson(record, slots);
    this.persons.set(p.id, p);
    record.credentials.forEach((c, i) => this.credentials[c.type].set(values[i]!, p));
  }

  private giveCredentialSlot(type: CredentialType, value: string): number {
    const slots = this.credentialSlots[type];
    let slot = slots.get(value);
    if (slot === undefined) slots.set(value, (slot = this.credentialCount++));
    return slot;
  }

  private unindexPerson(p: PersonRecord): void {
    this.changes++;
    this.persons.delete(p.id);
    for (const c of p.credentials) {
      const map = this.credentials[c.type];
      const value = normalizeCredential(c.type, c.value);
      if (map.get(value)?.id === p.id) map.delete(value);
    }
  }

  private indexWatch(w: WatchRecord): void {
    this.changes++;
    this.watchList = null;
    const map = this.watch[w.subjectType];
    const value = normalizeCredential(w.subjectType, w.subjectValue);
    const list = map.get(value) ?? [];
    list.push(w);
    map.set(value, list);
  }

  private removeWatchFromIndex(id: string): void {
    this.changes++;
    this.watchList = null;
    for (const map of Object.values(this.watch)) {
      for (const [value, list] of map) {
        const kept = list.filter((w) => w.id !== id);
        if (kept.length === list.length) continue;
        if (kept.length) map.set(value, kept);
        else map.delete(value);
      }
    }
  }
}

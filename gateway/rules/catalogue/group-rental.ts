import { z } from 'zod';
import { EVENT_TYPES, type DeviceEvent, type EventType } from '../../core/model.ts';
import { RegistryIdentity } from '../../identify/registry-identity.ts';
import { normalizePlate, type CredentialType } from '../../store/registry.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, housePlace, housesEntered, localDay, previousDay, subjectLabel } from '../subjects.ts';

/**
 * Who entered a crowded house (see INLINE) within the window, as one flat array of (entrant kind,
 * entrant value, last entry second, its event id) quadruples scanned linearly: a house has a
 * handful of entrants. The scan's cost is memory, not arithmetic: with 20,000 houses nearly every
 * event reads a house that is not in the CPU's cache, and each further object (a separate column,
 * a heap number per time) is one more wait for memory. Times are whole seconds since
 * ENTRY_EPOCH_MS, small integers; a window of days loses nothing by it. An entrant is a person
 * (kind PERSON, by id) or a credential, as `subjectKey` would name it.
 */
type Entrants = (string | number)[];
const STRIDE = 4;
/**
 * A house's entrants are kept inline, in one typed array for all houses (INLINE cells of [person
 * slot, entry second] per house: one or two cache lines, where a house's own array is two objects
 * to reach), while every entrant is a registered person and there are at most INLINE of them.
 * A house that gets a credential entrant (an unregistered card at its doorplate) or more entrants
 * moves to an Entrants array, as above, and stays there until the sweep empties it.
 */
const INLINE = 8;
/** In a house's first cell's second: the house's entrants are in `crowded` (an Entrants array). */
const CROWDED = -1;
const ENTRY_EPOCH_MS = Date.UTC(2020, 0, 1);
const entrySecond = (ms: number) => Math.floor((ms - ENTRY_EPOCH_MS) / 1000);

/**
 * Subjects by kind and value rather than by a `card:1001` string built per event: the string is
 * made only for an alert. PERSON is both an identified person and a bare person-id credential,
 * which are the same entrant.
 */
const PERSON = 0;
const KIND_PREFIX = ['person:', 'card:', 'plate:', 'face:'] as const;
/** The registry's credential type of each kind (PERSON has none: a bare person id has no credential slot). */
const KIND_TYPE: (CredentialType | null)[] = [null, 'card', 'plate', 'face'];
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
 * Most credentials are used a few times a day and never come near the limit: they are kept as one
 * number, day × DAY_SCALE + today's uses, with no object at all, until today's uses reach the
 * point where evidence is collected. A day of fewer uses than the limit can never be part of a
 * streak (every day of one must go over), and an alert reports only its streak's days, so such a
 * day is forgotten when the next one begins without changing any alert.
 */
const DAY_SCALE = 16_384;
/** In the per-slot counters: this credential's days are a CredentialDays in `promoted`. */
const PROMOTED = -1;

/** A copy of `counters` with room for `slot` (doubling, so that growing is rare). */
function grown(counters: Int32Array<ArrayBuffer>, slot: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(Math.max(slot + 1, counters.length * 2));
  next.set(counters);
  return next;
}

/** Days since 1970-01-01 of a local day "2026-11-02" (the last answer is kept: one day string per minute). */
let lastDay = '';
let lastDayNumber = 0;
function dayNumber(day: string): number {
  if (day !== lastDay) {
    lastDayNumber = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / 86_400_000;
    lastDay = day;
  }
  return lastDayNumber;
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
    //
    // Houses and registered credentials are indexed by the registry's dense slots (RegistrySlots),
    // which an identity resolved live carries: a passage reads one array element per house and per
    // credential instead of hashing into maps of 20,000 houses and ~100,000 credentials (a few
    // cache misses each: ≈ 0.6 µs of the benchmark's ≈ 5 µs per event).
    // Events replayed from storage carry no slots and look them up (Identifier.houseSlot).
    /** House slot × INLINE → [person slot, entry second] per cell; second 0: a free cell. */
    let cells: Int32Array<ArrayBuffer> = new Int32Array(1024 * INLINE * 2);
    /** The entry's event id of each cell: index `c >> 1` for the cell at `cells[c]`. */
    const cellIds: (string | undefined)[] = [];
    /** House slot → who entered it within the window, for houses marked CROWDED. */
    const crowded: (Entrants | undefined)[] = [];
    /** Credential slot → 0 (no uses kept), day × DAY_SCALE + today's uses, or PROMOTED. */
    let counters: Int32Array<ArrayBuffer> = new Int32Array(1024);
    const promoted = new Map<number, CredentialDays>();
    /**
     * Per credential kind (see KIND_PREFIX): a credential with no slot (never registered: a
     * stranger's card; a bare person id) → its uses per day, as above.
     */
    const credentials = KIND_PREFIX.map(() => new Map<string, number | CredentialDays>());
    /** The credential slots there were when the unslotted credentials were last checked (adoptSlots). */
    let slotsCheckedAt = -1;
    /** A doorplate's house slot, per device (the pipeline hands a device's events one place object). */
    const doorplates = new Map<string, { place: DeviceEvent['place']; slot: number }>();
    // Uses below this never need evidence ids (perDayUses - 3 onwards keep the last 5).
    const packedBelow = Math.min(perDayUses - 3, DAY_SCALE);
    const windowSeconds = Math.round(windowMs / 1000);

    /** `person`: the entrant's person slot, or -1 for an entrant that is not a registered person. */
    const countHouse = (slot: number, person: number, whoKind: number, who: string, event: DeviceEvent, now: number) => {
      const second = entrySecond(now);
      if ((slot + 1) * INLINE * 2 > cells.length) cells = grown(cells, (slot + 1) * INLINE * 2 - 1);
      const base = slot * INLINE * 2;
      if (cells[base + 1] !== CROWDED) {
        if (person >= 0 && countInline(slot, base, person, second, event)) return;
        crowd(slot, base, second);
      }
      const entrants = crowded[slot];
      if (entrants === undefined) {
        // One entrant is never enough (distinctCount ≥ 2).
        crowded[slot] = [whoKind, who, second, event.id];
        return;
      }
      const oldest = second - windowSeconds;
      let kept = 0;
      let found = -1;
      for (let i = 0; i < entrants.length; i += STRIDE) {
        if ((entrants[i + 2] as number) <= oldest) continue;
        if (kept !== i) for (let j = 0; j < STRIDE; j++) entrants[kept + j] = entrants[i + j]!;
        if (entrants[kept] === whoKind && entrants[kept + 1] === who) found = kept;
        kept += STRIDE;
      }
      if (kept !== entrants.length) entrants.length = kept;
      if (found >= 0) {
        entrants[found + 2] = second;
        entrants[found + 3] = event.id;
      } else entrants.push(whoKind, who, second, event.id);
      if (entrants.length / STRIDE < distinctCount) return;
      const distinct: string[] = [];
      const entries: [number, string][] = [];
      for (let i = 0; i < entrants.length; i += STRIDE) {
        distinct.push(KIND_PREFIX[entrants[i] as number] + (entrants[i + 1] as string));
        entries.push([entrants[i + 2] as number, entrants[i + 3] as string]);
      }
      raiseDistinct(slot, distinct, entries, event);
    };

    /** Counts a registered person into an inline house; false when the house's cells are full. */
    const countInline = (slot: number, base: number, person: number, second: number, event: DeviceEvent): boolean => {
      const oldest = second - windowSeconds;
      let free = -1;
      let live = 0;
      let found = -1;
      for (let cell = base; cell < base + INLINE * 2; cell += 2) {
        const at = cells[cell + 1]!;
        if (at <= oldest) {
          if (at !== 0) {
            cells[cell + 1] = 0;
            cellIds[cell >> 1] = undefined;
          }
          if (free < 0) free = cell;
          continue;
        }
        live++;
        if (cells[cell] === person) found = cell;
      }
      if (found < 0) {
        if (free < 0) return false;
        found = free;
        cells[found] = person;
        live++;
      }
      cells[found + 1] = second;
      cellIds[found >> 1] = event.id;
      if (live < distinctCount) return true;
      const distinct: string[] = [];
      const entries: [number, string][] = [];
      for (let cell = base; cell < base + INLINE * 2; cell += 2) {
        if (cells[cell + 1]! <= oldest) continue;
        distinct.push(KIND_PREFIX[PERSON] + ctx.identifier.personIdOfSlot(cells[cell]!)!);
        entries.push([cells[cell + 1]!, cellIds[cell >> 1]!]);
      }
      raiseDistinct(slot, distinct, entries, event);
      return true;
    };

    /** Moves an inline house's entrants to an Entrants array (within the window: `second`'s). */
    const crowd = (slot: number, base: number, second: number) => {
      const oldest = second - windowSeconds;
      const entrants: Entrants = [];
      for (let cell = base; cell < base + INLINE * 2; cell += 2) {
        const at = cells[cell + 1]!;
        if (at > oldest) entrants.push(PERSON, ctx.identifier.personIdOfSlot(cells[cell]!)!, at, cellIds[cell >> 1]!);
        cells[cell] = 0;
        cells[cell + 1] = 0;
        cellIds[cell >> 1] = undefined;
      }
      cells[base + 1] = CROWDED;
      crowded[slot] = entrants.length ? entrants : undefined;
    };

    const raiseDistinct = (slot: number, distinct: string[], entries: [number, string][], event: DeviceEvent) => {
      const houseId = ctx.identifier.houseIdOfSlot(slot)!;
      const { place, codes } = housePlace(ctx.site, houseId);
      ctx.raise({
        message: `疑似群租: ${place.label} ${windowDays} 天内有 ${distinct.length} 个不同人员/凭证进入 (阈值 ${distinctCount})`,
        details: { test: 'distinct-entrants', thresholds: { distinctCount, windowDays }, distinct: distinct.length, entrants: distinct.slice(0, 50), houseId },
        mergeKey: `house:${houseId}`,
        evidence: entries.sort((a, b) => a[0] - b[0]).map((e) => e[1]),
        deviceId: event.deviceId,
        place,
        codes,
        subject: null,
      });
    };

    const countCredential = (kind: number, value: string, slot: number, event: DeviceEvent, now: number) => {
      const today = localDay(now);
      const byValue = credentials[kind]!;
      let saved: number | CredentialDays | undefined;
      if (slot < 0) saved = byValue.get(value);
      else {
        if (slot >= counters.length) counters = grown(counters, slot);
        const packed = counters[slot]!;
        saved = packed === 0 ? undefined : packed === PROMOTED ? promoted.get(slot) : packed;
      }
      if (saved === undefined || typeof saved === 'number') {
        const todayNumber = dayNumber(today);
        const usedToday = saved !== undefined && Math.floor(saved / DAY_SCALE) === todayNumber ? saved % DAY_SCALE : 0;
        if (usedToday + 1 < packedBelow) {
          if (slot < 0) byValue.set(value, todayNumber * DAY_SCALE + usedToday + 1);
          else counters[slot] = todayNumber * DAY_SCALE + usedToday + 1;
          return;
        }
        saved = { day: today, uses: usedToday, earlier: null, today: null };
        if (slot < 0) byValue.set(value, saved);
        else promote(slot, saved);
      } else if (saved.day !== today) {
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
      const credential = KIND_PREFIX[kind] + value;
      const earlier = saved.earlier;
      const streak: string[] = [];
      // A loop rather than a helper closure: one capturing today, uses and earlier would make V8
      // allocate a context for them on every counted passage, not only on this rare path.
      for (let i = 0, day = today; i < consecutiveDays; i++, day = previousDay(day)) {
        const usesThatDay = day === today ? uses : (earlier?.get(day) ?? 0);
        if (usesThatDay <= perDayUses) return;
        streak.push(`${day.slice(5)}: ${usesThatDay} 次`);
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

    /** A slotted credential near its limit: its days move from the counter to an object. */
    const promote = (slot: number, days: CredentialDays) => {
      counters[slot] = PROMOTED;
      promoted.set(slot, days);
    };

    const doorplateSlot = (event: DeviceEvent, house: string): number => {
      const known = doorplates.get(event.deviceId);
      if (known !== undefined && known.place === event.place) return known.slot;
      const slot = ctx.identifier.houseSlot(house);
      doorplates.set(event.deviceId, { place: event.place, slot });
      return slot;
    };

    /**
     * A credential counted while unregistered moves to its slot once the registry gives it one,
     * so a card registered in the middle of a day keeps that day's uses.
     */
    const adoptSlots = () => {
      slotsCheckedAt = ctx.identifier.credentialSlotCount;
      credentials.forEach((byValue, kind) => {
        const type = KIND_TYPE[kind];
        if (type === null || type === undefined) return;
        byValue.forEach((saved, value) => {
          const slot = ctx.identifier.credentialSlot(type, value);
          if (slot === undefined) return;
          if (slot >= counters.length) counters = grown(counters, slot);
          if (typeof saved === 'number') counters[slot] = saved;
          else promote(slot, saved);
          byValue.delete(value);
        });
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
        const oldest = entrySecond(now) - windowSeconds;
        for (let cell = 1; cell < cells.length; cell += 2) {
          const at = cells[cell]!;
          if (at === 0 || at === CROWDED || at > oldest) continue;
          cells[cell] = 0;
          cellIds[cell >> 1] = undefined;
        }
        for (let slot = 0; slot < crowded.length; slot++) {
          const entrants = crowded[slot];
          if (entrants === undefined) continue;
          let recent = false;
          for (let i = 2; i < entrants.length && !recent; i += STRIDE) recent = (entrants[i] as number) > oldest;
          if (recent) continue;
          // Empty: the house goes back to its inline cells.
          crowded[slot] = undefined;
          cells[slot * INLINE * 2 + 1] = 0;
        }
        const keepDays = new Set<string>();
        for (let i = 0, day = localDay(now); i < consecutiveDays; i++, day = previousDay(day)) keepDays.add(day);
        const keepNumbers = new Set([...keepDays].map(dayNumber));
        const stale = (c: number | CredentialDays) =>
          typeof c === 'number' ? !keepNumbers.has(Math.floor(c / DAY_SCALE)) : !keepDays.has(c.day) && ![...(c.earlier?.keys() ?? [])].some((d) => keepDays.has(d));
        // forEach rather than for…of: no [key, value] array per entry (with ~100,000 credentials
        // in maps, 10 MB of garbage per sweep in the benchmark before they had slots).
        for (const byValue of credentials) {
          byValue.forEach((c, value) => {
            if (stale(c)) byValue.delete(value);
          });
        }
        for (let slot = 0; slot < counters.length; slot++) {
          const packed = counters[slot]!;
          if (packed > 0 && stale(packed)) counters[slot] = 0;
        }
        promoted.forEach((c, slot) => {
          if (!stale(c)) return;
          promoted.delete(slot);
          counters[slot] = 0;
        });
        ctx.timers.at('sweep', now + 3_600_000);
      },
      onEvent(event) {
        if (!types.has(event.type)) return;
        // The credential presented, as credentialKey ranks them: card, plate, face, person id.
        const refs = event.subjects;
        let kind: number;
        let value: string;
        if (refs.cardNo) (kind = 1), (value = refs.cardNo.trim());
        else if (refs.plate) (kind = 2), (value = normalizePlate(refs.plate));
        else if (refs.faceId) (kind = 3), (value = refs.faceId);
        else if (refs.personId) (kind = PERSON), (value = refs.personId);
        else return;
        const now = eventMs(event);
        const identity = event.identity;
        const personId = identity?.personId;
        const whoKind = personId ? PERSON : kind;
        const who = personId ?? value;
        const slots = RegistryIdentity.slotsOf(identity);
        const person = slots !== undefined ? slots.person : personId ? (ctx.identifier.personSlot(personId) ?? -1) : -1;
        const house = event.place.house;
        if (house !== undefined) countHouse(doorplateSlot(event, house), person, whoKind, who, event, now);
        else if (slots !== undefined) {
          if (slots.house >= 0) countHouse(slots.house, person, whoKind, who, event, now);
          const others = slots.otherHouses;
          for (let i = 0; i < others.length; i++) countHouse(others[i]!, person, whoKind, who, event, now);
        } else if (identity?.houseIds) for (const houseId of identity.houseIds) countHouse(ctx.identifier.houseSlot(houseId), person, whoKind, who, event, now);
        // The credential's slot: the identity's own when it was matched by this credential (the
        // person's only one of its type), else looked up; none for a credential never registered.
        if (ctx.identifier.credentialSlotCount !== slotsCheckedAt) adoptSlots();
        const type = KIND_TYPE[kind]!;
        let slot = -1;
        if (type !== null) {
          const own = slots !== undefined && identity!.matchedBy === type ? slots[type] : -1;
          slot = own >= 0 ? own : (ctx.identifier.credentialSlot(type, value) ?? -1);
        }
        countCredential(kind, value, slot, event, now);
      },
    };
  },
});

import type { Identity, IdentityKind, WatchLevel } from '../core/model.ts';

/**
 * The registry's dense numbers for one person, given out by the Identifier when it indexes the
 * person and never reused in this process: a house or credential keeps its number across registry
 * updates, so a rule's counters indexed by it stay valid.
 */
export interface RegistrySlots {
  /** The person. */
  readonly person: number;
  /** The first house the person is registered in (`houseIds[0]`); -1 for none. */
  readonly house: number;
  /** The others, in the order of `houseIds` (usually none). */
  readonly otherHouses: readonly number[];
  /** The person's credential of each type when it has exactly one of that type; -1 otherwise. */
  readonly card: number;
  readonly plate: number;
  readonly face: number;
}

/**
 * An identity resolved against the in-memory registry. Besides the Identity fields (what is stored
 * with the event and sent to the platform) it carries the person's RegistrySlots in a private
 * field, so that a rule keeping per-house or per-credential counters (group-rental) indexes arrays
 * with them instead of looking 20,000 house ids and 100,000 credentials up in maps on every passage:
 * each such lookup is a few cache misses, and the rule benchmark's B − E fell by ≈ 0.6 µs per event
 * (of ≈ 3.2) without them. The slots are the identifier's copy of the person, which identify has
 * just read, so reading them costs no further miss. A private field is invisible to JSON, to
 * structured clone (the event writer thread), to object spread and to test equality, so stored
 * and sent events are unchanged. Identities read back from storage are plain objects without
 * slots: rules fall back to the lookups.
 */
export class RegistryIdentity implements Identity {
  kind: IdentityKind;
  matchedBy?: Identity['matchedBy'];
  declare personId?: string;
  declare name?: string;
  declare houseIds?: string[];
  declare watch?: { entryId: string; level: WatchLevel; reason: string };
  declare care?: boolean;
  readonly #slots: RegistrySlots | undefined;

  /** A person's identity, or (watchlisted, no person) only the watch match. */
  constructor(kind: IdentityKind, matchedBy: Identity['matchedBy'], personId?: string, name?: string, houseIds?: string[], slots?: RegistrySlots) {
    this.kind = kind;
    this.matchedBy = matchedBy;
    this.#slots = slots;
    if (personId !== undefined) {
      this.personId = personId;
      this.name = name;
      this.houseIds = houseIds;
    }
  }

  /** The slots of an identity the Identifier made for a registered person; undefined for any other. */
  static slotsOf(identity: Identity | undefined): RegistrySlots | undefined {
    return identity instanceof RegistryIdentity ? identity.#slots : undefined;
  }
}

import { describe, expect, it } from 'vitest';
import { Identifier } from '../../../gateway/identify/identifier.ts';
import { RegistryIdentity } from '../../../gateway/identify/registry-identity.ts';
import { Store } from '../../../gateway/store/store.ts';
import { loadConfigText } from '../../../config/load.ts';

const T0 = Date.parse('2026-11-01T10:00:00+08:00');

function setup() {
  const store = Store.open(':memory:');
  const identifier = new Identifier(store.registry);
  identifier.upsertPerson({ id: 'p1', kind: 'resident', name: '张三', care: true, houses: ['h1'], validFromMs: null, validToMs: null, credentials: [{ type: 'card', value: '1001' }, { type: 'plate', value: '闽A·12345' }] });
  identifier.upsertPerson({ id: 'v1', kind: 'visitor', name: '访客', care: false, houses: ['h1'], validFromMs: T0 - 3600_000, validToMs: T0 + 3600_000, credentials: [{ type: 'card', value: '2001' }] });
  identifier.upsertWatch({ id: 'w1', subjectType: 'plate', subjectValue: '闽A88888', level: 'high', reason: '涉案车辆', validFromMs: null, validToMs: null });
  identifier.upsertWatch({ id: 'w2', subjectType: 'person', subjectValue: 'p1', level: 'medium', reason: '重点关注', validFromMs: T0 + 86_400_000, validToMs: null });
  return { store, identifier };
}

describe('Identifier', () => {
  it('resolves a resident by card and by plate in any notation', () => {
    const { identifier } = setup();
    expect(identifier.identify({ cardNo: '1001' }, T0)).toMatchObject({ kind: 'resident', personId: 'p1', matchedBy: 'card', care: true, houseIds: ['h1'] });
    expect(identifier.identify({ plate: '闽a 12345' }, T0)).toMatchObject({ kind: 'resident', personId: 'p1', matchedBy: 'plate' });
  });

  it('a visitor counts only within the validity window', () => {
    const { identifier } = setup();
    expect(identifier.identify({ cardNo: '2001' }, T0)?.kind).toBe('visitor');
    expect(identifier.identify({ cardNo: '2001' }, T0 + 7200_000)?.kind).toBe('unknown');
  });

  it('flags a watchlisted plate; a watch entry on a person applies to their credentials once valid', () => {
    const { identifier } = setup();
    expect(identifier.identify({ plate: '闽A·88888' }, T0)).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w1', level: 'high' } });
    expect(identifier.identify({ cardNo: '1001' }, T0)?.kind).toBe('resident'); // w2 not valid yet
    expect(identifier.identify({ cardNo: '1001' }, T0 + 2 * 86_400_000)).toMatchObject({ kind: 'watchlisted', personId: 'p1', watch: { entryId: 'w2' } });
  });

  it('unknown credentials are unknown; no references means no identity', () => {
    const { identifier } = setup();
    expect(identifier.identify({ cardNo: '9999' }, T0)).toEqual({ kind: 'unknown' });
    expect(identifier.identify({}, T0)).toBeUndefined();
  });

  it('changes persist: a fresh identifier loaded from the store sees the same, and removals stick', () => {
    const { store, identifier } = setup();
    identifier.removeWatch('w1');
    identifier.upsertPerson({ id: 'p1', kind: 'resident', name: '张三', care: false, houses: ['h1'], validFromMs: null, validToMs: null, credentials: [{ type: 'card', value: '1003' }] });
    const again = new Identifier(store.registry);
    again.load();
    expect(again.identify({ plate: '闽A88888' }, T0)).toEqual({ kind: 'unknown' });
    expect(again.identify({ cardNo: '1001' }, T0)).toEqual({ kind: 'unknown' }); // old card dropped
    expect(again.identify({ cardNo: '1003' }, T0)?.personId).toBe('p1');
  });

  it('seeds from a site config', () => {
    const { config } = loadConfigText(
      `site: {gatewayId: g, communityName: c, communityGridCode: "1234", policeGridCode: "5678", policeStation: s, buildings: [{id: b, name: B, units: [{id: u, name: U, houses: [{id: h, addressCode: "9999"}]}]}]}
registry: {residents: [{id: r1, name: 王五, houses: [h], cards: ["c1"]}]}
watchlist: [{id: w, subject: {type: card, value: "c9"}, level: critical, reason: 在逃}]
`,
      'site.yaml',
    );
    const identifier = new Identifier(Store.open(':memory:').registry);
    identifier.seed(config);
    expect(identifier.identify({ cardNo: 'c1' }, T0)?.name).toBe('王五');
    expect(identifier.identify({ cardNo: 'c9' }, T0)?.watch?.reason).toBe('在逃');
  });

  it('a registered identity carries the registry slots of its houses and credentials, which nothing serialises', () => {
    const { identifier } = setup();
    const identity = identifier.identify({ cardNo: '1001' }, T0)!;
    const slots = RegistryIdentity.slotsOf(identity)!;
    expect([slots.house, ...slots.otherHouses]).toEqual([identifier.houseSlot('h1')]);
    expect(slots.card).toBe(identifier.credentialSlot('card', '1001'));
    expect(slots.plate).toBe(identifier.credentialSlot('plate', '闽A12345'));
    expect(slots.face).toBe(-1);
    expect(new Set([slots.card, slots.plate, identifier.credentialSlot('card', '2001')]).size).toBe(3);
    // Stored and sent as before: JSON, the writer thread's structured clone and equality see no slots.
    const plain = { kind: 'resident', matchedBy: 'card', personId: 'p1', name: '张三', houseIds: ['h1'], care: true };
    expect(JSON.parse(JSON.stringify(identity))).toEqual(plain);
    expect(structuredClone(identity)).toEqual(plain);
    expect(identity).toEqual(plain);
    expect(RegistryIdentity.slotsOf(plain as never)).toBeUndefined();
    expect(RegistryIdentity.slotsOf(identifier.identify({ cardNo: '9999' }, T0))).toBeUndefined();
    // A watchlisted person's identity has them too.
    const watched = RegistryIdentity.slotsOf(identifier.identify({ cardNo: '1001' }, T0 + 2 * 86_400_000))!;
    expect([watched.house, watched.card, watched.plate]).toEqual([slots.house, slots.card, slots.plate]);
  });

  it('a slot keeps its number for the life of the process; a person with two cards of a type has no single card slot', () => {
    const { identifier } = setup();
    const card = identifier.credentialSlot('card', '1001')!;
    const house = identifier.houseSlot('h1');
    const record = { id: 'p1', kind: 'resident' as const, name: '张三', care: false, houses: ['h2', 'h1'], validFromMs: null, validToMs: null, credentials: [{ type: 'card' as const, value: '1001' }, { type: 'card' as const, value: ' 1009 ' }] };
    identifier.upsertPerson(record);
    expect(Object.getOwnPropertySymbols(record)).toEqual([]); // the caller's object is left as it was
    const slots = RegistryIdentity.slotsOf(identifier.identify({ cardNo: '1009' }, T0))!;
    expect(slots.card).toBe(-1);
    expect(identifier.credentialSlot('card', '1001')).toBe(card);
    expect(identifier.credentialSlot('card', '1009')).toBeGreaterThan(card);
    expect([slots.house, ...slots.otherHouses]).toEqual([identifier.houseSlot('h2'), house]);
    expect({ ...identifier.person('p1') }).toEqual(record); // the index's copy shows only the record's fields
    expect(identifier.houseIdOfSlot(house)).toBe('h1');
    // Removed from the registry, a credential keeps its slot (a rule's counters stay where they are).
    identifier.removePerson('p1');
    expect(identifier.identify({ cardNo: '1001' }, T0)).toEqual({ kind: 'unknown' });
    expect(identifier.credentialSlot('card', '1001')).toBe(card);
    expect(identifier.credentialSlot('card', 'never')).toBeUndefined();
  });
});

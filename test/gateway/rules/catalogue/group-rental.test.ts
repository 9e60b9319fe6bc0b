import { afterEach, describe, expect, it } from 'vitest';
import { HOUR, MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('group-rental (疑似群租): distinct entrants per house', () => {
  const rules = [{ id: 'rental', type: 'group-rental', params: { distinctCount: 4, windowDays: 7, perDayUses: 1000 } }];

  it('below, at and over N distinct people/credentials entering a house (doorplate) within D days', async () => {
    h = await new RulesHarness(rules).start();
    const cards = ['c1', 'c2', 'c3'];
    for (const card of cards) {
      await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: card } });
      await h.advance(HOUR);
    }
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'c1' } }); // same credential again
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: '1001' } }); // 4th distinct: the resident 张三
    expect(h.raised).toHaveLength(1);
    const alert = h.raised[0]!;
    expect(alert.message).toBe('疑似群租: 1号楼1单元101 7 天内有 4 个不同人员/凭证进入 (阈值 4)');
    expect(alert.details).toMatchObject({ distinct: 4, thresholds: { distinctCount: 4, windowDays: 7 } });
    expect(alert.details.entrants).toEqual(expect.arrayContaining(['card:c1', 'card:c2', 'card:c3', 'person:p1']));
    expect(alert.evidence).toHaveLength(4);
    expect(alert.codes.addressCode).toBe('AC3501020101101');
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'c5' } }); // over: merged
    expect(h.raised).toHaveLength(1);
    expect(h.alertsOf('rental')[0]!.occurrences).toBe(2);
  });

  it('a resident card at the unit door counts for the resident\'s house; entrants older than D days drop out', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'dp-102', type: 'doorplate.scan', subjects: { cardNo: 'x1' } });
    await h.advance(7 * 24 * HOUR + MIN);
    for (const card of ['x2', 'x3']) await h.ingest({ deviceId: 'dp-102', type: 'doorplate.scan', subjects: { cardNo: card } });
    await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: '1002' } }); // 李奶奶 lives in h102
    expect(h.raised).toHaveLength(0); // x1 is out of the window: 3 distinct
    await h.ingest({ deviceId: 'dp-102', type: 'doorplate.scan', subjects: { cardNo: 'x4' } });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details.entrants).toContain('person:p2');
    // An unregistered card at the unit door cannot be tied to a house: it never counts for one.
  });

  it('scope: a house outside the circle is not counted', async () => {
    h = await new RulesHarness([{ ...rules[0], scope: { buildings: ['b2'] } }]).start();
    for (const card of ['a', 'b', 'c', 'd', 'e']) await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: card } });
    expect(h.raised).toHaveLength(0);
  });

  it('a restart in the middle of the window changes no outcome', async () => {
    h = new RulesHarness(rules);
    await h.start();
    for (const card of ['r1', 'r2', 'r3']) await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: card } });
    await h.restart();
    await h.advance(2 * 24 * HOUR);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'r4' } });
    expect(h.raised).toHaveLength(1);
  });
});

describe('group-rental (疑似群租): one credential used more than P times a day on K consecutive days', () => {
  const rules = [{ id: 'rental', type: 'group-rental', params: { distinctCount: 1000, perDayUses: 3, consecutiveDays: 3 } }];
  const useCard = async (h: RulesHarness, times: number, card = '1001') => {
    for (let i = 0; i < times; i++) {
      await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: card } });
      await h.advance(10 * MIN);
    }
  };

  it('at P uses a day nothing; over P on K consecutive days raises once, naming card, person, house and counts', async () => {
    h = await new RulesHarness(rules).start();
    await useCard(h, 4); // Mon: 4 > 3
    await h.at('2026-11-03T08:00:00+08:00');
    await useCard(h, 4); // Tue
    await h.at('2026-11-04T08:00:00+08:00');
    await useCard(h, 3); // Wed: 3 = P, not over
    expect(h.raised).toHaveLength(0);
    await useCard(h, 1); // Wed: 4 > 3: the third consecutive day
    expect(h.raised).toHaveLength(1);
    const alert = h.raised[0]!;
    expect(alert.message).toBe('疑似群租: 卡号 1001 (张三) 在 1号楼1单元101 连续 3 天每天使用超过 3 次 (11-02: 4 次, 11-03: 4 次, 11-04: 4 次)');
    expect(alert.details).toMatchObject({ test: 'credential-daily-uses', thresholds: { perDayUses: 3, consecutiveDays: 3 }, houseId: 'h101' });
    expect(alert.evidence).toHaveLength(4);
    await useCard(h, 2); // more uses the same day do not raise again
    expect(h.raised).toHaveLength(1);
  });

  it('a gap day breaks the streak', async () => {
    h = await new RulesHarness(rules).start();
    await useCard(h, 5);
    await h.at('2026-11-03T08:00:00+08:00');
    await useCard(h, 1);
    await h.at('2026-11-04T08:00:00+08:00');
    await useCard(h, 5);
    await h.at('2026-11-05T08:00:00+08:00');
    await useCard(h, 5);
    expect(h.raised).toHaveLength(0);
    await h.at('2026-11-06T08:00:00+08:00');
    await useCard(h, 4);
    expect(h.raised).toHaveLength(1);
  });

  it('survives a restart between the days', async () => {
    h = new RulesHarness(rules);
    await h.start();
    await useCard(h, 4);
    await h.restart();
    await h.at('2026-11-03T08:00:00+08:00');
    await useCard(h, 4);
    await h.restart();
    await h.at('2026-11-04T08:00:00+08:00');
    await useCard(h, 4);
    expect(h.raised).toHaveLength(1);
  });
});

describe('group-rental (疑似群租): credentials far below the limit are kept compact', () => {
  // perDayUses 8: the first four uses of a day are one number per credential, the fifth onwards a
  // full counter collecting evidence; a day under the limit before a streak is not reported.
  const rules = [{ id: 'rental', type: 'group-rental', params: { distinctCount: 1000, perDayUses: 8, consecutiveDays: 3 } }];
  const useCard = async (h: RulesHarness, times: number) => {
    const ids: string[] = [];
    for (let i = 0; i < times; i++) {
      ids.push((await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: '1001' } })).id);
      await h.advance(5 * MIN);
    }
    return ids;
  };

  for (const restarts of [false, true]) {
    it(`a low day, then three days over the limit: one alert with the streak's days and the last five uses${restarts ? ' (restarting between days)' : ''}`, async () => {
      h = await new RulesHarness(rules).start();
      await useCard(h, 3); // Mon: 3, far below
      for (const day of ['2026-11-03', '2026-11-04']) {
        if (restarts) await h.restart();
        await h.at(`${day}T08:00:00+08:00`);
        await useCard(h, 9); // Tue, Wed: 9 > 8
      }
      if (restarts) await h.restart();
      await h.at('2026-11-05T08:00:00+08:00');
      const thursday = await useCard(h, 8); // Thu: 8 = P, not over
      expect(h.raised).toHaveLength(0);
      thursday.push(...(await useCard(h, 1)));
      expect(h.raised).toHaveLength(1);
      const alert = h.raised[0]!;
      expect(alert.message).toBe('疑似群租: 卡号 1001 (张三) 在 1号楼1单元101 连续 3 天每天使用超过 8 次 (11-03: 9 次, 11-04: 9 次, 11-05: 9 次)');
      expect(alert.details).toMatchObject({ days: { '2026-11-03': 9, '2026-11-04': 9, '2026-11-05': 9 } });
      expect(Object.keys(alert.details.days as object)).toHaveLength(3);
      expect(alert.evidence).toEqual(thursday.slice(-5));
    });
  }

  it('three days just under the limit raise nothing', async () => {
    h = await new RulesHarness(rules).start();
    for (const day of ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']) {
      await h.at(`${day}T08:00:00+08:00`);
      await useCard(h, 8);
    }
    expect(h.raised).toHaveLength(0);
  });
});

describe('group-rental (疑似群租): counters indexed by registry slots', () => {
  // A live identity carries its person's house and credential slots; an event read back from
  // storage (the rebuild at start) does not, and its lookups must reach the same counters.
  const register = (h: RulesHarness, id: string, cards: string[], houses = ['h101']) =>
    h.store.db.transaction(() =>
      h.identifier.upsertPerson({ id, kind: 'resident', name: id, care: false, houses, validFromMs: null, validToMs: null, credentials: cards.map((value) => ({ type: 'card' as const, value })) }),
    )();

  it('a card registered in the middle of a day keeps the uses it had while unregistered', async () => {
    h = await new RulesHarness([{ id: 'rental', type: 'group-rental', params: { distinctCount: 1000, perDayUses: 3, consecutiveDays: 1 } }]).start();
    for (let i = 0; i < 2; i++) await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'n1' } });
    register(h, 'p9', ['n1']);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'n1' } }); // 3 = P
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'n1' } }); // 4 > P
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toContain('卡号 n1 (p9)');
  });

  it("each of a person's two cards is counted on its own", async () => {
    h = await new RulesHarness([{ id: 'rental', type: 'group-rental', params: { distinctCount: 1000, perDayUses: 3, consecutiveDays: 1 } }]).start();
    register(h, 'p9', ['k1', 'k2']);
    for (const card of ['k1', 'k2', 'k1', 'k2', 'k1', 'k2']) await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: card } });
    expect(h.raised).toHaveLength(0); // three each: at P, not over
    await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: 'k2' } });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details).toMatchObject({ credential: 'card:k2' });
  });

  it('residents counted at the unit door before a restart and at the doorplate after it are entrants of one house', async () => {
    h = new RulesHarness([{ id: 'rental', type: 'group-rental', params: { distinctCount: 4, windowDays: 7, perDayUses: 1000 } }]);
    await h.start();
    register(h, 'p8', ['m1']);
    register(h, 'p9', ['m2']);
    for (const card of ['1001', 'm1', 'm2']) await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: card } });
    await h.restart();
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'm1' } }); // p8 again: still 3
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'z1' } });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details.entrants).toEqual(expect.arrayContaining(['person:p1', 'person:p8', 'person:p9', 'card:z1']));
    expect(h.raised[0]!.details.houseId).toBe('h101');
  });

  it('registered people are counted inline; an entrant older than D days frees its place', async () => {
    h = await new RulesHarness([{ id: 'rental', type: 'group-rental', params: { distinctCount: 3, windowDays: 7, perDayUses: 1000 } }]).start();
    for (const [id, card] of [['q1', 'g1'], ['q2', 'g2'], ['q3', 'g3'], ['q4', 'g4']]) register(h, id!, [card!]);
    // Half an hour past the hourly sweep, so that q1 leaves the window between two sweeps.
    await h.advance(30 * MIN);
    await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: 'g1' } });
    await h.advance(7 * 24 * HOUR + MIN);
    const ids: string[] = [];
    for (const card of ['g2', 'g3', 'g2']) {
      ids.push((await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: card } })).id);
      await h.advance(MIN);
    }
    expect(h.raised).toHaveLength(0); // q1 left the window: two distinct
    ids.push((await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'g4' } })).id);
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details).toMatchObject({ distinct: 3, houseId: 'h101' });
    expect([...(h.raised[0]!.details.entrants as string[])].sort()).toEqual(['person:q2', 'person:q3', 'person:q4']);
    expect(h.raised[0]!.evidence).toEqual([ids[1], ids[2], ids[3]]); // each entrant's latest entry, oldest first
  });

  it('a house with more registered entrants than are kept inline counts every one of them', async () => {
    h = await new RulesHarness([{ id: 'rental', type: 'group-rental', params: { distinctCount: 11, windowDays: 7, perDayUses: 1000 } }]).start();
    const people = Array.from({ length: 10 }, (_, i) => `r${i}`);
    for (const id of people) register(h, id, [`card-${id}`]);
    for (const id of people) await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: `card-${id}` } });
    await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: '1001' } }); // 张三: the 11th
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details).toMatchObject({ distinct: 11 });
    expect([...(h.raised[0]!.details.entrants as string[])].sort()).toEqual(['person:p1', ...people.map((id) => `person:${id}`)].sort());
    expect(h.raised[0]!.evidence).toHaveLength(11);
  });

  it('the hourly sweep keeps entrants still in the window, inline or not, and frees the rest', async () => {
    h = await new RulesHarness([{ id: 'rental', type: 'group-rental', cooldownSeconds: 0, params: { distinctCount: 3, windowDays: 1, perDayUses: 1000 } }]).start();
    for (const [id, card] of [['q1', 'g1'], ['q2', 'g2'], ['q3', 'g3']]) register(h, id!, [card!]);
    const enter = (cardNo: string, deviceId = 'ac-b1') => h!.ingest({ deviceId, type: cardNo.startsWith('g') ? 'access.granted' : 'doorplate.scan', subjects: { cardNo } });
    await enter('g1');
    await enter('g2');
    await h.advance(5 * HOUR); // five sweeps: both still inside the day
    await enter('g3');
    expect(h.raised).toHaveLength(1);
    await h.advance(2 * 24 * HOUR); // all gone
    await enter('zz', 'dp-101'); // an unregistered card: the house leaves its inline cells
    await enter('g1');
    await h.advance(5 * HOUR);
    await enter('g2');
    expect(h.raised).toHaveLength(2);
    expect([...(h.raised[1]!.details.entrants as string[])].sort()).toEqual(['card:zz', 'person:q1', 'person:q2']);
    await h.advance(2 * 24 * HOUR); // the sweep empties it: back to inline cells
    for (const card of ['g1', 'g2']) await enter(card);
    expect(h.raised).toHaveLength(2);
    await enter('g3');
    expect(h.raised).toHaveLength(3);
    expect([...(h.raised[2]!.details.entrants as string[])].sort()).toEqual(['person:q1', 'person:q2', 'person:q3']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { HOUR, MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const rule = (params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => [
  { id: 'care', type: 'care-absence', params: { hours: 24, checkEveryMinutes: 15, ...params }, ...extra },
];

describe('care-absence (关爱对象多日未出)', () => {
  it('below, at and over H hours without activity; the alert names the person, house and last activity', async () => {
    h = await new RulesHarness(rule()).start();
    const swipe = await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: '1002' } }); // 08:00
    await h.advance(24 * HOUR - 16 * MIN);
    expect(h.raised).toHaveLength(0);
    await h.advance(16 * MIN); // the check at or just after 24 h
    expect(h.raised).toHaveLength(1);
    const alert = h.raised[0]!;
    expect(alert.message).toBe('关爱对象 李奶奶 (1号楼1单元102) 已 24 小时无开门/门禁/门牌活动 (阈值 24 小时), 最后一次 11-02 08:00 于 1号楼1单元, 请上门查看');
    expect(alert).toMatchObject({ category: 'care', severity: 'high', evidence: [swipe.id] });
    expect(alert.codes.addressCode).toBe('AC3501020101102');
    // One alert per absence, not one per check.
    await h.advance(6 * HOUR);
    expect(h.raised).toHaveLength(1);
    expect(h.updates.filter((u) => u.change === 'merged')).toHaveLength(0);
  });

  it('door activity at the house resets the stopwatch, as does the person anywhere in the community', async () => {
    h = await new RulesHarness(rule()).start();
    await h.advance(20 * HOUR);
    await h.ingest({ deviceId: 'dp-102', type: 'door.opened' });
    await h.advance(20 * HOUR);
    await h.ingest({ deviceId: 'ac-1', type: 'access.granted', subjects: { cardNo: '1002' } });
    await h.advance(20 * HOUR);
    expect(h.raised).toHaveLength(0);
    // Another house's door is no sign of life.
    await h.ingest({ deviceId: 'dp-101', type: 'door.opened' });
    await h.advance(5 * HOUR);
    expect(h.raised).toHaveLength(1);
    // Activity after the alert starts a new episode.
    await h.ingest({ deviceId: 'dp-102', type: 'doorplate.scan' });
    await h.advance(25 * HOUR);
    expect(h.alertsOf('care')).toHaveLength(2);
  });

  it('schedule and scope gate the alert, not the tracking', async () => {
    h = await new RulesHarness(rule({}, { schedule: { windows: [{ from: '09:00', to: '18:00' }] }, scope: { buildings: ['b1'] } })).start();
    await h.advance(24 * HOUR); // Tuesday 08:00: due, but outside 09:00–18:00
    expect(h.raised).toHaveLength(0);
    await h.advance(HOUR);
    expect(h.raised).toHaveLength(1);

    const other = await new RulesHarness(rule({}, { scope: { buildings: ['b2'] } })).start();
    await other.advance(30 * HOUR);
    expect(other.raised).toHaveLength(0);
    await other.stop();
  });

  it('a restart mid-absence keeps the stopwatch; downtime is not counted and there is no burst on start', async () => {
    h = new RulesHarness(rule());
    await h.start();
    await h.ingest({ deviceId: 'dp-102', type: 'door.opened' }); // 08:00
    await h.advance(10 * HOUR);
    await h.restart(); // quick restart: nothing lost
    await h.advance(14 * HOUR + 15 * MIN);
    expect(h.raised).toHaveLength(1);

    // A second episode: 10 h absent, then the gateway is down for 3 days.
    await h.ingest({ deviceId: 'dp-102', type: 'door.opened' });
    await h.advance(10 * HOUR);
    await h.stop();
    h.clock.advance(72 * HOUR);
    await h.start();
    await h.advance(MIN);
    expect(h.alertsOf('care')).toHaveLength(1); // no stale alert at start
    await h.advance(14 * HOUR);
    expect(h.alertsOf('care')).toHaveLength(2); // 10 h before + 14 h after the outage
    const latest = h.alertsOf('care')[0]!; // newest first
    expect(latest.message).toContain('已 96 小时'); // the guard sees the real time since the last activity
    expect(latest.details).toMatchObject({ observedAbsentHours: 24, hoursSinceLastActivity: 96 });
  });

  it('a care resident never seen is counted from when the rule began watching', async () => {
    h = await new RulesHarness(rule({ hours: 48 })).start();
    await h.advance(47 * HOUR);
    expect(h.raised).toHaveLength(0);
    await h.advance(HOUR + 15 * MIN);
    expect(h.raised[0]!.message).toContain('自开始关注以来无任何记录');
  });

  it('a resident put on the care list while running is watched from the next check; one taken off is no longer', async () => {
    h = await new RulesHarness(rule()).start();
    const p3 = h.identifier.person('p3')!;
    const p2 = h.identifier.person('p2')!;
    h.store.db.transaction(() => {
      h!.identifier.upsertPerson({ ...p3, care: true });
      h!.identifier.upsertPerson({ ...p2, care: false });
    })();
    await h.advance(24 * HOUR + 30 * MIN);
    expect(h.raised.map((a) => a.subject?.refs.personId)).toEqual(['p3']);
  });
});

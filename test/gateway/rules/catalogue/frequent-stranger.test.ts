import { afterEach, describe, expect, it } from 'vitest';
import { HOUR, MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const plate = (p: string, deviceId = 'cam-plate') => ({ deviceId, type: 'plate.captured' as const, subjects: { plate: p } });

describe('frequent-stranger (陌生人频繁出入)', () => {
  it('below, at and over the count within the window', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 3, windowHours: 24 } }]).start();
    const e1 = await h.ingest(plate('闽B·11111'));
    await h.advance(8 * HOUR);
    const e2 = await h.ingest(plate('闽B11111'));
    await h.advance(8 * HOUR);
    expect(h.raised).toHaveLength(0); // 2 < 3
    const e3 = await h.ingest(plate('闽b 11111'));
    expect(h.raised).toHaveLength(1); // = 3
    const alert = h.raised[0]!;
    expect(alert.message).toBe('陌生车辆 闽B11111 24 小时内第 3 次出现 (阈值 3 次), 最近 00:00 于 2号门');
    expect(alert.evidence).toEqual([e1.id, e2.id, e3.id]);
    expect(alert.details).toMatchObject({ thresholds: { count: 3, windowHours: 24 }, sightings: 3, rule: 'stranger' });
    expect(alert.category).toBe('police');
    await h.advance(1 * HOUR);
    await h.ingest(plate('闽B11111')); // 4 > 3: merges into the open alert
    expect(h.raised).toHaveLength(1);
    expect(h.alertsOf('stranger')[0]!.occurrences).toBe(2);
  });

  it('sightings older than the window do not count; residents, visitors and watchlisted subjects never count', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 2, windowHours: 24 } }]).start();
    await h.ingest(plate('闽B·22222'));
    await h.advance(24 * HOUR + 1);
    await h.ingest(plate('闽B·22222'));
    expect(h.raised).toHaveLength(0);
    for (let i = 0; i < 3; i++) {
      await h.advance(HOUR);
      await h.ingest(plate('闽A·12345')); // resident
      await h.ingest(plate('闽D·77777')); // valid visitor
      await h.ingest(plate('闽A·88888')); // watchlisted: the watchlist rule's business
    }
    expect(h.raised).toHaveLength(0);
    await h.ingest(plate('闽B·22222')); // second sighting inside the window
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toContain('闽B22222');
  });

  it('captures closer together than minGapMinutes are one sighting; cards and faces are subjects too', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 2, minGapMinutes: 10 } }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.advance(9 * MIN);
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    expect(h.raised).toHaveLength(0);
    await h.advance(11 * MIN);
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    expect(h.raised[0]!.message).toContain('陌生人员(卡号 9999)');
    await h.ingest({ deviceId: 'cam-1', type: 'face.captured', subjects: { faceId: 'f-x' } });
    await h.advance(HOUR);
    await h.ingest({ deviceId: 'cam-1', type: 'face.captured', subjects: { faceId: 'f-x' } });
    expect(h.raised.map((a) => a.mergeKey)).toEqual(['card:9999', 'face:f-x']);
  });

  it('with a night schedule only night sightings count', async () => {
    h = await new RulesHarness([
      { id: 'stranger', type: 'frequent-stranger', params: { count: 2 }, schedule: { windows: [{ from: '22:00', to: '06:00' }] } },
    ]).start();
    await h.ingest(plate('闽B·33333')); // 08:00
    await h.at('2026-11-02T12:00:00+08:00');
    await h.ingest(plate('闽B·33333'));
    await h.at('2026-11-02T23:00:00+08:00');
    await h.ingest(plate('闽B·33333'));
    expect(h.raised).toHaveLength(0);
    await h.at('2026-11-03T02:00:00+08:00');
    await h.ingest(plate('闽B·33333'));
    expect(h.raised).toHaveLength(1);
  });

  it('scope: sightings outside the circle do not count', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 2 }, scope: { gates: ['gate-2'] } }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.advance(HOUR);
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    expect(h.raised).toHaveLength(0);
  });

  it('a restart in the middle of the window changes no outcome', async () => {
    h = new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 3 } }]);
    await h.start();
    await h.ingest(plate('闽B·44444'));
    await h.advance(2 * HOUR);
    await h.ingest(plate('闽B·44444'));
    await h.restart();
    await h.advance(2 * HOUR);
    expect(h.raised).toHaveLength(0);
    await h.ingest(plate('闽B·44444'));
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.evidence).toHaveLength(3);
  });
});

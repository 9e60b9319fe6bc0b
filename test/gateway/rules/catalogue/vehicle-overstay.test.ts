import { describe, afterEach, expect, it } from 'vitest';
import { plateDirection } from '../../../../gateway/rules/catalogue/vehicle-overstay.ts';
import { HOUR, MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const rules = [{ id: 'overstay', type: 'vehicle-overstay', params: { hours: 4, checkEveryMinutes: 10 } }];
const plate = (p: string, direction: string | number | undefined) => ({
  deviceId: 'cam-plate',
  type: 'plate.captured' as const,
  subjects: { plate: p },
  payload: direction === undefined ? {} : { direction },
});
const EVENING = Date.parse('2026-11-02T20:00:00+08:00');

describe('vehicle-overstay (外来车辆夜间滞留)', () => {
  it('reads in/out from payload.direction', () => {
    expect(plateDirection({ direction: 'in' })).toBe('in');
    expect(plateDirection({ direction: 'EXIT' })).toBe('out');
    expect(plateDirection({ direction: 1 })).toBe('in');
    expect(plateDirection({ direction: 2 })).toBe('out');
    expect(plateDirection({})).toBeNull();
    expect(plateDirection({ direction: 'sideways' })).toBeNull();
  });

  it('below, at and over H hours at night; a vehicle that left is forgotten', async () => {
    h = await new RulesHarness(rules, { startMs: EVENING }).start();
    const entry = await h.ingest(plate('闽C·55555', 'in')); // 20:00
    await h.ingest(plate('闽C·66666', 'in'));
    await h.advance(HOUR);
    await h.ingest(plate('闽C66666', 'out'));
    await h.advance(2 * HOUR + 50 * MIN); // 23:50: 3 h 50 min
    expect(h.raised).toHaveLength(0);
    await h.advance(10 * MIN); // 00:00: 4 h
    expect(h.raised).toHaveLength(1);
    const alert = h.raised[0]!;
    expect(alert.message).toBe('外来车辆 闽C55555 于 11-02 20:00 从 2号门 驶入, 已滞留 4 小时未离开 (阈值 4 小时)');
    expect(alert.evidence).toEqual([entry.id]);
    expect(alert.subject?.refs.plate).toBe('闽C55555');
    await h.advance(3 * HOUR);
    expect(h.raised).toHaveLength(1); // one alert per stay
  });

  it('during the day the overstay waits for the night window', async () => {
    h = await new RulesHarness(rules).start(); // Monday 08:00
    await h.ingest(plate('闽C·55555', 'in'));
    await h.advance(13 * HOUR + 50 * MIN); // 21:50
    expect(h.raised).toHaveLength(0);
    await h.advance(20 * MIN); // 22:10
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toContain('已滞留 14 小时');
  });

  it('residents, valid visitors and captures without a direction are not tracked; gates outside the scope neither', async () => {
    h = await new RulesHarness(rules, { startMs: EVENING }).start();
    await h.ingest(plate('闽A·12345', 'in'));
    await h.ingest(plate('闽D·77777', 'in'));
    await h.ingest(plate('闽C·99999', undefined));
    await h.advance(6 * HOUR);
    expect(h.raised).toHaveLength(0);

    const scoped = await new RulesHarness([{ ...rules[0], scope: { gates: ['gate-1'] } }], { startMs: EVENING }).start();
    await scoped.ingest(plate('闽C·55555', 'in'));
    await scoped.advance(6 * HOUR);
    expect(scoped.raised).toHaveLength(0);
    await scoped.stop();
  });

  it('a restart mid-stay keeps the stay; downtime does not count towards it', async () => {
    h = new RulesHarness(rules, { startMs: EVENING });
    await h.start();
    await h.ingest(plate('闽C·55555', 'in'));
    await h.advance(2 * HOUR);
    await h.restart();
    await h.advance(2 * HOUR);
    expect(h.raised).toHaveLength(1);

    await h.ingest(plate('闽C·44444', 'in')); // 00:00
    await h.advance(HOUR);
    await h.stop();
    h.clock.advance(2 * HOUR); // down 01:00–03:00
    await h.start();
    await h.advance(MIN);
    expect(h.alertsOf('overstay')).toHaveLength(1);
    await h.advance(HOUR); // 04:01: 1 h + 1 h observed
    expect(h.alertsOf('overstay')).toHaveLength(1);
    await h.advance(2 * HOUR); // 06:01 outside the night
    await h.at('2026-11-03T22:00:00+08:00');
    await h.advance(10 * MIN);
    expect(h.alertsOf('overstay')).toHaveLength(2);
  });

  it('entries and exits write no rule_state row; a crash mid-stay keeps the stay (rebuilt from the stored captures)', async () => {
    h = await new RulesHarness(rules, { startMs: EVENING }).start();
    const entry = await h.ingest(plate('闽C·55555', 'in')); // 20:00
    await h.ingest(plate('闽C·66666', 'in'));
    await h.ingest(plate('闽C·66666', 'out'));
    expect([...h.store.ruleState.all('overstay').keys()]).toEqual(['t:check']);
    await h.advance(HOUR);
    h.store.close(); // the process dies: the engine is never stopped
    const again = new RulesHarness(rules, { startMs: h.clock.now() + MIN });
    Object.assign(again, { file: h.file });
    h = again;
    await h.start(); // 21:01, after 1 min down
    await h.advance(3 * HOUR); // 00:01: 4 h in, 1 min of it down
    expect(h.raised.map((a) => a.evidence)).toEqual([[entry.id]]);
    // The alerted stay is kept on disk: a restart does not raise it again; the exit forgets it.
    expect(h.store.ruleState.get('overstay', 'k:闽C55555')).toBe(entry.id);
    await h.restart();
    await h.advance(HOUR);
    expect(h.alertsOf('overstay')[0]!.occurrences).toBe(1);
    await h.ingest(plate('闽C55555', 'out'));
    await h.settle();
    expect(h.store.ruleState.get('overstay', 'k:闽C55555')).toBeUndefined();
  });

  it('every downtime since the entry pauses the stay, not only the last', async () => {
    h = new RulesHarness(rules, { startMs: EVENING });
    await h.start();
    await h.ingest(plate('闽C·55555', 'in')); // 20:00
    for (let i = 0; i < 2; i++) {
      await h.advance(HOUR);
      await h.stop();
      h.clock.advance(HOUR); // down 21:00–22:00, then 23:00–00:00
      await h.start();
    }
    await h.advance(HOUR + 50 * MIN); // 01:50: 5 h 50 min since the entry, 3 h 50 min observed
    expect(h.raised).toHaveLength(0);
    await h.advance(20 * MIN); // 02:10: 4 h 10 min observed
    expect(h.raised).toHaveLength(1);
  });
});

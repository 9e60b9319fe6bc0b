import { afterEach, describe, expect, it } from 'vitest';
import { inSchedule, inScope, RuleEngine } from '../../../gateway/rules/engine.ts';
import { HOUR, MIN, RulesHarness } from './harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('rule validation', () => {
  it('rejects each bad rule naming rule and field, and keeps the good ones', () => {
    const { resolved, problems } = RuleEngine.validate([
      { id: 'good', type: 'door-forced' },
      { id: 'bad-params', type: 'frequent-stranger', params: { count: 0 } },
      { id: 'bad-type', type: 'no-such-rule' },
      { id: 'bad-extra', type: 'tailgating', params: { windowSecs: 5 } },
      { id: 'bad-severity', type: 'alarm', severity: 'urgent' },
      { id: 'bad-escalation', type: 'door-forced', severity: 'high', escalation: { afterMinutes: 5, severity: 'medium' } },
      { id: 'good', type: 'alarm' },
      { type: 'alarm' },
      { id: 'good-2', type: 'care-absence', params: { hours: 48 }, escalation: { afterMinutes: 30, severity: 'critical' } },
    ]);
    expect(resolved.map((r) => r.id)).toEqual(['good', 'good-2']);
    const byRule = Object.fromEntries(problems.map((p) => [p.ruleId, p]));
    expect(byRule['bad-params']).toMatchObject({ field: 'params.count' });
    expect(byRule['bad-type']).toMatchObject({ field: 'type' });
    expect(byRule['bad-type']!.message).toContain('frequent-stranger');
    expect(byRule['bad-extra']!.field).toBe('params');
    expect(byRule['bad-extra']!.message).toContain('windowSecs');
    expect(byRule['bad-severity']).toMatchObject({ field: 'severity' });
    expect(byRule['bad-escalation']).toMatchObject({ field: 'escalation.severity' });
    expect(problems.find((p) => p.field === 'id' && p.ruleId === 'good')?.message).toContain('duplicate');
    expect(byRule['rules[7]']).toMatchObject({ field: 'id' });
    expect(resolved[1]!.escalation).toEqual({ afterMs: 30 * MIN, severity: 'critical' });
  });

  it('a bad rule among good ones: the good ones raise alerts, the bad one is reported and counted', async () => {
    h = await new RulesHarness([
      { id: 'forced', type: 'door-forced' },
      { id: 'stranger', type: 'frequent-stranger', params: { count: 'three' } },
      { id: 'alarm', type: 'alarm' },
    ]).start();
    expect(h.engine.activeRules().map((r) => r.id)).toEqual(['forced', 'alarm']);
    expect(h.engine.problems).toEqual([{ ruleId: 'stranger', field: 'params.count', message: expect.any(String) }]);
    const rejected = await h.metrics.rejected.get();
    expect(rejected.values.find((v) => v.labels.reason === 'invalid-rule')?.value).toBe(1);
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    expect(h.raised.map((a) => a.ruleId).sort()).toEqual(['alarm', 'forced']);
  });
});

describe('schedule and scope', () => {
  const nights = { windows: [{ from: '22:00', to: '06:00', days: [1, 2, 3, 4, 5] }], timezone: 'Asia/Shanghai' };
  it('a night window wraps past midnight and belongs to the day it started', () => {
    expect(inSchedule(nights, Date.parse('2026-11-02T22:00:00+08:00'))).toBe(true); // Monday 22:00
    expect(inSchedule(nights, Date.parse('2026-11-02T21:59:00+08:00'))).toBe(false);
    expect(inSchedule(nights, Date.parse('2026-11-03T05:59:00+08:00'))).toBe(true); // Monday's night, after midnight
    expect(inSchedule(nights, Date.parse('2026-11-03T06:00:00+08:00'))).toBe(false);
    expect(inSchedule(nights, Date.parse('2026-11-07T01:00:00+08:00'))).toBe(true); // Friday's night
    expect(inSchedule(nights, Date.parse('2026-11-08T01:00:00+08:00'))).toBe(false); // Saturday's night
    expect(inSchedule(nights, Date.parse('2026-11-02T01:00:00+08:00'))).toBe(false); // Sunday's night
  });

  it('scope matches any constrained list', () => {
    const scope = { gates: ['gate-1'], zones: ['z-north'] };
    expect(inScope(scope, { deviceId: 'x', place: { label: '', gate: 'gate-1' } })).toBe(true);
    expect(inScope(scope, { deviceId: 'x', place: { label: '', zone: 'z-north' } })).toBe(true);
    expect(inScope(scope, { deviceId: 'x', place: { label: '', gate: 'gate-3' } })).toBe(false);
    expect(inScope({ devices: ['ac-1'] }, { deviceId: 'ac-1', place: { label: '' } })).toBe(true);
    expect(inScope(undefined, { deviceId: 'x', place: { label: '' } })).toBe(true);
  });

  it('events outside the schedule or the circle do not reach the rule', async () => {
    h = await new RulesHarness([
      { id: 'forced-night-gate1', type: 'door-forced', scope: { gates: ['gate-1'] }, schedule: { windows: [{ from: '22:00', to: '06:00' }] } },
    ]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' }); // 08:00: outside
    await h.at('2026-11-02T23:00:00+08:00');
    await h.ingest({ deviceId: 'ac-3', type: 'door.forced' }); // gate-3: outside the circle
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toContain('1号门');
  });
});

describe('merge, cooldown and merge key', () => {
  it('triggers within the cooldown merge into one alert; after it, a new alert is raised', async () => {
    h = await new RulesHarness([{ id: 'forced', type: 'door-forced', cooldownSeconds: 600 }]).start();
    const e1 = await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    await h.advance(5 * MIN);
    const e2 = await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    expect(h.raised).toHaveLength(1);
    const merged = h.updates.find((u) => u.change === 'merged')!.alert;
    expect(merged.occurrences).toBe(2);
    expect(merged.evidence).toEqual([e1.id, e2.id]);
    await h.advance(10 * MIN + 1);
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    expect(h.raised).toHaveLength(2);
  });

  it('mergeBy "subject" merges one stranger across gates; mergeBy "place" merges alarms of one house', async () => {
    h = await new RulesHarness([
      { id: 'watch', type: 'watchlist-hit', mergeBy: 'subject' },
      { id: 'alarm', type: 'alarm', mergeBy: 'place' },
    ]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '6666' } });
    await h.ingest({ deviceId: 'ac-3', type: 'access.denied', subjects: { cardNo: '6666' } });
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.sos' });
    expect(h.raised.map((a) => [a.ruleId, a.mergeKey])).toEqual([
      ['watch', 'card:6666'],
      ['alarm', 'house:h101'],
    ]);
  });

  it('mergeBy "rule" folds every trigger of the rule into one alert', async () => {
    h = await new RulesHarness([{ id: 'forced', type: 'door-forced', mergeBy: 'rule' }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    await h.ingest({ deviceId: 'ac-3', type: 'door.forced' });
    expect(h.raised).toHaveLength(1);
    expect(h.alertsOf('forced')[0]!.occurrences).toBe(2);
  });
});

describe('hot swap (updateRules)', () => {
  it('re-validates, swaps changed rules, keeps their durable state, and keeps the old version of a rejected rule', async () => {
    h = await new RulesHarness([
      { id: 'stranger', type: 'frequent-stranger', params: { count: 3, minGapMinutes: 0 } },
      { id: 'forced', type: 'door-forced' },
    ]).start();
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    const problems = h.engine.updateRules([
      { id: 'stranger', type: 'frequent-stranger', params: { count: 3, minGapMinutes: 0, windowHours: 48 } },
      { id: 'forced', type: 'door-forced', params: { nope: 1 } },
    ] as never);
    expect(problems).toEqual([{ ruleId: 'forced', field: 'params', message: expect.stringContaining('nope') }]);
    expect(h.engine.activeRules().find((r) => r.id === 'stranger')!.params).toMatchObject({ windowHours: 48 });
    // The rejected update left the running version in place.
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    expect(h.raised.map((a) => a.ruleId)).toEqual(['forced']);
    // The window survived the swap: the third sighting makes the alert.
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B11111' } });
    expect(h.raised.map((a) => a.ruleId)).toEqual(['forced', 'stranger']);
  });

  it('removing a rule stops it and forgets its state', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { minGapMinutes: 0 } }]).start();
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    expect(h.store.ruleState.all('stranger').size).toBeGreaterThan(0);
    h.engine.updateRules([]);
    await h.settle();
    expect(h.engine.activeRules()).toEqual([]);
    expect(h.store.ruleState.all('stranger').size).toBe(0);
  });
});

describe('downtime', () => {
  it('the engine notices how long the gateway was down', async () => {
    h = await new RulesHarness([{ id: 'forced', type: 'door-forced' }]).start();
    await h.advance(10 * MIN);
    await h.stop();
    h.clock.advance(5 * HOUR);
    await h.start();
    const downtime = (h.engine as unknown as { downtime: { fromMs: number; toMs: number } }).downtime;
    expect(downtime.toMs - downtime.fromMs).toBe(5 * HOUR);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { newId } from '../../../gateway/core/ids.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import type { Alert, DeviceEvent } from '../../../gateway/core/model.ts';
import { RULE_CATALOGUE } from '../../../gateway/rules/catalogue/index.ts';
import { longestLookback } from '../../../gateway/rules/lookback.ts';
import type { ResolvedRule } from '../../../gateway/rules/rule-types.ts';
import { EventRetention, type RetentionFloor } from '../../../gateway/store/event-retention.ts';
import { Store } from '../../../gateway/store/store.ts';
import { waitFor } from '../../helpers/net.ts';

const DAY = 86_400_000;

function storeWithEvents(clock: FakeClock, ageDays: number[]): Store {
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-retention-')), 'gridguard.db'));
  store.db.transaction(() => {
    for (const age of ageDays) {
      const at = new Date(clock.now() - age * DAY).toISOString();
      const event = { id: newId(), deviceTime: at, receivedAt: at, deviceId: 'ac-1', deviceKind: 'access-controller', type: 'access.granted', codes: {}, place: { label: '1号门' }, subjects: { cardNo: '1001' }, payload: {} };
      store.events.insert(event as unknown as DeviceEvent);
    }
  })();
  return store;
}

function retention(store: Store, clock: FakeClock, days: number, floor: RetentionFloor | null = null) {
  const metrics = new Metrics();
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((_fields: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
  return { metrics, warnings, service: new EventRetention({ store, days, floor: () => floor, clock, metrics, log }) };
}

const ages = (store: Store, clock: FakeClock) =>
  (store.db.prepare('SELECT received_ms FROM events ORDER BY received_ms').all() as { received_ms: number }[]).map((r) => Math.round((clock.now() - r.received_ms) / DAY));

describe('event retention', () => {
  it('deletes events older than the configured days and counts them; keeps the rest', async () => {
    const clock = new FakeClock();
    const store = storeWithEvents(clock, [45, 31, 29, 1, 0]);
    const { service, metrics } = retention(store, clock, 30);
    expect(await service.sweep()).toBe(2);
    expect(ages(store, clock)).toEqual([29, 1, 0]);
    expect((await metrics.eventsExpired.get()).values[0]!.value).toBe(2);
    expect(await service.sweep()).toBe(0);
    store.close();
  });

  it('never keeps less than the longest rule lookback, and says so once', async () => {
    const clock = new FakeClock();
    const store = storeWithEvents(clock, [9, 7.5, 6, 2, 0]);
    const { service, warnings } = retention(store, clock, 1, { ruleId: 'group-rental', ms: 8 * DAY });
    expect(await service.sweep()).toBe(1);
    expect(ages(store, clock)).toEqual([8, 6, 2, 0]);
    await service.sweep();
    expect(warnings).toEqual(['events are kept 8 days, not 1: rule group-rental looks back that far']);
    store.close();
  });

  it('deletes the alerts\' change-log entries older than the retention; the alerts stay', async () => {
    const clock = new FakeClock();
    const store = storeWithEvents(clock, []);
    const at = (ageDays: number) => new Date(clock.now() - ageDays * DAY).toISOString();
    store.db.transaction(() => {
      for (const [i, age] of [45, 31, 29, 1].entries()) {
        const raised = at(age);
        const alert = { id: `a${i}`, ruleId: 'door-forced-0', ruleType: 'door-forced', severity: 'high', category: 'property', status: 'new', raisedAt: raised, updatedAt: raised, codes: {}, place: { label: '1号门' }, deviceId: 'ac-1', subject: null, message: '1号门 门被强行打开', details: {}, evidence: [], mergeKey: 'ac-1', occurrences: 1, lastTriggeredAt: raised, transitions: [] };
        store.alerts.save(alert as unknown as Alert, 'raised');
      }
    })();
    const { service } = retention(store, clock, 30);
    await service.sweep();
    expect(store.alerts.logSince(0).map((entry) => entry.alertId)).toEqual(['a2', 'a3']);
    expect(store.alerts.list({ limit: 10 })).toHaveLength(4);
    store.close();
  });

  it('deletes a large backlog in several short transactions', async () => {
    const clock = new FakeClock();
    const store = storeWithEvents(clock, [...Array.from({ length: 5_000 }, () => 40), 1]);
    const { service } = retention(store, clock, 30);
    const before = store.writes.stats.batches;
    expect(await service.sweep()).toBe(5_000);
    expect(store.writes.stats.batches - before).toBeGreaterThanOrEqual(3);
    expect(store.events.count()).toBe(1);
    store.close();
  });

  it('runs on its own a minute after start, then every sweep interval', async () => {
    const clock = new FakeClock();
    const store = storeWithEvents(clock, [40]);
    const { service } = retention(store, clock, 30);
    service.start();
    clock.advance(59_000);
    expect(store.events.count()).toBe(1);
    clock.advance(1_000);
    await waitFor(() => store.events.count() === 0, 'the first sweep a minute after start');
    store.events.insert({ id: newId(), deviceTime: '', receivedAt: new Date(clock.now() - 31 * DAY).toISOString(), deviceId: 'ac-1', type: 'x', subjects: {} } as unknown as DeviceEvent);
    clock.advance(60 * 60_000);
    await waitFor(() => store.events.count() === 0, 'the next sweep an hour later');
    await service.stop();
    store.close();
  });

  it('takes the floor from the event-sourced rules of the catalogue', () => {
    const rule = (id: string, type: string, params: Record<string, unknown> = {}) =>
      ({ id, type, params: RULE_CATALOGUE.get(type)!.params.parse(params) }) as unknown as ResolvedRule<unknown>;
    expect(longestLookback([rule('door', 'door-forced')])).toBeNull();
    const floor = longestLookback([rule('gr', 'group-rental', { windowDays: 10 }), rule('door', 'door-forced'), rule('fs', 'frequent-stranger')]);
    expect(floor).toEqual({ ruleId: 'gr', ms: 10 * DAY });
  });
});

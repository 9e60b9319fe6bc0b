/**
 * Alert merging across wall-clock steps, with FakeClock (set() steps wall time only). Triggers of
 * one rule and merge key within the cooldown merge into one open alert; the cooldown is meant as
 * time that passed, so AlertService measures it on clock.monotonic() for the alerts it raised
 * itself (docs/reliability.md, "Clock jumps").
 */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../gateway/core/bus.ts';
import { FakeClock } from '../../gateway/core/clock.ts';
import { silentLogger } from '../../gateway/core/logger.ts';
import { Metrics } from '../../gateway/core/metrics.ts';
import { AlertService, type AlertDraft } from '../../gateway/alerts/alert-service.ts';
import { Store } from '../../gateway/store/store.ts';

const HOUR = 3_600_000;
const COOLDOWN_MS = 300_000;

const draft = (): AlertDraft => ({
  ruleId: 'door-forced',
  ruleType: 'door-forced',
  severity: 'high',
  category: 'property',
  message: '1号门 门被强行打开',
  details: {},
  mergeKey: 'ac-1',
  cooldownMs: COOLDOWN_MS,
  evidence: [],
  deviceId: 'ac-1',
  place: { label: '1号门' } as AlertDraft['place'],
  codes: { addressCode: 'AC1', communityGridCode: 'CG1', policeGridCode: 'PG1' } as AlertDraft['codes'],
  subject: null,
});

function setup() {
  const clock = new FakeClock();
  const alerts = new AlertService({ store: Store.open(':memory:'), bus: new EventBus(), clock, metrics: new Metrics(), log: silentLogger() });
  return { clock, alerts };
}

describe('alert merging across clock steps', () => {
  it('control: a trigger after the cooldown raises a new alert', async () => {
    const { clock, alerts } = setup();
    const first = await alerts.raise(draft());
    clock.advance(COOLDOWN_MS + 60_000);
    const second = await alerts.raise(draft());
    expect(second.id).not.toBe(first.id);
  });

  it('a trigger 30 min after a −1 h step raises a new alert', async () => {
    const { clock, alerts } = setup();
    const first = await alerts.raise(draft());
    clock.set(clock.now() - HOUR);
    clock.advance(30 * 60_000);
    const second = await alerts.raise(draft());
    expect(second.id).not.toBe(first.id);
  });

  it('a trigger 10 s after a +1 h step merges into the open alert', async () => {
    const { clock, alerts } = setup();
    const first = await alerts.raise(draft());
    clock.set(clock.now() + HOUR);
    clock.advance(10_000);
    const second = await alerts.raise(draft());
    expect(second.id).toBe(first.id);
  });
});

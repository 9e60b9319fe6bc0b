import { afterEach, describe, expect, it } from 'vitest';
import { MIN, RulesHarness } from '../rules/harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const rules = [{ id: 'forced', type: 'door-forced', severity: 'medium', escalation: { afterMinutes: 10, severity: 'critical' } }];

describe('alert escalation (升级)', () => {
  it('an alert not acknowledged within N minutes is raised again at the higher severity and flagged to the platform', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    const alert = h.raised[0]!;
    await h.advance(10 * MIN - 1);
    expect(h.updates.filter((u) => u.change === 'escalated')).toHaveLength(0);
    await h.advance(1);
    const escalated = h.updates.filter((u) => u.change === 'escalated');
    expect(escalated).toHaveLength(1);
    expect(escalated[0]!.alert).toMatchObject({ id: alert.id, severity: 'critical', status: 'new' });
    expect(escalated[0]!.alert.message).toBe('[升级] 1号门 门被强行打开 (08:00) (10 分钟未确认)');
    expect(escalated[0]!.alert.details.escalation).toMatchObject({ from: 'medium', to: 'critical', afterMinutes: 10 });
    expect(h.store.alerts.get(alert.id)!.severity).toBe('critical');
    // The platform hears of it through the outbox as an alert update with change 'escalated'.
    const rows = h.store.db.prepare("SELECT body FROM outbox WHERE kind = 'alert-update'").all() as { body: string }[];
    expect(rows.map((r) => JSON.parse(r.body))).toContainEqual(expect.objectContaining({ alertId: alert.id, change: 'escalated', severity: 'critical' }));
    // Once only.
    await h.advance(60 * MIN);
    expect(h.updates.filter((u) => u.change === 'escalated')).toHaveLength(1);
  });

  it('an acknowledged alert does not escalate; a rule without escalation never does', async () => {
    h = await new RulesHarness([...rules, { id: 'alarm', type: 'alarm' }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    await h.advance(5 * MIN);
    await h.alerts.transition(h.raised[0]!.id, 'acknowledged', { by: 'guard' });
    await h.advance(60 * MIN);
    expect(h.updates.filter((u) => u.change === 'escalated')).toHaveLength(0);
  });

  it('pending escalations survive a restart; one that fell due while down escalates once at start', async () => {
    h = new RulesHarness(rules);
    await h.start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.forced' });
    await h.advance(4 * MIN);
    await h.restart();
    await h.advance(6 * MIN);
    expect(h.updates.filter((u) => u.change === 'escalated')).toHaveLength(1);

    await h.ingest({ deviceId: 'ac-3', type: 'door.forced' });
    await h.stop();
    h.clock.advance(30 * MIN);
    await h.start();
    await h.advance(0);
    expect(h.store.alerts.list().filter((a) => a.details.escalation)).toHaveLength(2);
    expect(h.escalation.pending).toBe(0);
  });
});

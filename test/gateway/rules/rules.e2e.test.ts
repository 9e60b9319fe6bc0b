import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { connectDevice, publishEvent, startGateway, testSite } from '../../helpers/gateway.ts';
import { waitFor } from '../../helpers/net.ts';

const HOUR = 3_600_000;

/** Through the real gateway: a real MQTT device over TCP, the real pipeline, SQLite on disk, a restart. */
describe('rules through a real gateway and a real MQTT device', () => {
  it('a frequent-stranger window survives a gateway restart; a bad rule is reported while the others run; escalation reaches the outbox', async () => {
    const clock = new FakeClock(Date.parse('2026-11-02T21:00:00+08:00'));
    const site = await testSite({
      rules: [
        { id: 'stranger', type: 'frequent-stranger', params: { count: 3, windowHours: 24 } },
        { id: 'broken', type: 'tailgating', params: { windowSeconds: -1 } },
        { id: 'forced', type: 'door-forced', severity: 'medium', escalation: { afterMinutes: 5, severity: 'high' } },
      ],
    });
    let gw = await startGateway(site, { clock });
    try {
      const status = (await gw.gateway.status()) as { rules: { active: string[]; problems: { ruleId: string; field: string }[] } };
      expect(status.rules.active).toEqual(['stranger', 'forced']);
      expect(status.rules.problems).toEqual([expect.objectContaining({ ruleId: 'broken', field: 'params.windowSeconds' })]);

      let cam = await connectDevice(gw.mqttUrl, 'cam-1');
      await publishEvent(cam, 'cam-1', { type: 'plate.captured', plate: '闽B·11111' });
      clock.advance(HOUR);
      await publishEvent(cam, 'cam-1', { type: 'plate.captured', plate: '闽B11111' });
      const { store } = gw.gateway.services;
      await waitFor(() => store.events.count() === 2 || undefined, 'two sightings stored');
      await cam.endAsync();
      await gw.stop();

      clock.advance(HOUR);
      gw = await startGateway(site, { clock });
      cam = await connectDevice(gw.mqttUrl, 'cam-1');
      await publishEvent(cam, 'cam-1', { type: 'plate.captured', plate: '闽B 11111' });
      const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'stranger'), 'stranger alert after the restart');
      expect(alert.evidence).toHaveLength(3);
      expect(alert.message).toBe('陌生车辆 闽B11111 24 小时内第 3 次出现 (阈值 3 次), 最近 23:00 于 2号门');
      expect(alert.codes.addressCode).toBe('AC3501020002');
      await cam.endAsync();

      const ac = await connectDevice(gw.mqttUrl, 'ac-1');
      await publishEvent(ac, 'ac-1', { type: 'door.forced' });
      const forced = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'forced'), 'door-forced alert');
      expect(forced.severity).toBe('medium');
      clock.advance(5 * 60_000);
      const escalated = await waitFor(() => {
        const a = gw.gateway.services.store.alerts.get(forced.id);
        return a?.severity === 'high' ? a : undefined;
      }, 'escalated alert');
      expect(escalated.message.startsWith('[升级]')).toBe(true);
      const updates = (gw.gateway.services.store.db.prepare("SELECT body FROM outbox WHERE kind = 'alert-update'").all() as { body: string }[]).map((r) => JSON.parse(r.body));
      expect(updates).toContainEqual(expect.objectContaining({ alertId: forced.id, change: 'escalated', severity: 'high' }));
      await ac.endAsync();
    } finally {
      await gw.stop();
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('alarm (烟感/水浸/燃气/SOS/防拆)', () => {
  it('raises at once with the alarm\'s own severity and category, merged per device and alarm', async () => {
    h = await new RulesHarness([{ id: 'alarm', type: 'alarm' }]).start();
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.sos' });
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.water' });
    await h.ingest({ deviceId: 'smoke-101', type: 'device.tamper' });
    expect(h.raised.map((a) => [a.severity, a.category])).toEqual([
      ['critical', 'property'],
      ['critical', 'police'],
      ['medium', 'property'],
      ['high', 'property'],
    ]);
    expect(h.raised[0]!.message).toBe('1号楼1单元101 烟感报警 (08:00)');
    expect(h.alertsOf('alarm').find((a) => a.details.eventType === 'sensor.smoke')!.occurrences).toBe(2);
  });

  it('only the configured alarm types raise', async () => {
    h = await new RulesHarness([{ id: 'alarm', type: 'alarm', params: { types: ['sensor.gas'] } }]).start();
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.smoke' });
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'smoke-101', type: 'sensor.gas' });
    expect(h.raised[0]!.message).toContain('燃气泄漏报警');
  });
});

describe('camera-tamper (摄像机遮挡/破坏)', () => {
  it('raises per camera with the kind of tampering', async () => {
    h = await new RulesHarness([{ id: 'cam', type: 'camera-tamper' }]).start();
    await h.ingest({ deviceId: 'cam-plate', type: 'camera.tamper', payload: { kind: 'occlusion' } });
    await h.ingest({ deviceId: 'cam-plate', type: 'camera.tamper', payload: { kind: 'moved' } });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toBe('摄像机 2号门车牌机 (2号门) 视频遮挡 (08:00)');
    expect(h.alertsOf('cam')[0]!.occurrences).toBe(2);
  });
});

describe('device-offline (设备离线) with gateway-level suppression', () => {
  const rules = [{ id: 'offline', type: 'device-offline', params: { graceSeconds: 60, gatewayAlertAt: 3, burstSeconds: 120 } }];
  const status = (h: RulesHarness, deviceId: string, online: boolean) =>
    h.bus.emit('device.status', { deviceId, online, at: new Date(h.clock.now()).toISOString(), reason: online ? 'back' : 'no heartbeat for 180 s' });

  it('a device back within the grace period raises nothing; one that stays away raises one alert', async () => {
    h = await new RulesHarness(rules).start();
    status(h, 'ac-1', false);
    await h.advance(59_000);
    status(h, 'ac-1', true);
    await h.advance(MIN);
    expect(h.raised).toHaveLength(0);
    status(h, 'ac-1', false);
    await h.advance(60_000);
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toBe('设备 ac-1 (1号门) 离线: no heartbeat for 180 s');
  });

  it('many devices offline together make one gateway-level alert instead of one per device', async () => {
    h = await new RulesHarness(rules).start();
    for (const id of ['ac-1', 'ac-3', 'cam-1', 'dp-101']) status(h, id, false);
    await h.advance(61_000);
    expect(h.raised).toHaveLength(1);
    const alert = h.raised[0]!;
    expect(alert.mergeKey).toBe('__gateway');
    expect(alert.severity).toBe('high');
    expect(alert.message).toContain('网关下 4 台设备同时离线');
    expect(h.alertsOf('offline')[0]!.occurrences).toBe(4);
  });

  it('two devices (below the threshold) raise per device', async () => {
    h = await new RulesHarness(rules).start();
    status(h, 'ac-1', false);
    status(h, 'ac-3', false);
    await h.advance(61_000);
    expect(h.raised.map((a) => a.mergeKey).sort()).toEqual(['ac-1', 'ac-3']);
  });
});

describe('watchlist-hit (布控命中)', () => {
  it('severity from the entry\'s level; a guard-readable message; expired entries do not hit', async () => {
    h = await new RulesHarness([{ id: 'watch', type: 'watchlist-hit' }]).start();
    await h.at('2026-11-02T22:41:00+08:00');
    const e = await h.ingest({ deviceId: 'ac-3', type: 'access.denied', subjects: { cardNo: '6666' } });
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽A88888' } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '5555' } }); // entry expired 11-01
    expect(h.raised.map((a) => a.severity)).toEqual(['critical', 'high']);
    expect(h.raised[0]!.message).toBe('重点人员(卡号 6666)(布控:在逃) 于 22:41 出现在 3号门');
    expect(h.raised[0]!).toMatchObject({ category: 'police', evidence: [e.id] });
    expect(h.raised[0]!.details).toMatchObject({ watchEntry: 'w1', level: 'critical', reason: '在逃', rule: 'watch' });
    expect(h.raised[1]!.message).toBe('布控车辆 闽A88888(布控:涉案车辆) 于 22:41 出现在 2号门');
  });

  it('outside the circle nothing is raised', async () => {
    h = await new RulesHarness([{ id: 'watch', type: 'watchlist-hit', scope: { gates: ['gate-1'] } }]).start();
    await h.ingest({ deviceId: 'ac-3', type: 'access.denied', subjects: { cardNo: '6666' } });
    expect(h.raised).toHaveLength(0);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const armedAtNight = { windows: [{ from: '22:00', to: '06:00' }] };

describe('armed-zone-intrusion (周界入侵)', () => {
  it('raises inside the armed schedule, not outside; merged per zone', async () => {
    h = await new RulesHarness([{ id: 'perimeter', type: 'armed-zone-intrusion', schedule: armedAtNight }]).start();
    await h.ingest({ deviceId: 'cam-north', type: 'intrusion.detected' }); // 08:00: disarmed
    expect(h.raised).toHaveLength(0);
    await h.at('2026-11-02T22:41:00+08:00');
    const e = await h.ingest({ deviceId: 'cam-north', type: 'intrusion.detected' });
    await h.ingest({ deviceId: 'cam-north', type: 'intrusion.detected' });
    await h.ingest({ deviceId: 'cam-south', type: 'intrusion.detected' });
    expect(h.raised).toHaveLength(2);
    expect(h.raised[0]!).toMatchObject({ severity: 'high', evidence: [e.id], mergeKey: 'z-north' });
    expect(h.raised[0]!.message).toBe('周界入侵: 北围墙 于 22:41 检测到入侵 (北围墙, 设备 cam-north)');
    await h.at('2026-11-03T06:00:00+08:00');
    await h.ingest({ deviceId: 'cam-north', type: 'intrusion.detected' });
    expect(h.alertsOf('perimeter').reduce((n, a) => n + a.occurrences, 0)).toBe(3);
  });

  it('detections count only when configured; events without a zone and zones outside the scope do not', async () => {
    h = await new RulesHarness([
      { id: 'perimeter', type: 'armed-zone-intrusion', params: { types: ['intrusion.detected', 'person.passed'] }, scope: { zones: ['z-north'] } },
    ]).start();
    await h.ingest({ deviceId: 'cam-north', type: 'face.captured', subjects: { faceId: 'f1' } });
    await h.ingest({ deviceId: 'cam-1', type: 'intrusion.detected' }); // gate camera, no zone
    await h.ingest({ deviceId: 'cam-south', type: 'intrusion.detected' });
    expect(h.raised).toHaveLength(0);
    await h.ingest({ deviceId: 'cam-north', type: 'person.passed' });
    expect(h.raised[0]!.message).toContain('检测到人员');
    // A camera may place an event in a zone itself.
    await h.ingest({ deviceId: 'cam-1', type: 'intrusion.detected', zone: 'z-north' });
    expect(h.alertsOf('perimeter')[0]!.occurrences).toBe(2);
  });
});

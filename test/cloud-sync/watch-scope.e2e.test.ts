import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { command, platformKeys, PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

/** ac-1 stands at gate-1, ac-2 in building b1 (test/helpers/gateway.ts). */
describe.skipIf(!haveMosquitto)('watchlist entries from the platform with a circle scope (real mosquitto)', () => {
  const broker = new Mosquitto();
  const keys = platformKeys();
  let gw: TestGateway;
  let platform: PlatformPeer;

  const watchAlerts = () => gw.gateway.services.store.alerts.list().filter((a) => a.ruleId === 'watchlist-hit');

  beforeAll(async () => {
    await broker.start();
    platform = await new PlatformPeer(broker.url).connect();
    gw = await startGateway(await testSite({ platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, commandPublicKey: keys.publicKeyFile, heartbeatSeconds: 0 } }));
    await waitFor(() => gw.gateway.services.uplink?.state.commands?.subscribed, 'gateway subscribed to cmd');
    await platform.client.publishAsync(
      `${ROOT}/cmd`,
      JSON.stringify(
        command(keys, 'scope-1', 'watchlist.upsert', {
          entries: [
            { id: 'w-gate1', subject: { type: 'card', value: '7777' }, level: 'high', reason: '一号门布控', scope: { gates: ['gate-1'] } },
            // The same card twice: a critical entry scoped to b1 and a low one everywhere.
            { id: 'w-b1', subject: { type: 'card', value: '5555' }, level: 'critical', reason: '楼内布控', scope: { buildings: ['b1'] } },
            { id: 'w-all', subject: { type: 'card', value: '5555' }, level: 'low', reason: '全域布控' },
          ],
        }),
      ),
      { qos: 1 },
    );
    await waitFor(() => platform.result('scope-1'), 'result of scope-1');
    expect(platform.result('scope-1')).toMatchObject({ status: 'ok', result: { upserted: 3 } });
  });

  afterAll(async () => {
    await gw?.stop();
    await platform?.close();
    await broker.stop();
  });

  it('a scoped entry fires at a gate inside its circle and not outside it', async () => {
    const ac1 = await connectDevice(gw.mqttUrl, 'ac-1');
    const ac2 = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(ac2, 'ac-2', { type: 'access.denied', cardNo: '7777' });
    await publishEvent(ac1, 'ac-1', { type: 'access.denied', cardNo: '7777' });
    const inside = await waitFor(() => watchAlerts().find((a) => a.details.watchEntry === 'w-gate1'), 'alert for w-gate1 at gate-1');
    expect(inside.deviceId).toBe('ac-1');
    expect(inside.place.gate).toBe('gate-1');
    // Rules see events in order: a later alert at ac-2 proves the earlier ac-2 event was judged.
    await publishEvent(ac2, 'ac-2', { type: 'access.denied', cardNo: '6666' });
    await waitFor(() => watchAlerts().find((a) => a.details.watchEntry === 'w1' && a.deviceId === 'ac-2'), 'sentinel alert for w1 at ac-2');
    expect(watchAlerts().filter((a) => a.details.watchEntry === 'w-gate1').map((a) => a.deviceId)).toEqual(['ac-1']);
    // Identification still says who the subject is; the scope decides where the hit alerts.
    const outside = gw.gateway.services.store.db
      .prepare("SELECT body FROM events WHERE device_id = 'ac-2' ORDER BY received_ms")
      .all()
      .map((r: any) => JSON.parse(r.body))
      .find((e: any) => e.subjects.cardNo === '7777');
    expect(outside.identity).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w-gate1' } });
    await ac1.endAsync();
    await ac2.endAsync();
  });

  it('outside a scoped entry’s circle, another in-scope entry for the same subject fires instead', async () => {
    const ac1 = await connectDevice(gw.mqttUrl, 'ac-1');
    const ac2 = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(ac2, 'ac-2', { type: 'access.denied', cardNo: '5555' });
    const inB1 = await waitFor(() => watchAlerts().find((a) => a.deviceId === 'ac-2' && a.message.includes('5555')), 'alert for 5555 in b1');
    expect(inB1.details).toMatchObject({ watchEntry: 'w-b1', level: 'critical' });
    expect(inB1.severity).toBe('critical');
    await publishEvent(ac1, 'ac-1', { type: 'access.denied', cardNo: '5555' });
    const atGate = await waitFor(() => watchAlerts().find((a) => a.deviceId === 'ac-1' && a.message.includes('5555')), 'alert for 5555 at gate-1');
    expect(atGate.details).toMatchObject({ watchEntry: 'w-all', level: 'low', matchedBy: 'card' });
    expect(atGate.severity).toBe('low');
    expect(atGate.subject?.identity?.watch?.entryId).toBe('w-all');
    await ac1.endAsync();
    await ac2.endAsync();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpcuaDriver } from '../../../device-drivers/opcua/opcua-driver.ts';
import { waitFor as waitWithin } from '../../helpers/net.ts';
import { opcuaDevice, opcuaServer, RecordingContext, tempPki } from './context.ts';
import { OpcuaFixture } from './fixture.ts';

const NS = 'ns=1;s=';
/** Generous deadlines: the machine is shared; none of these is a timing assertion. */
const waitFor = <T>(check: () => T | Promise<T>, what: string, ms = 30_000) => waitWithin(check, what, ms);

describe('OPC-UA driver against a real node-opcua server in a child process', () => {
  const fixture = new OpcuaFixture();
  let rec: RecordingContext;
  let driver: OpcuaDriver;

  beforeAll(async () => {
    await fixture.start();
    const devices = [
      opcuaDevice({
        id: 'perimeter-1',
        kind: 'sensor',
        opcua: {
          server: 'alarm-host',
          nodes: [
            { nodeId: `${NS}Perimeter.Zone1.Alarm`, name: '北围墙 1 防区', zone: 'z-north', normal: false, events: [{ value: true, type: 'intrusion.detected' }, { value: false, type: 'sensor.restored' }] },
            { nodeId: `${NS}Perimeter.Zone2.Alarm`, zone: 'z-south', normal: false, events: [{ value: true, type: 'intrusion.detected' }] },
          ],
        },
      }),
      opcuaDevice({
        id: 'fire-panel-1',
        kind: 'sensor',
        opcua: {
          server: 'alarm-host',
          nodes: [
            { nodeId: `${NS}FirePanel.Alarm`, normal: false, events: [{ value: true, type: 'sensor.fire', payload: { loop: 1 } }, { value: false, type: 'sensor.restored' }] },
            { nodeId: `${NS}FirePanel.NoSuchNode`, events: [{ value: true, type: 'sensor.fire' }] },
            { nodeId: `${NS}FirePanel.State`, normal: 0, events: [{ value: 2, type: 'sensor.fire' }] },
          ],
        },
      }),
      opcuaDevice({
        id: 'siren-1',
        kind: 'alarm-output',
        opcua: {
          server: 'alarm-host',
          nodes: [{ nodeId: `${NS}Relay.Siren`, events: [{ value: true, type: 'sensor.fire' }] }],
          commands: [
            { command: 'alarm.on', nodeId: `${NS}Relay.Siren`, value: true },
            { command: 'alarm.off', nodeId: `${NS}Relay.Siren`, value: false },
            { command: 'relay.pulse', nodeId: `${NS}Relay.Siren`, value: true, pulseMs: 300, resetValue: false },
            { command: 'relay.set', nodeId: `${NS}Relay.Siren` },
            { command: 'panel.silence', nodeId: `${NS}FirePanel.Alarm`, value: false },
          ],
        },
      }),
    ];
    rec = new RecordingContext(devices);
    const server = opcuaServer({
      id: 'alarm-host',
      endpoint: fixture.endpoint,
      acceptUnknownServerCertificate: true,
      publishingIntervalMs: 50,
      samplingIntervalMs: 0,
      keepAliveCount: 10,
      lifetimeCount: 60,
      requestTimeoutMs: 5_000,
      reconnectMinMs: 100,
      reconnectMaxMs: 1_000,
    });
    driver = new OpcuaDriver(rec.ctx, [server], { pkiDir: tempPki() });
    await driver.start();
    await waitFor(() => driver.health()['alarm-host']?.connected, `driver connected to ${fixture.endpoint}`, 60_000);
  }, 180_000);

  afterAll(async () => {
    await driver?.stop();
    await fixture.stop();
  });

  const eventsOf = (deviceId: string) => rec.events.filter((e) => e.deviceId === deviceId);

  it('maps value changes to events with the zone, and stays quiet on the normal start-up values', async () => {
    expect(rec.events).toEqual([]);
    await fixture.set('Perimeter.Zone1.Alarm', true);
    const intrusion = await waitFor(() => eventsOf('perimeter-1').find((e) => e.type === 'intrusion.detected'), 'intrusion event');
    expect(intrusion).toMatchObject({ zone: 'z-north', payload: { server: 'alarm-host', nodeId: `${NS}Perimeter.Zone1.Alarm`, node: '北围墙 1 防区', value: true } });
    expect(typeof intrusion.ts).toBe('number');

    await fixture.set('Perimeter.Zone1.Alarm', false);
    await waitFor(() => eventsOf('perimeter-1').find((e) => e.type === 'sensor.restored'), 'restored event');

    await fixture.set('Perimeter.Zone2.Alarm', true);
    await waitFor(() => eventsOf('perimeter-1').find((e) => e.zone === 'z-south'), 'zone 2 intrusion');
    // false has no mapping on zone 2: nothing may come of it, checked by a later event overtaking nothing.
    await fixture.set('Perimeter.Zone2.Alarm', false);
    await fixture.set('FirePanel.Alarm', true);
    const fire = await waitFor(() => eventsOf('fire-panel-1').find((e) => e.type === 'sensor.fire'), 'fire event');
    expect(fire.payload).toMatchObject({ nodeId: `${NS}FirePanel.Alarm`, value: true, loop: 1 });
    expect(eventsOf('perimeter-1').map((e) => `${e.type}@${e.zone}`)).toEqual(['intrusion.detected@z-north', 'sensor.restored@z-north', 'intrusion.detected@z-south']);

    await fixture.set('FirePanel.State', 2);
    await waitFor(() => eventsOf('fire-panel-1').find((e) => e.payload?.nodeId === `${NS}FirePanel.State`), 'numeric fire state event');
    expect(rec.seen).toEqual(expect.arrayContaining(['perimeter-1', 'fire-panel-1']));
    expect(driver.health()['alarm-host']!.framesOk).toBeGreaterThanOrEqual(6);
  });

  it('a NodeId the server does not know gives a clear error for that item while the others keep working', async () => {
    const refused = driver.problems().find((p) => p.nodeId === `${NS}FirePanel.NoSuchNode`);
    expect(refused).toMatchObject({ deviceId: 'fire-panel-1', server: 'alarm-host', statusCode: expect.stringContaining('BadNodeIdUnknown') });
    expect(refused!.message).toMatch(/device fire-panel-1: .*alarm-host.*ns=1;s=FirePanel\.NoSuchNode.*BadNodeIdUnknown/);
    expect(rec.logLines.some((l) => l.level === 50 && l.msg === refused!.message)).toBe(true);
    // The siren's node maps to an event an alarm output cannot report: refused by the config, not the server.
    expect(driver.problems().find((p) => p.deviceId === 'siren-1')?.message).toMatch(/maps true to sensor\.fire, which a device of kind alarm-output cannot report/);
    expect(await rec.rejected()).toMatchObject({ 'opcua/node-refused': 1, 'opcua/type-not-allowed': 1 });
    expect(driver.health()['alarm-host']!.detail).toMatch(/monitoring 4 of 5 nodes; refused: fire-panel-1 ns=1;s=FirePanel\.NoSuchNode: BadNodeIdUnknown/);

    const before = eventsOf('fire-panel-1').length;
    await fixture.set('FirePanel.Alarm', false);
    await waitFor(() => eventsOf('fire-panel-1').length > before, 'fire panel still reporting');
    expect(eventsOf('fire-panel-1').at(-1)!.type).toBe('sensor.restored');
  });

  it('commands write nodes: on, off, a timed pulse, a value from params; refusals are reported', async () => {
    expect(await driver.sendCommand('siren-1', { id: 'c1', type: 'alarm.on' })).toMatchObject({ id: 'c1', ok: true });
    expect(await fixture.get('Relay.Siren')).toBe(true);
    expect(await driver.sendCommand('siren-1', { id: 'c2', type: 'alarm.off' })).toMatchObject({ ok: true });
    expect(await fixture.get('Relay.Siren')).toBe(false);

    expect(await driver.sendCommand('siren-1', { id: 'c3', type: 'relay.pulse' })).toMatchObject({ ok: true, data: { resetAfterMs: 300 } });
    expect(await fixture.get('Relay.Siren')).toBe(true);
    await waitFor(async () => (await fixture.get('Relay.Siren')) === false, 'relay reset after the pulse');

    expect(await driver.sendCommand('siren-1', { id: 'c4', type: 'relay.set', params: { value: 1 } })).toMatchObject({ ok: true, data: { value: true } });
    expect(await fixture.get('Relay.Siren')).toBe(true);
    const bad = await driver.sendCommand('siren-1', { id: 'c5', type: 'relay.set', params: { value: 'maybe' } });
    expect(bad).toMatchObject({ ok: false, error: expect.stringMatching(/siren-1.*relay\.set.*not a Boolean/) });
    await driver.sendCommand('siren-1', { id: 'c6', type: 'alarm.off' });

    const readOnly = await driver.sendCommand('siren-1', { id: 'c7', type: 'panel.silence' });
    expect(readOnly).toMatchObject({ ok: false, error: expect.stringMatching(/siren-1: writing ns=1;s=FirePanel\.Alarm failed: BadNotWritable/) });
    expect(await driver.sendCommand('siren-1', { id: 'c8', type: 'door.open' })).toMatchObject({ ok: false, error: expect.stringContaining('no OPC-UA command "door.open"') });
    expect(await driver.sendCommand('nobody', { id: 'c9', type: 'alarm.on' })).toMatchObject({ ok: false });
  });

  it('a value with a bad status is counted and ignored, and the node reports again once good', async () => {
    const bad = driver.health()['alarm-host']!.framesBad;
    const before = eventsOf('perimeter-1').length;
    await fixture.fault('Perimeter.Zone2.Alarm', true);
    await waitFor(() => driver.health()['alarm-host']!.framesBad > bad, 'bad frame counted');
    expect(await rec.rejected()).toMatchObject({ 'opcua/bad-status': 1 });
    expect(rec.logLines.some((l) => /perimeter-1: node ns=1;s=Perimeter\.Zone2\.Alarm reported BadCommunicationError/.test(l.msg))).toBe(true);
    expect(eventsOf('perimeter-1').length).toBe(before);
    await fixture.set('Perimeter.Zone2.Alarm', true);
    await waitFor(() => eventsOf('perimeter-1').length > before, 'event once the value is good again');
    expect(eventsOf('perimeter-1').at(-1)).toMatchObject({ type: 'intrusion.detected', zone: 'z-south' });
    await fixture.set('Perimeter.Zone2.Alarm', false);
  });

  it('after the server is killed and restarted on the same port, the subscription and every item come back', async () => {
    const link = driver.link('alarm-host')!;
    // One restart keeps the file quick; the frozen-server test below rebuilds the same link a second time.
    const restarts = 1;
    for (let cycle = 1; cycle <= restarts; cycle++) {
      await fixture.set('Perimeter.Zone1.Alarm', true);
      await waitFor(() => eventsOf('perimeter-1').filter((e) => e.type === 'intrusion.detected' && e.zone === 'z-north').length === cycle + 1, `zone 1 alarm before outage ${cycle}`);
      const subscriptions = link.subscriptionsCreated;
      const offlineBefore = rec.offline.length;

      await fixture.kill();
      await waitFor(() => !driver.health()['alarm-host']!.connected, 'link marked disconnected');
      await waitFor(() => rec.offline.length >= offlineBefore + 3, 'devices reported offline');
      expect(rec.offline.at(-1)!.reason).toMatch(/^OPC-UA server alarm-host lost: /);
      expect(await driver.sendCommand('siren-1', { id: `down-${cycle}`, type: 'alarm.on' })).toMatchObject({ ok: false, error: expect.stringContaining('not connected') });

      const seenBefore = rec.seen.length;
      const eventsBefore = rec.events.length;
      await fixture.start();
      await waitFor(() => driver.health()['alarm-host']!.connected, `reconnected after restart ${cycle}`, 60_000);
      expect(driver.health()['alarm-host']!.reconnects).toBe(cycle);
      expect(link.subscriptionsCreated).toBe(subscriptions + 1);
      await waitFor(() => rec.seen.length > seenBefore, 'devices seen again');
      // The restarted server came back with zone 1 quiet: the change during the outage is reported.
      await waitFor(() => rec.events.slice(eventsBefore).find((e) => e.type === 'sensor.restored' && e.zone === 'z-north'), 'zone 1 restored after restart');

      // Every good item was re-created: each one delivers again.
      await fixture.set('Perimeter.Zone2.Alarm', true);
      await fixture.set('FirePanel.Alarm', true);
      await fixture.set('FirePanel.State', 2);
      await waitFor(() => {
        const after = rec.events.slice(eventsBefore);
        return (
          after.some((e) => e.type === 'intrusion.detected' && e.zone === 'z-south') &&
          after.some((e) => e.type === 'sensor.fire' && e.payload?.nodeId === `${NS}FirePanel.Alarm`) &&
          after.some((e) => e.type === 'sensor.fire' && e.payload?.nodeId === `${NS}FirePanel.State`)
        );
      }, `every monitored item delivering after restart ${cycle}`);
      expect(driver.problems().find((p) => p.nodeId === `${NS}FirePanel.NoSuchNode`)?.statusCode).toContain('BadNodeIdUnknown');
      expect(await driver.sendCommand('siren-1', { id: `up-${cycle}`, type: 'alarm.on' })).toMatchObject({ ok: true });
      expect(await fixture.get('Relay.Siren')).toBe(true);
    }
  }, 240_000);

  it('a frozen server (process stopped, socket open) is detected by the keep-alive watchdog and rebuilt when it thaws', async () => {
    const link = driver.link('alarm-host')!;
    const reconnects = driver.health()['alarm-host']!.reconnects;
    const subscriptions = link.subscriptionsCreated;
    fixture.freeze();
    try {
      await waitFor(() => !driver.health()['alarm-host']!.connected, 'watchdog noticing the silence', 60_000);
      expect(driver.health()['alarm-host']!.detail).toMatch(/no keep-alive for \d+ s|connection|timeout/i);
    } finally {
      fixture.thaw();
    }
    await waitFor(() => driver.health()['alarm-host']!.connected, 'reconnected after thaw', 60_000);
    expect(driver.health()['alarm-host']!.reconnects).toBe(reconnects + 1);
    expect(link.subscriptionsCreated).toBe(subscriptions + 1);
    const before = rec.events.length;
    await fixture.set('Perimeter.Zone2.Alarm', false);
    await fixture.set('Perimeter.Zone2.Alarm', true);
    await waitFor(() => rec.events.slice(before).find((e) => e.type === 'intrusion.detected' && e.zone === 'z-south'), 'events after thaw');
  }, 180_000);
});

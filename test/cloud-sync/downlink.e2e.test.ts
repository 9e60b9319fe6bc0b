import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { CommandResultSchema } from '../../cloud-sync/messages.ts';
import { command, platformKeys, PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('downlink commands from the platform (real mosquitto)', () => {
  const broker = new Mosquitto();
  const keys = platformKeys();
  let site: Record<string, unknown>;
  let gw: TestGateway;
  let platform: PlatformPeer;

  const send = async (cmd: unknown) => {
    await platform.client.publishAsync(`${ROOT}/cmd`, typeof cmd === 'string' ? cmd : JSON.stringify(cmd), { qos: 1 });
  };
  const resultOf = (id: string | null, nth = 1) =>
    waitFor(() => {
      const all = platform.results().filter((r) => r.id === id);
      return all.length >= nth ? all[nth - 1] : undefined;
    }, `result of command ${id}`);
  const watchIds = () => gw.gateway.services.identifier.watchEntries().map((w) => w.id).sort();

  beforeAll(async () => {
    await broker.start();
    platform = await new PlatformPeer(broker.url).connect();
    site = await testSite({ platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, commandPublicKey: keys.publicKeyFile, heartbeatSeconds: 0 } });
    gw = await startGateway(site);
    await waitFor(() => gw.gateway.services.uplink?.state.commands?.subscribed, 'gateway subscribed to cmd');
  });

  afterAll(async () => {
    // Every result matches the documented schema (docs/schemas/uplink/command-result.schema.json).
    for (const result of platform?.results() ?? []) CommandResultSchema.parse(result);
    await gw?.stop();
    await platform?.close();
    await broker.stop();
  });

  it('answers ping and applies a watchlist upsert that identification uses at once', async () => {
    await send(command(keys, 'ping-1', 'ping', {}));
    expect(await resultOf('ping-1')).toMatchObject({ v: 1, id: 'ping-1', gatewayId: 'gw-test-1', status: 'ok' });

    await send(
      command(keys, 'wl-1', 'watchlist.upsert', {
        entries: [{ id: 'w-plat-1', subject: { type: 'card', value: '7777' }, level: 'high', reason: '平台布控', scope: { gates: ['gate-1'] } }],
      }),
    );
    expect(await resultOf('wl-1')).toMatchObject({ status: 'ok', result: { upserted: 1 } });
    expect(watchIds()).toEqual(['w-plat-1', 'w1', 'w2']);
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'access.denied', cardNo: '7777' });
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.message.includes('平台布控')), 'watchlist alert for the platform entry');
    expect(alert.severity).toBe('high');
    await device.endAsync();
  });

  it('moves an alert on a platform disposition, shows it locally and reports the transition back up', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(device, 'ac-2', { type: 'door.forced' });
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'door-forced' && a.deviceId === 'ac-2'), 'door-forced alert');
    await send(command(keys, 'disp-1', 'alert.disposition', { alertId: alert.id, status: 'dispatched', by: '网格员王五', note: '已派警' }));
    expect(await resultOf('disp-1')).toMatchObject({ status: 'ok', result: { alertId: alert.id, status: 'dispatched' } });
    const local = gw.gateway.services.alerts.get(alert.id)!;
    expect(local.status).toBe('dispatched');
    expect(local.transitions.at(-1)).toMatchObject({ from: 'new', to: 'dispatched', by: 'platform:网格员王五', note: '已派警', source: 'platform' });
    const update = await waitFor(
      () => platform.messages.filter((m) => m.topic === `${ROOT}/alert-updates`).flatMap((m) => m.body.items).find((i: any) => i.alertId === alert.id && i.transition?.to === 'dispatched'),
      'alert update on the platform',
    );
    expect(update.transition.source).toBe('platform');

    // Resolving needs a note: a command without one is refused and changes nothing.
    await send(command(keys, 'disp-2', 'alert.disposition', { alertId: alert.id, status: 'resolved', by: '网格员王五' }));
    expect(await resultOf('disp-2')).toMatchObject({ status: 'error', code: 'invalid-payload' });
    await send(command(keys, 'disp-3', 'alert.disposition', { alertId: 'no-such-alert', status: 'resolved', by: 'x', note: 'y' }));
    expect(await resultOf('disp-3')).toMatchObject({ status: 'error', code: 'not-found' });
    expect(gw.gateway.services.alerts.get(alert.id)!.status).toBe('dispatched');
    await device.endAsync();
  });

  it('refuses bad JSON, unknown types, bad signatures, other gateways’ and invalid commands, changing nothing', async () => {
    const before = watchIds();
    const persons = [...gw.gateway.services.identifier.allPersons()].map((p) => p.id).sort();
    const upsert = (id: string) => ({ entries: [{ id, subject: { type: 'plate', value: '闽D00001' }, level: 'low', reason: 'x' }] });

    await send('{"id": "bad-json-1", "type": ');
    const tampered = { ...command(keys, 'tampered-1', 'watchlist.upsert', upsert('w-evil-1')) };
    tampered.payload = upsert('w-evil-2');
    const { sig: _sig, ...unsigned } = command(keys, 'unsigned-1', 'watchlist.upsert', upsert('w-evil-3'));
    const foreignKey = platformKeys();
    const cases: [string | null, unknown, string][] = [
      [null, null, 'bad-json'],
      ['tampered-1', tampered, 'bad-signature'],
      ['unsigned-1', unsigned, 'invalid-command'],
      ['foreign-1', command(foreignKey, 'foreign-1', 'watchlist.upsert', upsert('w-evil-4')), 'bad-signature'],
      ['other-gw-1', command(keys, 'other-gw-1', 'watchlist.upsert', upsert('w-evil-5'), { gatewayId: 'gw-other' }), 'wrong-gateway'],
      ['unknown-1', command(keys, 'unknown-1', 'self.destruct', {}), 'unknown-type'],
      ['invalid-1', command(keys, 'invalid-1', 'watchlist.upsert', { entries: [{ id: 'w-evil-6', subject: { type: 'shoe', value: '42' }, level: 'low', reason: 'x' }] }), 'invalid-payload'],
      ['invalid-2', command(keys, 'invalid-2', 'registry.sync', { mode: 'delta', persons: [{ id: 'p9', kind: 'resident', name: '赵六', houses: ['h999'] }] }), 'invalid-payload'],
      ['old-1', command(keys, 'old-1', 'watchlist.upsert', upsert('w-evil-7'), { issuedAt: '2020-01-01T00:00:00Z' }), 'expired'],
      ['reload-1', command(keys, 'reload-1', 'config.reload', {}), 'not-supported'],
    ];
    for (const [, cmd] of cases.slice(1)) await send(cmd);
    for (const [id, , code] of cases) expect(await resultOf(id), `command ${id}`).toMatchObject({ status: 'error', code });
    expect(platform.result(null).error).toMatch(/cmd: not JSON/);
    expect(platform.result('invalid-1').error).toMatch(/payload\.entries\[0\]\.subject\.type/);
    expect(platform.result('invalid-2').error).toMatch(/persons\[0\]\.houses\[0\]: unknown house "h999"/);
    expect(watchIds()).toEqual(before);
    expect([...gw.gateway.services.identifier.allPersons()].map((p) => p.id).sort()).toEqual(persons);
    const rejected = await gw.gateway.metrics.rejectedSummary();
    for (const code of ['bad-json', 'bad-signature', 'invalid-command', 'wrong-gateway', 'unknown-type', 'invalid-payload', 'expired', 'not-supported'])
      expect(rejected[`platform/${code}`], code).toBeGreaterThan(0);
    expect(rejected['platform/bad-signature']).toBe(2);
    const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text().catch(() => '');
    if (metrics) expect(metrics).toMatch(/gridguard_platform_commands_total\{type="watchlist.upsert",status="error",code="bad-signature"\} 2/);

    // A refused unsigned command does not burn its id: the genuine command with that id still applies.
    await send(command(keys, 'tampered-1', 'watchlist.upsert', upsert('w-good-1')));
    expect(await resultOf('tampered-1', 2)).toMatchObject({ status: 'ok' });
    expect(watchIds()).toContain('w-good-1');
  });

  it('applies each command id once: a redelivered command is answered from the record', async () => {
    const remove = command(keys, 'rm-w2', 'watchlist.remove', { ids: ['w2'] });
    await send(remove);
    expect(await resultOf('rm-w2')).toMatchObject({ status: 'ok', result: { removed: 1 } });
    expect(watchIds()).not.toContain('w2');
    await send(command(keys, 'add-w2', 'watchlist.upsert', { entries: [{ id: 'w2', subject: { type: 'plate', value: '闽A·88888' }, level: 'high', reason: '涉案车辆' }] }));
    await resultOf('add-w2');
    await send(remove);
    const again = await resultOf('rm-w2', 2);
    expect(again).toMatchObject({ status: 'ok', duplicate: true, result: { removed: 1 } });
    expect(watchIds()).toContain('w2');
    expect(gw.gateway.services.uplink!.state.commands!.duplicates).toBe(1);
  });

  it('syncs the registry by snapshot and delta', async () => {
    const ids = () => [...gw.gateway.services.identifier.allPersons()].map((p) => p.id).sort();
    await send(
      command(keys, 'reg-snap-1', 'registry.sync', {
        mode: 'snapshot',
        persons: [
          { id: 'p1', kind: 'resident', name: '张三', houses: ['h101'], credentials: [{ type: 'card', value: '1001' }] },
          { id: 'p3', kind: 'resident', name: '王五', houses: ['h101'], credentials: [{ type: 'plate', value: '闽A·55555' }] },
        ],
      }),
    );
    expect(await resultOf('reg-snap-1')).toMatchObject({ status: 'ok', result: { mode: 'snapshot', upserted: 2, removed: 1 } });
    expect(ids()).toEqual(['p1', 'p3']);
    const identifier = gw.gateway.services.identifier;
    expect(identifier.identify({ plate: '闽A55555' }, Date.now())).toMatchObject({ kind: 'resident', personId: 'p3' });
    expect(identifier.identify({ cardNo: '1002' }, Date.now())).toEqual({ kind: 'unknown' });

    await send(command(keys, 'reg-delta-1', 'registry.sync', { mode: 'delta', persons: [{ id: 'v1', kind: 'visitor', name: '访客', houses: ['h101'], credentials: [{ type: 'card', value: '9001' }] }], removed: ['p3'] }));
    expect(await resultOf('reg-delta-1')).toMatchObject({ status: 'ok', result: { mode: 'delta', upserted: 1, removed: 1 } });
    expect(ids()).toEqual(['p1', 'v1']);
    expect(identifier.identify({ plate: '闽A55555' }, Date.now())).toEqual({ kind: 'unknown' });
  });

  it('delivers commands sent while the gateway was offline once it reconnects (persistent session)', async () => {
    await gw.stop();
    const offlineStatus = await waitFor(() => platform.messages.filter((m) => m.topic === `${ROOT}/status`).at(-1)?.body.state === 'offline', 'offline status');
    expect(offlineStatus).toBe(true);
    await send(command(keys, 'offline-1', 'watchlist.upsert', { entries: [{ id: 'w-offline', subject: { type: 'person', value: 'p1' }, level: 'medium', reason: '离线下发' }] }));
    await send(command(keys, 'offline-2', 'rules.update', { rules: [{ id: 'access-denied-repeat', params: { count: 3 } }] }));
    await send(command(keys, 'offline-3', 'rules.update', { rules: [{ id: 'access-denied-repeat', params: { count: 'three' } }] }));
    await send(command(keys, 'offline-4', 'rules.update', { rules: [{ id: 'no-such-rule', params: {} }] }));
    await new Promise((r) => setTimeout(r, 200));
    expect(platform.result('offline-1')).toBeUndefined();

    gw = await startGateway(site);
    expect(await resultOf('offline-1')).toMatchObject({ status: 'ok' });
    expect(watchIds()).toContain('w-offline');
    const rulesResult = await resultOf('offline-2');
    expect(rulesResult).toMatchObject({ status: 'ok', result: { stored: true, rules: ['access-denied-repeat'] } });
    const stored = gw.gateway.services.store.db.prepare('SELECT body FROM platform_rule_params WHERE rule_id = ?').get('access-denied-repeat') as { body: string };
    expect(JSON.parse(stored.body)).toEqual({ id: 'access-denied-repeat', params: { count: 3 } });
    const canHotReload = typeof (gw.gateway.services.rules as unknown as { updateRules?: unknown }).updateRules === 'function';
    expect(rulesResult.result.applied).toBe(canHotReload);
    if (canHotReload) expect(gw.gateway.services.rules.activeRules().find((r) => r.id === 'access-denied-repeat')?.params).toMatchObject({ count: 3, windowMinutes: 2 });
    expect(await resultOf('offline-3')).toMatchObject({ status: 'error', code: 'invalid-payload' });
    expect(platform.result('offline-3').error).toMatch(/rule access-denied-repeat params\.count/);
    expect(await resultOf('offline-4')).toMatchObject({ status: 'error', code: 'not-found' });
    // The watchlist survived the restart in SQLite, the seed did not overwrite it.
    expect(watchIds()).toContain('w-plat-1');
  });
});

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeSchema, MediaItemSchema } from '../../cloud-sync/messages.ts';
import { connectDevice, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

/** A 1280×720 gate frame with the rendered plate where a gate camera sees it. */
async function gateFrame(plateFile: string): Promise<Buffer> {
  const plate = await sharp(join(fixtures, plateFile)).resize(240).toBuffer();
  return sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 88, g: 92, b: 98 } } })
    .composite([{ input: plate, left: 520, top: 470 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** A site whose gate camera (cam-1, gate-2) reads plates, with the given platform.media policy. */
async function cameraSite(brokerUrl: string, media?: Record<string, unknown>, evidenceUpstream: 'never' | 'alert-evidence' = 'alert-evidence') {
  const site = await testSite({
    camera: { plates: { mergeSeconds: 30 }, intake: { queueDepth: 4, concurrency: 1 }, privacy: { retentionHours: 1, sweepMinutes: 60, evidenceUpstream } },
    platform: { url: brokerUrl, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0, ...(media ? { media } : {}) },
  });
  site.devices = (site.devices as Record<string, unknown>[]).map((d) => (d.id === 'cam-1' ? { ...d, camera: { detect: ['plate'] } } : d));
  return site;
}

function setup(media?: Record<string, unknown>, evidenceUpstream?: 'never' | 'alert-evidence') {
  const ctx = {} as { broker: Mosquitto; platform: PlatformPeer; gw: TestGateway };
  beforeAll(async () => {
    ctx.broker = new Mosquitto();
    await ctx.broker.start();
    ctx.platform = await new PlatformPeer(ctx.broker.url).connect();
    ctx.gw = await startGateway(await cameraSite(ctx.broker.url, media, evidenceUpstream));
    await waitFor(() => ctx.gw.gateway.services.uplink?.state.connected, 'uplink connected');
  });
  afterAll(async () => {
    await ctx.gw?.stop();
    await ctx.platform?.close();
    await ctx.broker?.stop();
  });
  return ctx;
}

const mediaMessages = (platform: PlatformPeer) => platform.messages.filter((m) => m.topic === `${ROOT}/media`);

async function snapshot(gw: TestGateway, plateFile: string): Promise<void> {
  const cam = await connectDevice(gw.mqttUrl, 'cam-1');
  await cam.publishAsync('devices/cam-1/snapshot', await gateFrame(plateFile), { qos: 1 });
  await cam.endAsync();
}

/** The plate event as stored, once the platform has it too (so anything queued before it was sent). */
async function platformHasEventFor(gw: TestGateway, platform: PlatformPeer, plate: string) {
  const event = await waitFor(
    () =>
      gw.gateway.services.store.db
        .prepare("SELECT body FROM events WHERE type = 'plate.captured'")
        .all()
        .map((r: any) => JSON.parse(r.body))
        .find((e: any) => e.subjects.plate === plate),
    `plate.captured ${plate}`,
    60_000,
  );
  await waitFor(() => platform.itemIds('events').includes(event.id), `event of ${plate} on the platform`, 30_000);
  await waitFor(() => (gw.gateway.services.store.outbox.count() === 0 ? true : null), 'outbox drained', 30_000);
  return event;
}

describe.skipIf(!haveMosquitto)("evidence images with platform.media.send 'alert-evidence' (real mosquitto)", () => {
  const ctx = setup({ send: 'alert-evidence' });

  it('a watchlisted plate snapshot sends exactly one image, the crop of its evidence event, after its alert', async () => {
    const { gw, platform } = ctx;
    await snapshot(gw, 'plate-blue-88888.png');
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'), 'watchlist alert for 闽A·88888', 60_000);
    const event = await platformHasEventFor(gw, platform, '闽A·88888');
    expect(alert.evidence).toEqual([event.id]);

    await waitFor(() => mediaMessages(platform)[0], 'a media envelope', 30_000);
    await waitFor(() => (gw.gateway.services.store.outbox.count() === 0 ? true : null), 'outbox drained', 30_000);
    const messages = mediaMessages(platform);
    expect(messages).toHaveLength(1);
    const envelope = EnvelopeSchema.parse(messages[0]!.body);
    expect(envelope).toMatchObject({ v: 1, gatewayId: 'gw-test-1', kind: 'media' });
    expect(envelope.items).toHaveLength(1);
    const item = MediaItemSchema.parse(envelope.items[0]);
    expect(item).toMatchObject({ id: `${alert.id}:${event.payload.imageId}`, alertId: alert.id, eventId: event.id, mediaId: event.payload.imageId, deviceId: 'cam-1', mediaKind: 'plate-crop' });

    // The bytes are the crop the gateway keeps, unchanged.
    const row = gw.gateway.services.store.db.prepare('SELECT path FROM media WHERE id = ?').get(item.mediaId) as { path: string };
    const onDisk = readFileSync(join(gw.dataDir, 'media', row.path));
    const sent = Buffer.from(item.data, 'base64');
    expect(sent.equals(onDisk)).toBe(true);
    expect(item.bytes).toBe(onDisk.length);
    expect(item.sha256).toBe(createHash('sha256').update(onDisk).digest('hex'));

    // The alert went first; the image followed it.
    const alertMessage = platform.messages.find((m) => m.topic === `${ROOT}/alerts` && m.body.items.some((i: { id: string }) => i.id === alert.id));
    expect(alertMessage).toBeDefined();
    expect(alertMessage!.index).toBeLessThan(messages[0]!.index);

    // Sending it is a disclosure: on record in the audit log.
    const audit = gw.gateway.services.store.db.prepare("SELECT * FROM audit_log WHERE target = ?").all(item.mediaId) as any[];
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'platform:CG350102001', action: 'disclose.image', reason: `alert ${alert.id}` });
    expect(JSON.parse(audit[0].details)).toMatchObject({ disclosure: 'uplink-media', alertId: alert.id, eventId: event.id, itemId: item.id });
  });

  it('an image whose event raised no alert never leaves the gateway', async () => {
    const { gw, platform } = ctx;
    const before = mediaMessages(platform).length;
    await snapshot(gw, 'plate-blue-12345.png'); // a resident's car: no alert
    const event = await platformHasEventFor(gw, platform, '闽A·12345');
    expect(typeof event.payload.imageId).toBe('string');
    expect(gw.gateway.services.store.alerts.list().some((a) => a.evidence.includes(event.id))).toBe(false);
    expect(mediaMessages(platform)).toHaveLength(before);
    expect(platform.messages.filter((m) => m.topic === `${ROOT}/media`).flatMap((m) => m.body.items).some((i: any) => i.mediaId === event.payload.imageId)).toBe(false);
  });
});

describe.skipIf(!haveMosquitto)("evidence images with the default policy ('never')", () => {
  const ctx = setup();

  it('the same watchlist alert reaches the platform without any image', async () => {
    const { gw, platform } = ctx;
    await snapshot(gw, 'plate-blue-88888.png');
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'), 'watchlist alert for 闽A·88888', 60_000);
    await platformHasEventFor(gw, platform, '闽A·88888');
    await waitFor(() => platform.itemIds('alerts').includes(alert.id), 'alert on the platform', 30_000);
    expect(mediaMessages(platform)).toHaveLength(0);
    expect(gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'disclose.image'").get()).toEqual({ n: 0 });
  });
});

describe.skipIf(!haveMosquitto)('evidence images: each switch can hold them back', () => {
  describe("camera.privacy.evidenceUpstream 'never' overrides platform.media.send", () => {
    const ctx = setup({ send: 'alert-evidence' }, 'never');

    it('the media store refuses: the alert goes up without its image, counted as refused', async () => {
      const { gw, platform } = ctx;
      await snapshot(gw, 'plate-blue-88888.png');
      const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'), 'watchlist alert', 60_000);
      await platformHasEventFor(gw, platform, '闽A·88888');
      await waitFor(() => platform.itemIds('alerts').includes(alert.id), 'alert on the platform', 30_000);
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
        return /gridguard_uplink_media_total\{outcome="refused"\} 1/.test(text) ? text : null;
      }, 'refused counted', 30_000);
      expect(metrics).not.toMatch(/outcome="queued"/);
      expect(mediaMessages(platform)).toHaveLength(0);
    });
  });

  describe('platform.media.categories leaves out other categories', () => {
    const ctx = setup({ send: 'alert-evidence', categories: ['care'] });

    it('a police watchlist alert sends no image when only care alerts may', async () => {
      const { gw, platform } = ctx;
      await snapshot(gw, 'plate-blue-88888.png');
      const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'), 'watchlist alert', 60_000);
      expect(alert.category).toBe('police');
      await platformHasEventFor(gw, platform, '闽A·88888');
      await waitFor(() => platform.itemIds('alerts').includes(alert.id), 'alert on the platform', 30_000);
      await waitFor(async () => ((await (await fetch(`${gw.httpUrl}/metrics`)).text()).includes('gridguard_uplink_media_total{outcome="category"} 1') ? true : null), 'category counted', 30_000);
      expect(mediaMessages(platform)).toHaveLength(0);
    });
  });
});

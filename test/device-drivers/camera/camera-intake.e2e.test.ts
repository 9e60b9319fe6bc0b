import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraDriver } from '../../../device-drivers/camera/camera-driver.ts';
import { writeTinyEmbeddingModel } from '../../models/tiny-embedding.ts';
import { loginAs } from '../../helpers/login.ts';
import { connectDevice, startGateway, testSite, TEST_SECRETS, type TestGateway } from '../../helpers/gateway.ts';
import { waitFor } from '../../helpers/net.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

/** A 1280×720 gate frame: grey road, the rendered plate about where a gate camera sees it. */
async function gateFrame(plateFile: string, at = { left: 520, top: 470 }): Promise<Buffer> {
  const plate = await sharp(join(fixtures, plateFile)).resize(240).toBuffer();
  return sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 88, g: 92, b: 98 } } })
    .composite([{ input: plate, ...at }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe('camera intake end to end: real MQTT and HTTP into a real gateway', () => {
  let gw: TestGateway;
  let driver: CameraDriver;

  beforeAll(async () => {
    const site = await testSite({
      camera: {
        faces: { lostAfterSeconds: 2 },
        plates: { mergeSeconds: 30 },
        intake: { queueDepth: 2, concurrency: 2 },
        privacy: { retentionHours: 1, sweepMinutes: 60 },
      },
    });
    site.devices = (site.devices as Record<string, unknown>[]).map((d) =>
      d.id === 'cam-1'
        ? {
            ...d,
            camera: {
              detect: ['face', 'plate'],
              faceModel: 'front',
              // The lane, drawn around where the car stops: plates are searched there only.
              plateRegion: { left: 0.25, top: 0.5, right: 0.8, bottom: 0.95 },
              zones: [{ id: 'z-north', polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]] }],
            },
          }
        : d,
    );
    gw = await startGateway(site);
    driver = gw.gateway.services.drivers.find((d) => d.name === 'camera-driver') as CameraDriver;
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const events = (type: string) => gw.gateway.services.store.db.prepare('SELECT body FROM events WHERE type = ? ORDER BY received_ms').all(type).map((r: any) => JSON.parse(r.body));

  it('a JPEG published on devices/cam-1/snapshot becomes one plate.captured with the resident identified, zones and a local crop', async () => {
    const cam = await connectDevice(gw.mqttUrl, 'cam-1');
    const frame = await gateFrame('plate-blue-12345.png');
    await cam.publishAsync('devices/cam-1/snapshot', frame, { qos: 1 });
    const event = await waitFor(() => events('plate.captured').find((e) => e.subjects.plate === '闽A·12345'), 'plate.captured 闽A·12345', 30_000);
    expect(event.deviceId).toBe('cam-1');
    expect(event.identity).toMatchObject({ kind: 'resident', personId: 'p1', matchedBy: 'plate' });
    expect(event.payload.confidence).toBeGreaterThanOrEqual(0.9);
    expect(event.payload.plateKind).toBe('regular');
    // The plate sits at x ≈ 0.41–0.59, y ≈ 0.65–0.76 of the frame: read inside cam-1's plate region,
    // its box is still reported in whole-frame coordinates, so its bottom-centre is in the lower-half zone.
    const [xmin, ymin, xmax, ymax] = event.payload.box as number[];
    expect(xmin).toBeGreaterThan(0.4);
    expect(xmax).toBeLessThan(0.6);
    expect(ymin).toBeGreaterThan(0.64);
    expect(ymax).toBeLessThan(0.77);
    expect(event.payload.zones).toEqual(['z-north']);
    expect(event.place.zone).toBe('z-north');
    // The picture stays on the gateway: the event carries only the image id.
    // The crop is linked to its event right after the event commits.
    const media = await waitFor(() => gw.gateway.services.store.db.prepare('SELECT * FROM media WHERE id = ? AND event_id IS NOT NULL').get(event.payload.imageId) as any, 'crop linked to its event');
    expect(media).toMatchObject({ kind: 'plate-crop', device_id: 'cam-1', event_id: event.id });
    expect(existsSync(join(gw.dataDir, 'media', media.path))).toBe(true);
    expect(JSON.stringify(event)).not.toContain('/9j/'); // no base64 JPEG inside the event

    // The same car still at the barrier: repeats within mergeSeconds are the same passage.
    await cam.publishAsync('devices/cam-1/snapshot', frame, { qos: 1 });
    await cam.publishAsync(`devices/cam-1/snapshot/${Date.now()}`, frame, { qos: 1 });
    await waitFor(async () => (await driver.whenIdle(), true), 'intake idle', 30_000);
    await waitFor(() => (driver.health()['cam-1/intake']!.framesOk >= 3 ? true : null), 'three frames analysed', 30_000);
    await driver.whenIdle();
    // cam-1 sets no working size: its 720p frames are analysed as decoded, not resampled to 960.
    expect(driver.health()['cam-1/intake']!.detail).toContain('last frame analysed at 1280×720');
    expect(events('plate.captured').filter((e) => e.subjects.plate === '闽A·12345')).toHaveLength(1);
    await cam.endAsync();
  });

  it('a watchlisted plate (闽A·88888) raises a watchlist-hit alert', async () => {
    const cam = await connectDevice(gw.mqttUrl, 'cam-1');
    await cam.publishAsync('devices/cam-1/snapshot', await gateFrame('plate-blue-88888.png'), { qos: 1 });
    const alert = await waitFor(
      () => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'),
      'watchlist alert for 闽A·88888',
      30_000,
    );
    expect(alert.severity).toBe('high');
    expect(alert.message).toContain('闽A·88888');
    expect(alert.details).toMatchObject({ watchEntry: 'w2', matchedBy: 'plate' });
    await cam.endAsync();
  });

  it('faces over several snapshots make one face.captured per appearance, with the best aligned crop', async () => {
    const cam = await connectDevice(gw.mqttUrl, 'cam-1');
    const astronaut = readFileSync(join(fixtures, 'astronaut.jpg'));
    for (let i = 0; i < 3; i++) await cam.publishAsync('devices/cam-1/snapshot', astronaut, { qos: 1 });
    const face = await waitFor(() => events('face.captured')[0], 'face.captured', 30_000);
    expect(face.payload.frames).toBe(3);
    expect(face.payload.identified).toBe(false); // no embedding model configured
    expect(face.subjects).toEqual({});
    const crop = await gw.gateway.services.store.db.prepare('SELECT * FROM media WHERE id = ?').get(face.payload.imageId) as any;
    const meta = await sharp(join(gw.dataDir, 'media', crop.path)).metadata();
    expect([meta.width, meta.height]).toEqual([112, 112]);
    // Still one appearance after the track ended.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(events('face.captured')).toHaveLength(1);
    await cam.endAsync();
  });

  it('an HTTP multipart alarm picture is stored as a camera event with the zones of its box', async () => {
    const form = new FormData();
    form.append('event', JSON.stringify({ type: 'intrusion.detected', box: [0.4, 0.55, 0.5, 0.9], rule: 'line-crossing' }));
    form.append('picture', new Blob([readFileSync(join(fixtures, 'chelsea.jpg'))], { type: 'image/jpeg' }), 'alarm.jpg');
    const auth = `Basic ${Buffer.from(`cam-1:${TEST_SECRETS['cam-1']}`).toString('base64')}`;
    const refused = await fetch(`${gw.httpUrl}/api/cameras/cam-1/snapshots`, { method: 'POST', body: form, headers: { authorization: 'Basic ' + Buffer.from('cam-1:wrong').toString('base64') } });
    expect(refused.status).toBe(401);
    const accepted = await fetch(`${gw.httpUrl}/api/cameras/cam-1/snapshots`, { method: 'POST', body: form, headers: { authorization: auth } });
    expect(accepted.status).toBe(202);
    const event = await waitFor(() => events('intrusion.detected').find((e) => e.deviceId === 'cam-1'), 'intrusion event', 30_000);
    expect(event.payload).toMatchObject({ source: 'camera', rule: 'line-crossing', zones: ['z-north'], armedZones: ['z-north'], via: 'http-push' });
    expect(event.place.zone).toBe('z-north');
  });

  it('bad snapshots are refused and counted without affecting other devices', async () => {
    const cam = await connectDevice(gw.mqttUrl, 'cam-1');
    await cam.publishAsync('devices/cam-1/snapshot', Buffer.from('not a jpeg'), { qos: 1 });
    await cam.publishAsync('devices/cam-1/snapshot/yesterday', await gateFrame('plate-blue-12345.png'), { qos: 1 });
    // Starts like a JPEG, then garbage: refused by the decoder, after queueing.
    await cam.publishAsync('devices/cam-1/snapshot', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 7)]), { qos: 1 });
    const rejected = await waitFor(async () => {
      const r = await gw.gateway.metrics.rejectedSummary();
      return r['mqtt/not-an-image'] && r['mqtt/invalid-topic'] && r['camera/undecodable-snapshot'] ? r : null;
    }, 'rejections counted', 30_000);
    expect(rejected['mqtt/not-an-image']).toBe(1);
    const door = await connectDevice(gw.mqttUrl, 'ac-1');
    await door.publishAsync('devices/ac-1/events', JSON.stringify({ type: 'door.opened' }), { qos: 1 });
    await waitFor(() => events('door.opened').length === 1, 'door event still accepted');
    await door.endAsync();
    await cam.endAsync();
  });

  it('a plate outside the camera\'s plate region is not read (a car on the road behind the lane)', async () => {
    await driver.whenIdle();
    const before = driver.health()['cam-1/intake']!.framesOk;
    // Upper left of the frame: outside cam-1's region (x 0.25–0.8, y 0.5–0.95).
    driver.enqueue('cam-1', await gateFrame('plate-green-D12345.png', { left: 60, top: 80 }), 'mqtt');
    await waitFor(() => (driver.health()['cam-1/intake']!.framesOk > before ? true : null), 'frame analysed', 30_000);
    await driver.whenIdle();
    expect(events('plate.captured').filter((e) => e.subjects.plate === '闽A·D12345')).toHaveLength(0);
  });

  it('a burst beyond the queue depth drops the oldest frames and counts them', async () => {
    const frame = await gateFrame('plate-green-D12345.png');
    await driver.whenIdle(); // nothing in flight, so the count below is exact
    const before = driver.dropped('cam-1');
    // Ten frames in one turn of the event loop: one goes straight to analysis, two wait, seven are dropped.
    for (let i = 0; i < 10; i++) driver.enqueue('cam-1', frame, 'mqtt');
    expect(driver.dropped('cam-1') - before).toBe(7);
    await driver.whenIdle();
    const nev = await waitFor(() => events('plate.captured').find((e) => e.subjects.plate === '闽A·D12345'), 'green plate', 30_000);
    expect(nev.payload.plateKind).toBe('new-energy-small');
    const metrics = await gw.gateway.metrics.registry.getSingleMetricAsString('gridguard_camera_frames_total');
    expect(metrics).toMatch(/outcome="dropped"} 7/);
  });
});

describe('camera intake: snapshot-URL polling and the embedding slot (plumbing, not recognition quality)', () => {
  let gw: TestGateway;
  let server: Server;
  let serving = false;
  let polls = 0;

  beforeAll(async () => {
    const astronaut = readFileSync(join(fixtures, 'astronaut.jpg'));
    server = createServer((req, res) => {
      polls++;
      if (req.url !== '/snap.jpg' || !serving) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(astronaut);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'gg-emb-'));
    const model = writeTinyEmbeddingModel(dir);
    const site = await testSite({
      camera: {
        models: { embedding: { file: model.path, sha256: model.sha256, licence: 'test model built by the test', matchThreshold: 0.95 } },
        // The polled face never leaves: it is reported after reportAfterSeconds in view.
        faces: { lostAfterSeconds: 1, reportAfterSeconds: 1 },
      },
      watchlist: [{ id: 'w3', subject: { type: 'face', value: 'face-astro' }, level: 'critical', reason: '测试布控人脸' }],
    });
    site.devices = (site.devices as Record<string, unknown>[]).map((d) =>
      d.id === 'cam-1' ? { ...d, camera: { detect: ['face'], faceModel: 'front', snapshotUrl: `http://127.0.0.1:${port}/snap.jpg`, pollSeconds: 0.3 } } : d,
    );
    gw = await startGateway(site);
  });

  afterAll(async () => {
    await gw?.stop();
    server?.close();
  });

  it('polls the snapshot URL, counts failures, and a face matching an enrolled watchlist face raises an alert', async () => {
    const driver = gw.gateway.services.drivers.find((d) => d.name === 'camera-driver') as CameraDriver;
    // The camera answers 503 until the face is enrolled: failed polls are counted, polling goes on.
    await waitFor(async () => (await gw.gateway.metrics.rejectedSummary())['camera/poll-http-status'], 'failed poll counted');

    // Enrol the watchlisted face over the API, as an operator would, from a photo of the person.
    const photo = () => {
      const form = new FormData();
      form.append('photo', new Blob([readFileSync(join(fixtures, 'astronaut.jpg'))], { type: 'image/jpeg' }), 'astro.jpg');
      return form;
    };
    const anonymous = await fetch(`${gw.httpUrl}/api/faces/gallery/face-astro`, { method: 'PUT', body: photo() });
    expect(anonymous.status).toBe(401);
    // Guards read the watchlist but do not enrol biometrics: that is an admin's act.
    const guard = await loginAs(gw, 'guard');
    const refused = await fetch(`${gw.httpUrl}/api/faces/gallery/face-astro`, { method: 'PUT', body: photo(), headers: guard.headers });
    expect(refused.status).toBe(403);
    const admin = await loginAs(gw, 'admin');
    const catForm = new FormData();
    catForm.append('photo', new Blob([readFileSync(join(fixtures, 'chelsea.jpg'))], { type: 'image/jpeg' }), 'cat.jpg');
    const noFace = await fetch(`${gw.httpUrl}/api/faces/gallery/face-cat`, { method: 'PUT', body: catForm, headers: admin.headers });
    expect([noFace.status, ((await noFace.json()) as any).error]).toEqual([422, 'no face found in the photo']);
    const enrolled = await fetch(`${gw.httpUrl}/api/faces/gallery/face-astro`, { method: 'PUT', body: photo(), headers: admin.headers });
    expect(enrolled.status).toBe(201);
    expect(await enrolled.json()).toMatchObject({ faceId: 'face-astro', dims: 16 });
    expect(driver.gallery!.size).toBe(1);
    serving = true;

    const alert = await waitFor(
      () => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1'),
      'watchlist alert for the enrolled face',
      30_000,
    ).catch((e) => {
      console.log(gw.gateway.services.store.db.prepare("SELECT body FROM events WHERE device_id = 'cam-1'").all());
      console.log(readFileSync(gw.logFile, 'utf8').split('\n').filter((l) => /camera|model/.test(l)).slice(-10).join('\n'));
      throw e;
    });
    expect(alert.severity).toBe('critical');
    expect(alert.details).toMatchObject({ watchEntry: 'w3', matchedBy: 'face' });
    const event = gw.gateway.services.store.events.get(alert.evidence[0]!)!;
    expect(event.type).toBe('face.captured');
    expect(event.subjects).toEqual({ faceId: 'face-astro' });
    expect(event.payload).toMatchObject({ identified: true, similarity: expect.any(Number) });
    // Many polls of the same still face, one appearance.
    await waitFor(() => polls > 8, 'more polls');
    expect(gw.gateway.services.store.db.prepare("SELECT count(*) AS n FROM events WHERE type = 'face.captured'").get()).toEqual({ n: 1 });
    // No feature vector leaves with the event: only the match.
    expect(JSON.stringify(event)).not.toMatch(/feature/);
  }, 90_000);
});

describe('camera intake: models at start-up', () => {
  it('a configured embedding model that is missing stops the gateway from starting, naming model and file', async () => {
    const site = await testSite({ camera: { models: { embedding: { file: 'models/missing-face.onnx', sha256: 'b'.repeat(64), licence: 'x' } } } });
    site.devices = (site.devices as Record<string, unknown>[]).map((d) => (d.id === 'cam-1' ? { ...d, camera: { detect: ['face'] } } : d));
    await expect(startGateway(site)).rejects.toThrow(/model face-embedding: file not found: .*models\/missing-face\.onnx/);
  });
});

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyEmbeddingModel } from '../../models/tiny-embedding.ts';
import { loginAs } from '../../helpers/login.ts';
import { connectDevice, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { waitFor } from '../../helpers/net.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

/**
 * Cameras that compute their own face feature vector and publish it on devices/{id}/events are
 * matched 1:N against the same gallery and threshold as the gateway's own embeddings. The
 * gallery vector comes from the test-built tiny model: this checks the plumbing (MQTT event →
 * identifier → gallery → watchlist → alert), not recognition quality.
 */
describe('camera-side feature vectors on MQTT events are matched against the face gallery (plumbing, not recognition quality)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    const model = writeTinyEmbeddingModel(mkdtempSync(join(tmpdir(), 'gg-feat-')), 64);
    const site = await testSite({
      camera: { models: { embedding: { file: model.path, sha256: model.sha256, licence: 'test model built by the test', matchThreshold: 0.95 } } },
      watchlist: [{ id: 'w-face', subject: { type: 'face', value: 'face-astro' }, level: 'critical', reason: '测试布控人脸' }],
    });
    site.devices = (site.devices as Record<string, unknown>[]).map((d) => (d.id === 'cam-1' ? { ...d, camera: { detect: ['face'], faceModel: 'front' } } : d));
    gw = await startGateway(site);
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const events = () => gw.gateway.services.store.db.prepare("SELECT body FROM events WHERE type = 'face.captured' AND device_id = 'cam-1' ORDER BY received_ms").all().map((r: any) => JSON.parse(r.body));
  const watchAlerts = () => gw.gateway.services.store.alerts.list().filter((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'cam-1');

  it('a vector equal to an enrolled watchlisted face raises a watchlist-hit alert; an unrelated vector does not', async () => {
    // Enrol the watchlisted face as an operator would: a photo through the API, our model computes the vector.
    const admin = await loginAs(gw, 'admin');
    const form = new FormData();
    form.append('photo', new Blob([readFileSync(join(fixtures, 'astronaut.jpg'))], { type: 'image/jpeg' }), 'astro.jpg');
    const enrolled = await fetch(`${gw.httpUrl}/api/faces/gallery/face-astro`, { method: 'PUT', body: form, headers: admin.headers });
    expect(enrolled.status).toBe(201);
    const row = gw.gateway.services.store.db.prepare("SELECT dims, vector FROM face_gallery WHERE face_id = 'face-astro'").get() as { dims: number; vector: Buffer };
    const enrolledVector = [...new Float32Array(new Uint8Array(row.vector).buffer, 0, row.dims)];
    expect(enrolledVector).toHaveLength(64);

    // An unrelated vector: orthogonal to the enrolled one (Gram–Schmidt on a fixed pattern), so cosine 0.
    const pattern = enrolledVector.map((_, i) => ((i * 7919) % 13) - 6);
    const dot = pattern.reduce((s, v, i) => s + v * enrolledVector[i]!, 0);
    const unrelated = pattern.map((v, i) => v - dot * enrolledVector[i]!);

    const cam = await connectDevice(gw.mqttUrl, 'cam-1');
    await cam.publishAsync('devices/cam-1/events', JSON.stringify({ type: 'face.captured', feature: unrelated, tag: 'unrelated' }), { qos: 1 });
    // The camera's own scale does not matter: vectors are L2-normalised before the cosine.
    await cam.publishAsync('devices/cam-1/events', JSON.stringify({ type: 'face.captured', feature: enrolledVector.map((v) => v * 3), tag: 'enrolled' }), { qos: 1 });

    const alert = await waitFor(() => watchAlerts()[0], 'watchlist alert for the camera-side feature', 30_000);
    expect(alert.severity).toBe('critical');
    expect(alert.details).toMatchObject({ watchEntry: 'w-face', matchedBy: 'face' });
    const hit = gw.gateway.services.store.events.get(alert.evidence[0]!)!;
    expect(hit.payload.tag).toBe('enrolled');
    expect(hit.identity).toMatchObject({ kind: 'watchlisted', matchedBy: 'face', watch: { entryId: 'w-face', level: 'critical' } });
    // The vector served the match; it is biometric data and is neither stored nor queued upstream.
    expect(hit.subjects.feature).toBeUndefined();
    expect(gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE body LIKE '%\"feature\"%'").get()).toEqual({ n: 0 });
    expect(alert.subject?.refs.feature).toBeUndefined();

    const [first, second] = await waitFor(() => (events().length === 2 ? events() : null), 'both face events stored');
    expect(first.payload.tag).toBe('unrelated');
    expect(first.identity?.kind).not.toBe('watchlisted');
    expect(second.payload.tag).toBe('enrolled');
    // The unrelated event was committed first and raised nothing: still one alert.
    expect(watchAlerts()).toHaveLength(1);
    await cam.endAsync();
  }, 60_000);
});

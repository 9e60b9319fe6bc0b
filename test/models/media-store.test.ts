import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../gateway/core/clock.ts';
import { silentLogger } from '../../gateway/core/logger.ts';
import { Store } from '../../gateway/store/store.ts';
import { MediaStore } from '../../models/media-store.ts';

const flush = () => new Promise((r) => setImmediate(r));

describe('media store: local images with a retention period', () => {
  it('keeps crops under the data dir and deletes them when they expire, on its periodic job', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gg-media-'));
    const store = Store.open(Store.fileIn(dataDir));
    const clock = new FakeClock();
    const media = new MediaStore({ store, dataDir, clock, log: silentLogger(), policy: { retentionHours: 2, sweepMinutes: 30, evidenceUpstream: 'alert-evidence', keepFrames: false } });
    media.start();
    const old = await media.save('cam-1', 'face-crop', Buffer.from([0xff, 0xd8, 1]));
    clock.advance(90 * 60_000);
    const fresh = await media.save('cam-1', 'plate-crop', Buffer.from([0xff, 0xd8, 2]));
    const file = (id: string) => join(dataDir, 'media', media.get(id)!.path);
    const oldFile = file(old.id);
    expect(existsSync(oldFile) && existsSync(file(fresh.id))).toBe(true);
    expect(old.expiresMs - old.createdMs).toBe(2 * 3_600_000);

    clock.advance(31 * 60_000); // 2 h 1 min after the first save: its sweep runs
    for (let i = 0; i < 5; i++) await flush();
    expect(existsSync(oldFile)).toBe(false);
    expect(media.get(old.id)).toBeNull();
    expect(media.get(fresh.id)).not.toBeNull();
    expect(media.count()).toBe(1);
    media.stop();
    store.close();
  });

  it('lets a picture go upstream only as evidence of an alert and only when policy allows', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gg-media-'));
    const store = Store.open(Store.fileIn(dataDir));
    const make = (evidenceUpstream: 'never' | 'alert-evidence') =>
      new MediaStore({ store, dataDir, clock: new FakeClock(), log: silentLogger(), policy: { retentionHours: 1, sweepMinutes: 10, evidenceUpstream, keepFrames: false } });
    const media = make('alert-evidence');
    const crop = await media.save('cam-1', 'face-crop', Buffer.from([0xff, 0xd8]));
    expect(media.mayUpload(crop.id, ['event-1'])).toBe(false); // not linked to any event yet
    await media.linkEvent([crop.id], 'event-1');
    expect(media.mayUpload(crop.id, ['event-1'])).toBe(true);
    expect(media.mayUpload(crop.id, ['event-2'])).toBe(false);
    expect(make('never').mayUpload(crop.id, ['event-1'])).toBe(false);
    store.close();
  });
});

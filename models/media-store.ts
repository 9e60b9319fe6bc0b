import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock, TimerHandle } from '../gateway/core/clock.ts';
import { newId } from '../gateway/core/ids.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Service } from '../gateway/core/service.ts';
import type { Store } from '../gateway/store/store.ts';

export type MediaKind = 'face-crop' | 'plate-crop' | 'frame';

export interface MediaRecord {
  id: string;
  deviceId: string;
  kind: MediaKind;
  path: string;
  bytes: number;
  createdMs: number;
  expiresMs: number;
  eventId: string | null;
}

export interface PrivacyPolicy {
  /** How long crops and frames are kept on the gateway. */
  retentionHours: number;
  /** How often the deletion job runs. */
  sweepMinutes: number;
  /** Whether images may go upstream, and then only as evidence of an alert. */
  evidenceUpstream: 'never' | 'alert-evidence';
  /** Keep whole frames too (off: only crops are kept). */
  keepFrames: boolean;
}

/**
 * Face and plate images stay on the gateway: files under dataDir/media/YYYY-MM-DD/, one row per
 * file with its expiry. Events carry only the media id, never the picture, so nothing personal
 * leaves with the event stream. A periodic job deletes expired files and rows.
 */
export class MediaStore implements Service {
  readonly name = 'media-store';
  private timer: TimerHandle | null = null;
  private readonly root: string;

  constructor(
    private readonly deps: { store: Store; dataDir: string; policy: PrivacyPolicy; clock: Clock; log: Logger },
  ) {
    this.root = join(deps.dataDir, 'media');
  }

  start(): void {
    mkdirSync(this.root, { recursive: true });
    this.schedule();
  }

  stop(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  async save(deviceId: string, kind: MediaKind, jpeg: Buffer): Promise<MediaRecord> {
    const { clock, policy, store } = this.deps;
    const createdMs = clock.now();
    const id = newId();
    const day = new Date(createdMs).toISOString().slice(0, 10);
    const path = join(day, `${id}.jpg`);
    const file = join(this.root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, jpeg, { mode: 0o600 });
    const record: MediaRecord = { id, deviceId, kind, path, bytes: jpeg.length, createdMs, expiresMs: createdMs + policy.retentionHours * 3_600_000, eventId: null };
    await store.writes.write((db) =>
      db
        .prepare('INSERT INTO media (id, device_id, kind, path, bytes, created_ms, expires_ms, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, deviceId, kind, path, record.bytes, createdMs, record.expiresMs, null),
    );
    return record;
  }

  async linkEvent(mediaIds: string[], eventId: string): Promise<void> {
    if (mediaIds.length === 0) return;
    await this.deps.store.writes.write((db) => {
      const stmt = db.prepare('UPDATE media SET event_id = ? WHERE id = ?');
      for (const id of mediaIds) stmt.run(eventId, id);
    });
  }

  get(id: string): MediaRecord | null {
    const row = this.deps.store.db.prepare('SELECT * FROM media WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : null;
  }

  read(record: MediaRecord): Buffer {
    return readFileSync(join(this.root, record.path));
  }

  /**
   * Whether a picture may be sent upstream: only when policy allows and only as evidence of an
   * alert (its event is in the alert's evidence). The uplink asks here before attaching one.
   */
  mayUpload(mediaId: string, alertEvidence: string[]): boolean {
    if (this.deps.policy.evidenceUpstream === 'never') return false;
    const record = this.get(mediaId);
    return record !== null && record.eventId !== null && alertEvidence.includes(record.eventId);
  }

  /** Deletes expired files and their rows; returns how many. */
  async sweep(): Promise<number> {
    const { store, clock, log } = this.deps;
    const now = clock.now();
    const expired = (store.db.prepare('SELECT * FROM media WHERE expires_ms <= ? LIMIT 5000').all(now) as Record<string, unknown>[]).map(toRecord);
    for (const record of expired) {
      try {
        rmSync(join(this.root, record.path), { force: true });
      } catch (error) {
        log.warn({ err: error, media: record.id }, `could not delete expired media ${record.path}`);
      }
    }
    if (expired.length) {
      await store.writes.write((db) => {
        const stmt = db.prepare('DELETE FROM media WHERE id = ?');
        for (const r of expired) stmt.run(r.id);
      });
      log.info({ deleted: expired.length }, `deleted ${expired.length} expired images`);
    }
    return expired.length;
  }

  count(): number {
    return (this.deps.store.db.prepare('SELECT count(*) AS n FROM media').get() as { n: number }).n;
  }

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.sweep()
        .catch((error) => this.deps.log.error({ err: error }, 'media retention sweep failed'))
        .finally(() => {
          if (this.timer) this.schedule();
        });
    }, this.deps.policy.sweepMinutes * 60_000);
  }
}

function toRecord(row: Record<string, unknown>): MediaRecord {
  return {
    id: row.id as string,
    deviceId: row.device_id as string,
    kind: row.kind as MediaKind,
    path: row.path as string,
    bytes: row.bytes as number,
    createdMs: row.created_ms as number,
    expiresMs: row.expires_ms as number,
    eventId: (row.event_id as string | null) ?? null,
  };
}

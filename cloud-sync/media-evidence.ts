import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import type { PlatformConfig } from '../config/schema/index.ts';
import type { AuditLog } from '../gateway/audit/audit-log.ts';
import type { EventBus } from '../gateway/core/bus.ts';
import type { Clock } from '../gateway/core/clock.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { Alert } from '../gateway/core/model.ts';
import type { Service } from '../gateway/core/service.ts';
import type { Store } from '../gateway/store/store.ts';
import type { MediaStore } from '../models/media-store.ts';
import type { MediaItemSchema } from './messages.ts';
import type { z } from 'zod';

export type MediaItem = z.infer<typeof MediaItemSchema>;

/** Why an image of an alert's evidence did not go upstream (or that it did). */
type Outcome = 'queued' | 'refused' | 'too-large' | 'outbox-full' | 'missing' | 'category';

/**
 * Sends the images of an alert's evidence to the platform (…/media), and nothing else: only when
 * `platform.media.send` is 'alert-evidence', only for alerts of the configured categories, only
 * images that the media store's own policy lets go as evidence of that alert (mayUpload), one image
 * per outbox row and envelope. Every image queued for the platform is a disclosure of personal
 * data and is written to the audit log before it is queued.
 */
export class MediaEvidence implements Service {
  readonly name = 'media-evidence';
  private offs: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** `${alertId}:${mediaId}` queued by this process: a merged alert re-lists its old evidence. */
  private queued = new Set<string>();
  private counter: Counter<'outcome'> | null = null;

  constructor(
    private readonly deps: {
      policy: PlatformConfig['media'];
      store: Store;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      media: MediaStore;
      audit: AuditLog | null;
      communityGridCode: string;
    },
  ) {}

  start(): void {
    this.counter = new Counter({
      name: 'gridguard_uplink_media_total',
      help: 'Evidence images of alerts considered for the platform, by outcome (queued, refused by privacy policy, too-large, outbox-full, missing, category)',
      labelNames: ['outcome'] as const,
      registers: [this.deps.metrics.registry],
    });
    const { bus } = this.deps;
    this.offs.push(bus.on('alert.raised', (alert) => this.enqueue(alert)));
    this.offs.push(
      bus.on('alert.updated', ({ alert, change }) => {
        if (change === 'merged') this.enqueue(alert);
      }),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.offs) off();
    this.offs = [];
    if (this.counter) this.deps.metrics.registry.removeSingleMetric('gridguard_uplink_media_total');
    this.counter = null;
    await this.chain;
  }

  /** Resolves when every alert seen so far has been handled (tests, shutdown). */
  whenIdle(): Promise<void> {
    return this.chain;
  }

  private enqueue(alert: Alert): void {
    this.chain = this.chain
      .then(() => this.handle(alert))
      .catch((error: unknown) => {
        this.deps.metrics.errors.inc({ component: 'media-evidence' });
        this.deps.log.error({ err: error, alertId: alert.id }, `evidence images of alert ${alert.id} could not be queued for the platform`);
      });
  }

  private count(outcome: Outcome): void {
    this.counter?.inc({ outcome });
  }

  private async handle(alert: Alert): Promise<void> {
    const { policy, store, media, log } = this.deps;
    if (policy.send !== 'alert-evidence') return;
    if (policy.categories && !policy.categories.includes(alert.category)) return this.count('category');
    for (const eventId of alert.evidence) {
      const imageId = store.events.get(eventId)?.payload.imageId;
      if (typeof imageId !== 'string') continue;
      const itemId = `${alert.id}:${imageId}`;
      if (this.queued.has(itemId)) continue;
      const record = media.get(imageId);
      if (!record) {
        this.count('missing');
        continue;
      }
      // The camera driver links a picture to its event right after the event commits, which can be
      // after the rule raised the alert. The event naming the picture is the same fact: link it now
      // (same values, idempotent) so that mayUpload, the single place that decides, can see it.
      if (record.eventId === null) await media.linkEvent([imageId], eventId);
      if (!media.mayUpload(imageId, alert.evidence)) {
        this.count('refused');
        continue;
      }
      if (record.bytes > policy.maxBytes) {
        this.count('too-large');
        log.warn({ alertId: alert.id, mediaId: imageId, bytes: record.bytes, maxBytes: policy.maxBytes }, `evidence image ${imageId} of alert ${alert.id} not sent: ${record.bytes} bytes > platform.media.maxBytes`);
        continue;
      }
      let data: Buffer;
      try {
        data = media.read(record);
      } catch {
        this.count('missing'); // expired and swept since the lookup
        continue;
      }
      const item: MediaItem = {
        id: itemId,
        alertId: alert.id,
        eventId,
        mediaId: imageId,
        deviceId: record.deviceId,
        mediaKind: record.kind,
        contentType: 'image/jpeg',
        capturedAt: new Date(record.createdMs).toISOString(),
        bytes: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
        encoding: 'base64',
        data: data.toString('base64'),
      };
      const json = JSON.stringify(item);
      // An image is never what pushes the outbox over its quota: it cannot be evicted (it rides
      // with the alert updates), so it would push out events instead. It is dropped, counted.
      const quota = store.outbox.currentPolicy.quotaBytes;
      if (quota !== null && store.outbox.totalBytes() + Buffer.byteLength(json) > quota) {
        this.count('outbox-full');
        log.warn({ alertId: alert.id, mediaId: imageId }, `evidence image ${imageId} of alert ${alert.id} not sent: the outbox is at its quota`);
        continue;
      }
      await this.deps.audit?.record({
        actor: `platform:${this.deps.communityGridCode}`,
        role: null,
        action: 'disclose.image',
        target: imageId,
        reason: `alert ${alert.id}`,
        ip: null,
        details: { disclosure: 'uplink-media', alertId: alert.id, eventId, itemId, bytes: data.length, sha256: item.sha256 },
      });
      const nowMs = this.deps.clock.now();
      await store.writes.write(() => store.outbox.enqueueMedia(itemId, json, nowMs));
      this.queued.add(itemId);
      this.count('queued');
      this.deps.bus.emit('outbox.enqueued', { count: 1 });
      log.info({ alertId: alert.id, mediaId: imageId, bytes: data.length }, `evidence image ${imageId} of alert ${alert.id} queued for the platform`);
    }
  }
}

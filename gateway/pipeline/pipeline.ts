import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { DeviceEvent, DeviceEventInput } from '../core/model.ts';
import type { Identifier } from '../identify/identifier.ts';
import type { SiteModel } from '../site/site-model.ts';
import type { Store } from '../store/store.ts';

/** The pipeline's entry for every driver: what a driver hands to ingest() is kept or refused. */
export interface EventSink {
  /** Resolves once the event is committed to SQLite; only then may the device be acknowledged. */
  ingest(input: DeviceEventInput): Promise<DeviceEvent>;
}

export class UnknownDeviceError extends Error {
  constructor(readonly deviceId: string) {
    super(`unknown device "${deviceId}"`);
  }
}

/**
 * driver → ingest: resolve place and codes (三码叠加), identify the subject, commit the event and
 * its outbox row in one transaction, then publish 'event.stored' for the rules.
 */
export class Pipeline implements EventSink {
  constructor(
    private readonly deps: { site: SiteModel; identifier: Identifier; store: Store; bus: EventBus; clock: Clock; metrics: Metrics; log: Logger; logEvents?: boolean },
  ) {}

  async ingest(input: DeviceEventInput): Promise<DeviceEvent> {
    const { site, identifier, store, bus, clock, metrics } = this.deps;
    const device = site.device(input.deviceId);
    if (!device) throw new UnknownDeviceError(input.deviceId);
    const nowMs = clock.now();
    const receivedAt = new Date(nowMs).toISOString();
    const { place, codes } = site.placeOf(device.id, input.zone);
    const subjects = input.subjects ?? {};
    const event: DeviceEvent = {
      id: newId(),
      deviceTime: normalizeTime(input.ts) ?? receivedAt,
      receivedAt,
      deviceId: device.id,
      deviceKind: device.kind,
      type: input.type,
      codes,
      place,
      subjects,
      payload: input.payload ?? {},
    };
    const identity = identifier.identify(subjects, nowMs);
    if (identity) event.identity = identity;
    if (subjects.feature) {
      // A face feature is biometric data: it serves matching here and is neither stored nor sent
      // upstream (the identity it produced is).
      const { feature: _feature, ...rest } = subjects;
      event.subjects = rest;
    }

    const started = process.hrtime.bigint();
    const json = JSON.stringify(event);
    await store.eventLog.append(event, json, nowMs);
    metrics.ingestLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    metrics.events.inc({ type: event.type });
    if (this.deps.logEvents) {
      const who = identity ? ` [${identity.kind}${identity.name ? ` ${identity.name}` : ''}]` : '';
      this.deps.log.info({ eventId: event.id, deviceId: event.deviceId, type: event.type }, `event ${event.type} at ${place.label}${who}`);
    }
    bus.emit('outbox.enqueued', { count: 1 });
    bus.emit('event.stored', event);
    return event;
  }
}

/** Accepts ISO 8601 or epoch milliseconds; anything else is ignored (receive time is used). */
function normalizeTime(ts: string | number | undefined): string | undefined {
  if (ts === undefined) return undefined;
  const ms = typeof ts === 'number' ? ts : Date.parse(ts);
  // Beyond ±8.64e15 ms a Date is invalid and toISOString() would throw.
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  return new Date(ms).toISOString();
}

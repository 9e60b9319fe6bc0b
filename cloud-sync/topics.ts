import type { OutboxRowKind } from '../gateway/store/outbox.ts';

/** Topic root of one gateway on the platform broker (docs/uplink-protocol.md). */
export function topicRoot(communityGridCode: string, gatewayId: string): string {
  return `grid/v1/${communityGridCode}/${gatewayId}`;
}

/** Which platform topic carries each outbox kind. Telemetry rides with events, marked by kind. */
export const TOPIC_OF_KIND: Record<OutboxRowKind, string> = {
  alert: 'alerts',
  'alert-update': 'alert-updates',
  event: 'events',
  telemetry: 'events',
  media: 'media',
};

export const PROTOCOL_VERSION = 1;

export interface Envelope<T = unknown> {
  v: typeof PROTOCOL_VERSION;
  gatewayId: string;
  /** Per-gateway envelope counter; the platform may use it to spot gaps and reorders. */
  seq: number;
  sentAt: string;
  kind: OutboxRowKind;
  items: T[];
}

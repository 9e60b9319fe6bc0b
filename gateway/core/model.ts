/**
 * The canonical model: what every driver produces and every later stage consumes.
 * Documented for integrators in docs/canonical-model.md; keep the two in step.
 */

/** Event types a device may report. Drivers map vendor codes onto these. */
export const EVENT_TYPES = [
  'access.granted',
  'access.denied',
  'door.opened',
  'door.closed',
  'door.forced',
  'door.held-open',
  'door.exit-button',
  'doorplate.scan',
  'doorplate.sos',
  'sensor.smoke',
  'sensor.water',
  'sensor.gas',
  'sensor.fire',
  'sensor.restored',
  'intrusion.detected',
  'device.heartbeat',
  'device.tamper',
  'device.fault',
  'camera.tamper',
  'face.captured',
  'plate.captured',
  'person.passed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DEVICE_KINDS = ['access-controller', 'camera', 'doorplate', 'sensor', 'alarm-output'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const TRANSPORTS = ['mqtt', 'serial', 'opcua'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Which event types each kind of device may report (docs/device-mqtt.md); every driver checks it. */
export const EVENTS_BY_KIND: Record<DeviceKind, readonly EventType[]> = {
  'access-controller': ['access.granted', 'access.denied', 'door.opened', 'door.closed', 'door.forced', 'door.held-open', 'door.exit-button', 'device.tamper', 'device.fault'],
  camera: ['face.captured', 'plate.captured', 'intrusion.detected', 'camera.tamper', 'person.passed', 'device.fault'],
  doorplate: ['doorplate.scan', 'doorplate.sos', 'access.granted', 'access.denied', 'device.tamper', 'device.fault'],
  sensor: ['sensor.smoke', 'sensor.water', 'sensor.gas', 'sensor.fire', 'sensor.restored', 'door.opened', 'door.closed', 'intrusion.detected', 'device.tamper', 'device.fault'],
  'alarm-output': ['device.fault', 'device.tamper'],
};

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** police: goes to the police beat; property: the property office (非警务); care: community care staff. */
export const CATEGORIES = ['police', 'property', 'care'] as const;
export type Category = (typeof CATEGORIES)[number];

/** 三码叠加: the three codes every event and alert carries. */
export interface PlaceCodes {
  /** 房屋地址编码 (standard address code) of the house, or of the gate/building when the device is not in a house. */
  addressCode: string | null;
  /** 小区网格编码 */
  communityGridCode: string;
  /** 警务网格编码 */
  policeGridCode: string;
}

/** Where a device stands, resolved from the site config. */
export interface Place {
  gate?: string;
  building?: string;
  unit?: string;
  house?: string;
  zone?: string;
  /** Human label in zh-CN, e.g. "3号楼2单元" or "东门". */
  label: string;
}

/** Subject references an event carries, as the device reported them. */
export interface SubjectRefs {
  cardNo?: string;
  personId?: string;
  plate?: string;
  faceId?: string;
  /** Face feature vector (camera-side or from our embedding model), for 1:N matching. */
  feature?: number[];
}

export type IdentityKind = 'resident' | 'visitor' | 'unknown' | 'watchlisted';

/** What identify concluded about the subject of an event. */
export interface Identity {
  kind: IdentityKind;
  /** Which reference matched: card, plate, person or face. */
  matchedBy?: 'card' | 'plate' | 'person' | 'face';
  personId?: string;
  name?: string;
  houseIds?: string[];
  /** Set when the subject is on the watchlist (布控). Kind is then 'watchlisted'. */
  watch?: { entryId: string; level: WatchLevel; reason: string };
  /** For a resident who is also on the care list (关爱对象). */
  care?: boolean;
}

export const WATCH_LEVELS = ['critical', 'high', 'medium', 'low'] as const;
export type WatchLevel = (typeof WATCH_LEVELS)[number];

export interface DeviceEvent {
  /** Time-sortable unique id (UUIDv7), assigned by the gateway on receipt. */
  id: string;
  /** The device's own timestamp (ISO 8601), or the receive time when the device sent none. */
  deviceTime: string;
  /** When the gateway received it (ISO 8601). */
  receivedAt: string;
  deviceId: string;
  deviceKind: DeviceKind;
  type: EventType;
  codes: PlaceCodes;
  place: Place;
  subjects: SubjectRefs;
  identity?: Identity;
  /** Type-specific fields, validated per device kind. */
  payload: Record<string, unknown>;
}

/** What a driver hands to the pipeline; the pipeline assigns id, times, codes and identity. */
export interface DeviceEventInput {
  deviceId: string;
  type: EventType;
  /** Device timestamp, ISO 8601 or epoch milliseconds. */
  ts?: string | number;
  subjects?: SubjectRefs;
  payload?: Record<string, unknown>;
  /** Zone the device or camera placed the event in, overriding the device's configured zone. */
  zone?: string;
}

export const ALERT_STATUSES = ['new', 'acknowledged', 'dispatched', 'resolved', 'false-alarm'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Allowed status moves. Closed statuses (resolved, false-alarm) are final. */
export const ALERT_TRANSITIONS: Record<AlertStatus, readonly AlertStatus[]> = {
  new: ['acknowledged', 'dispatched', 'resolved', 'false-alarm'],
  acknowledged: ['dispatched', 'resolved', 'false-alarm'],
  dispatched: ['resolved', 'false-alarm'],
  resolved: [],
  'false-alarm': [],
};

export interface AlertTransition {
  from: AlertStatus | null;
  to: AlertStatus;
  at: string;
  by: string;
  note: string | null;
  /** 'local' for the guard room, 'platform' for a disposition sent down by the grid platform. */
  source: 'local' | 'platform' | 'system';
}

export interface Alert {
  id: string;
  ruleId: string;
  ruleType: string;
  severity: Severity;
  category: Category;
  status: AlertStatus;
  raisedAt: string;
  updatedAt: string;
  codes: PlaceCodes;
  place: Place;
  deviceId: string | null;
  subject: { refs: SubjectRefs; identity?: Identity } | null;
  /** zh-CN, explains why at a glance. */
  message: string;
  /** Rule thresholds and figures that made the rule fire. */
  details: Record<string, unknown>;
  evidence: string[];
  /** Alerts with the same rule and merge key within the cooldown are merged into one. */
  mergeKey: string;
  /** How many triggers were merged into this alert (1 for a fresh one). */
  occurrences: number;
  lastTriggeredAt: string;
  transitions: AlertTransition[];
}

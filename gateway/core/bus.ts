import type { Alert, AlertTransition, DeviceEvent } from './model.ts';

export interface DeviceStatusChange {
  deviceId: string;
  online: boolean;
  at: string;
  reason: string;
}

/**
 * The pipeline's typed events. Data flows one way:
 * driver → pipeline (identify, store) → 'event.stored' → rules → alert service →
 * 'alert.raised' / 'alert.updated' → channels (local MQTT, SSE, alarm outputs) and the outbox.
 */
export interface GatewayEvents {
  /** A device event was identified and committed to SQLite (and the outbox). */
  'event.stored': DeviceEvent;
  /** A new alert was committed. */
  'alert.raised': Alert;
  /** An existing alert changed: a merged re-trigger, a status transition or an escalation. */
  'alert.updated': { alert: Alert; transition: AlertTransition | null; change: 'merged' | 'transition' | 'escalated' };
  /** A device went online or offline. */
  'device.status': DeviceStatusChange;
  /** Rows were added to the outbox: the uplink wakes up. */
  'outbox.enqueued': { count: number };
}

type Listener<T> = (payload: T) => void;

export type ListenerErrorHandler = (event: string, error: unknown) => void;

/**
 * A small synchronous typed event bus. A failing listener is reported and never stops the
 * others: one broken channel must not silence the rest.
 */
export class EventBus<Events extends object = GatewayEvents> {
  private listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private onListenerError: ListenerErrorHandler = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.onListenerError(String(event), error);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}

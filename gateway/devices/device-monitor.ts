import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Service } from '../core/service.ts';
import type { SiteModel } from '../site/site-model.ts';
import type { Store } from '../store/store.ts';

const PERSIST_SEEN_MS = 10_000;

export interface DeviceState {
  id: string;
  online: boolean;
  /** Never heard from since the gateway started. */
  pending: boolean;
  lastSeenMs: number | null;
  statusChangedMs: number | null;
  info: Record<string, unknown>;
}

/**
 * Device availability from what devices do: heartbeats, frames, their connection and last will.
 * A device is judged offline when it misses `offlineAfterMissed` heartbeats, counted from the
 * later of its last sign of life and the gateway's start: after the gateway itself was down,
 * devices get a full grace period to come back, so a restart raises no alert per device.
 * Silence is measured on the monotonic clock: a step of the wall clock (NTP, an operator's
 * `date -s`) would otherwise make every device look silent for the size of the step (forward)
 * or hide a silent one for as long (back).
 */
export class DeviceMonitor implements Service {
  readonly name = 'device-monitor';
  private states = new Map<string, DeviceState>();
  private startedMono = 0;
  /** Monotonic time of each device's last sign of life in this run. */
  private seenMono = new Map<string, number>();
  private timer: TimerHandle | null = null;
  private suspended = false;
  private persistedMs = new Map<string, number>();

  constructor(private readonly deps: { site: SiteModel; store: Store; bus: EventBus; clock: Clock; metrics: Metrics; log: Logger; checkEveryMs?: number }) {}

  start(): void {
    const { site, store, clock } = this.deps;
    this.startedMono = this.monotonic();
    this.seenMono.clear();
    this.suspended = false;
    const saved = new Map(store.devices.all().map((r) => [r.id, r]));
    for (const device of site.allDevices()) {
      const row = saved.get(device.id);
      // Online state from before the restart is not trusted: devices must show life again.
      this.states.set(device.id, { id: device.id, online: false, pending: true, lastSeenMs: row?.lastSeenMs ?? null, statusChangedMs: row?.statusChangedMs ?? null, info: row?.info ?? {} });
    }
    this.updateGauge();
    this.schedule();
  }

  stop(): void {
    this.suspend();
  }

  /** Stops judging devices: when the gateway itself shuts down, its devices dropping off is no outage. */
  suspend(): void {
    this.suspended = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * A sign of life. Status changes and new device facts are written at once; a bare last-seen
   * time at most every PERSIST_SEEN_MS, so that a busy device does not cost a row update per event.
   */
  async seen(deviceId: string, info?: Record<string, unknown>): Promise<void> {
    const state = this.states.get(deviceId);
    if (!state) return;
    const now = this.deps.clock.now();
    state.lastSeenMs = now;
    this.seenMono.set(deviceId, this.monotonic());
    let changed = false;
    if (info && Object.keys(info).length > 0) {
      state.info = { ...state.info, ...info };
      changed = true;
    }
    if (!state.online) {
      this.setStatus(state, true, state.pending ? 'connected' : 'back online', now);
      changed = true;
    }
    state.pending = false;
    if (changed || now - (this.persistedMs.get(deviceId) ?? 0) >= PERSIST_SEEN_MS) {
      this.persistedMs.set(deviceId, now);
      await this.persist(state);
    }
  }

  offline(deviceId: string, reason: string): void {
    const state = this.states.get(deviceId);
    if (!state || !state.online) return;
    this.setStatus(state, false, reason, this.deps.clock.now());
    void this.persist(state).catch(() => {});
  }

  all(): DeviceState[] {
    return [...this.states.values()];
  }

  get(deviceId: string): DeviceState | undefined {
    return this.states.get(deviceId);
  }

  onlineCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.online) n++;
    return n;
  }

  /** Runs the heartbeat check now (the timer calls it; tests may too). */
  check(): void {
    const { site, clock } = this.deps;
    const now = clock.now();
    const nowMono = this.monotonic();
    for (const state of this.states.values()) {
      const device = site.device(state.id);
      if (!device) continue;
      const allowedMs = device.heartbeatSeconds * device.offlineAfterMissed * 1000;
      // A sign of life from before this start counts as the start (see the class comment).
      const silentMs = nowMono - Math.max(this.seenMono.get(state.id) ?? this.startedMono, this.startedMono);
      if (silentMs <= allowedMs) continue;
      if (state.online) this.setStatus(state, false, `no heartbeat for ${Math.round(silentMs / 1000)} s`, now);
      else if (state.pending) {
        state.pending = false;
        this.setStatus(state, false, 'not seen since the gateway started', now, true);
      }
    }
  }

  private setStatus(state: DeviceState, online: boolean, reason: string, now: number, force = false): void {
    if (this.suspended || (state.online === online && !force)) return;
    state.online = online;
    state.statusChangedMs = now;
    this.updateGauge();
    this.deps.log.info({ deviceId: state.id, online, reason }, `device ${state.id} ${online ? 'online' : 'offline'}: ${reason}`);
    this.deps.bus.emit('device.status', { deviceId: state.id, online, at: new Date(now).toISOString(), reason });
    if (force) void this.persist(state).catch(() => {});
  }

  private persist(state: DeviceState): Promise<void> {
    const { store } = this.deps;
    const row = { id: state.id, online: state.online, lastSeenMs: state.lastSeenMs, statusChangedMs: state.statusChangedMs, info: state.info };
    return store.writes.write(() => store.devices.save(row));
  }

  private monotonic(): number {
    return this.deps.clock.monotonic?.() ?? this.deps.clock.now();
  }

  private updateGauge(): void {
    this.deps.metrics.devicesOnline.set(this.onlineCount());
  }

  private schedule(): void {
    const every = this.deps.checkEveryMs ?? 5_000;
    this.timer = this.deps.clock.setTimeout(() => {
      this.check();
      this.schedule();
    }, every);
  }
}

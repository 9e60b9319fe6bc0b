import type { SerialBusConfig } from '../../config/schema/serial.ts';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import type { DeviceEventInput } from '../../gateway/core/model.ts';
import type { CommandResult, DeviceCommand, DriverContext } from '../driver.ts';
import { BusClosedError, type SerialBus } from './serial-bus.ts';

export interface PolledDeviceDeps {
  device: DeviceConfig;
  busConfig: SerialBusConfig;
  bus: SerialBus;
  ctx: DriverContext;
}

/**
 * A device the driver polls on its bus. Subclasses do one poll and handle commands; this class
 * runs the poll loop (never two polls at once), counts failures in a row, marks the device
 * offline after `offlineAfterFailures` and alive again at the next answer.
 */
export abstract class PolledDevice {
  readonly id: string;
  protected failures = 0;
  private timer: TimerHandle | null = null;
  private running = false;
  private polling: Promise<void> | null = null;
  private online = false;
  private lastSeenCallMs = -Infinity;
  private wakeRequested = false;

  constructor(protected readonly deps: PolledDeviceDeps) {
    this.id = deps.device.id;
  }

  get pollIntervalMs(): number {
    return this.deps.device.serial?.pollIntervalMs ?? this.deps.busConfig.pollIntervalMs;
  }

  get isOnline(): boolean {
    return this.online;
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.deps.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.polling?.catch(() => {});
  }

  /** The bus came back: poll at once instead of waiting out the interval. */
  wake(): void {
    if (!this.running) return;
    if (this.polling) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  /** The bus went away: every device on it is offline at once. */
  busLost(reason: string): void {
    this.markOffline(`serial bus ${this.deps.busConfig.id} lost: ${reason}`);
  }

  /** Runs one poll now; tests and the benchmark call it directly. */
  async pollNow(): Promise<void> {
    while (this.polling) await this.polling.catch(() => {});
    const run = this.runPoll();
    this.polling = run;
    try {
      await run;
    } finally {
      this.polling = null;
    }
  }

  abstract sendCommand(command: DeviceCommand): Promise<CommandResult>;

  protected abstract poll(): Promise<void>;

  protected async ingest(input: Omit<DeviceEventInput, 'deviceId'>): Promise<void> {
    try {
      await this.deps.ctx.ingest({ deviceId: this.id, ...input });
    } catch (error) {
      this.deps.ctx.metrics.errors.inc({ component: 'driver:serial' });
      this.deps.ctx.log.error({ err: error, deviceId: this.id, type: input.type }, `serial device ${this.id}: event ${input.type} not stored: ${(error as Error).message}`);
      throw error;
    }
  }

  private async runPoll(): Promise<void> {
    try {
      await this.poll();
      this.answered();
    } catch (error) {
      this.failed(error as Error);
    }
  }

  private answered(): void {
    this.failures = 0;
    const { ctx, device } = this.deps;
    const now = ctx.clock.now();
    // deviceSeen writes to SQLite: once on coming back, then twice per heartbeat period is plenty.
    if (this.online && now - this.lastSeenCallMs < (device.heartbeatSeconds * 1000) / 2) return;
    this.online = true;
    this.lastSeenCallMs = now;
    void ctx.deviceSeen(this.id, { bus: this.deps.busConfig.id, address: device.serial?.address }).catch((error: Error) => {
      ctx.log.warn({ err: error, deviceId: this.id }, `serial device ${this.id}: could not record it as seen`);
    });
  }

  private failed(error: Error): void {
    if (error instanceof BusClosedError) return; // the bus reports its own loss once for all devices
    this.failures++;
    if (this.failures >= this.deps.busConfig.offlineAfterFailures) this.markOffline(`${this.failures} polls without a valid answer: ${error.message}`);
  }

  private markOffline(reason: string): void {
    if (!this.online) return;
    this.online = false;
    this.lastSeenCallMs = -Infinity;
    this.deps.ctx.deviceOffline(this.id, reason);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) this.deps.ctx.clock.clearTimeout(this.timer);
    this.timer = this.deps.ctx.clock.setTimeout(() => {
      this.timer = null;
      void this.pollNow().finally(() => {
        const again = this.wakeRequested || this.pollAgainSoon();
        this.wakeRequested = false;
        this.schedule(again ? 0 : this.pollIntervalMs);
      });
    }, delayMs);
  }

  /** A reader with more queued swipes is polled again at once. */
  protected pollAgainSoon(): boolean {
    return false;
  }
}

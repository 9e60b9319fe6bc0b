import type { AlarmOutputConfig } from '../../config/schema/serial.ts';
import type { EventBus } from '../../gateway/core/bus.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import type { Alert } from '../../gateway/core/model.ts';
import type { DriverContext } from '../driver.ts';

/** What the alarm output drives: a siren coil that may fail to switch (the device re-tries). */
export interface Siren {
  readonly id: string;
  setSiren(on: boolean): Promise<void>;
}

/**
 * 声光报警: alerts of the configured severities (and categories) switch the siren on; it goes
 * off when every such alert is acknowledged (or closed), or after holdSeconds so that a
 * forgotten alert does not wail all night. Listens to the gateway bus, never to rules directly.
 */
export class AlarmOutput {
  readonly name: string;
  private active = new Set<string>();
  private holdTimer: TimerHandle | null = null;
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly deps: { siren: Siren; config: AlarmOutputConfig; bus: EventBus; ctx: DriverContext },
  ) {
    this.name = `alarm-output:${deps.siren.id}`;
  }

  start(): void {
    const { bus } = this.deps;
    this.unsubscribe.push(
      bus.on('alert.raised', (alert) => this.onAlert(alert)),
      bus.on('alert.updated', ({ alert }) => this.onAlert(alert)),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.holdTimer) this.deps.ctx.clock.clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.active.clear();
  }

  /** Alert ids currently holding the siren on. */
  get sounding(): string[] {
    return [...this.active];
  }

  private matches(alert: Alert): boolean {
    const { config } = this.deps;
    return config.severities.includes(alert.severity) && (!config.categories || config.categories.includes(alert.category));
  }

  private onAlert(alert: Alert): void {
    if (alert.status === 'new' && this.matches(alert)) {
      if (this.active.has(alert.id)) return;
      this.active.add(alert.id);
      this.switch(true, `alert ${alert.id} (${alert.severity}): ${alert.message}`);
      this.restartHold();
      return;
    }
    if (!this.active.delete(alert.id)) return;
    if (this.active.size === 0) this.off(`alert ${alert.id} ${alert.status}`);
  }

  private restartHold(): void {
    const { ctx, config } = this.deps;
    if (this.holdTimer) ctx.clock.clearTimeout(this.holdTimer);
    this.holdTimer = ctx.clock.setTimeout(() => {
      this.holdTimer = null;
      this.active.clear();
      this.switch(false, `held for ${config.holdSeconds} s`);
    }, config.holdSeconds * 1000);
  }

  private off(reason: string): void {
    if (this.holdTimer) this.deps.ctx.clock.clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.switch(false, reason);
  }

  private switch(on: boolean, reason: string): void {
    const { siren, ctx } = this.deps;
    ctx.log.info({ deviceId: siren.id, on, reason }, `sound-and-light alarm ${siren.id} ${on ? 'on' : 'off'}: ${reason}`);
    // A failed write is retried by the device at its next poll; the wanted state is already set.
    siren.setSiren(on).catch((error: Error) => ctx.log.warn({ deviceId: siren.id, err: error }, `alarm ${siren.id}: switch ${on ? 'on' : 'off'} pending: ${error.message}`));
  }
}

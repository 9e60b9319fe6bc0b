import type { EmbeddedBroker } from '../broker/broker.ts';
import type { EventBus } from '../core/bus.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Alert } from '../core/model.ts';
import type { Service } from '../core/service.ts';

/** Publishes every new or changed alert to local/alerts/{severity} for guard-room clients. */
export class LocalMqttChannel implements Service {
  readonly name = 'local-mqtt-channel';
  private off: (() => void)[] = [];

  constructor(private readonly deps: { bus: EventBus; broker: EmbeddedBroker; metrics: Metrics; log: Logger }) {}

  start(): void {
    const { bus } = this.deps;
    this.off.push(
      bus.on('alert.raised', (alert) => this.send(alert, 'raised')),
      bus.on('alert.updated', ({ alert, change }) => this.send(alert, change)),
    );
  }

  stop(): void {
    for (const off of this.off) off();
    this.off = [];
  }

  private send(alert: Alert, change: string): void {
    this.deps.broker.publish(`local/alerts/${alert.severity}`, JSON.stringify({ change, alert }), { qos: 1 }).catch((error: unknown) => {
      this.deps.metrics.errors.inc({ component: 'local-mqtt-channel' });
      this.deps.log.warn({ err: error, alertId: alert.id }, 'could not publish local alert');
    });
  }
}

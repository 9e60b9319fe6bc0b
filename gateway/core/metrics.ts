import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per gateway instance (tests run several in one process). Every rejected input is
 * counted by where it came from and why; GET /metrics exposes them for Prometheus and
 * GET /api/status summarises them.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly rejected = new Counter({
    name: 'gridguard_rejected_inputs_total',
    help: 'Inputs refused, by source (mqtt, serial, opcua, http, config, platform) and reason',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'gridguard_events_total',
    help: 'Device events accepted and stored, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly alerts = new Counter({
    name: 'gridguard_alerts_total',
    help: 'Alerts raised, by rule and severity',
    labelNames: ['rule', 'severity'] as const,
    registers: [this.registry],
  });

  readonly alertsMerged = new Counter({
    name: 'gridguard_alerts_merged_total',
    help: 'Triggers merged into an open alert within its cooldown',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  readonly ingestLatency = new Histogram({
    name: 'gridguard_ingest_seconds',
    help: 'From receipt to durable commit of a device event',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });

  readonly devicesOnline = new Gauge({
    name: 'gridguard_devices_online',
    help: 'Configured devices currently online',
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'gridguard_internal_errors_total',
    help: 'Errors inside the gateway (listener failures, store failures), by component',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  readonly eventsExpired = new Counter({
    name: 'gridguard_events_expired_total',
    help: 'Stored device events deleted because they were older than the retention',
    registers: [this.registry],
  });

  /** A plain snapshot of the rejection counters for /api/status. */
  async rejectedSummary(): Promise<Record<string, number>> {
    const data = await this.rejected.get();
    const out: Record<string, number> = {};
    for (const v of data.values) out[`${v.labels.source}/${v.labels.reason}`] = v.value;
    return out;
  }
}

import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Alert, Severity } from '../core/model.ts';
import type { Service } from '../core/service.ts';
import type { Store } from '../store/store.ts';
import type { AlertService } from './alert-service.ts';

export interface EscalationPolicy {
  afterMs: number;
  severity: Severity;
}

/**
 * 升级: an alert still 'new' (nobody acknowledged it) `afterMs` after it was raised is raised again
 * at the rule's escalation severity and flagged to the platform. The deadline is the alert's
 * raisedAt, which is in SQLite, so a restart re-arms every pending escalation from the store; one
 * that fell due while the gateway was down escalates once at start (it is still unacknowledged).
 */
export class AlertEscalation implements Service {
  readonly name = 'alert-escalation';
  private timers = new Map<string, TimerHandle>();
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly deps: {
      alerts: AlertService;
      store: Store;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      /** The escalation policy of the rule that raised the alert; undefined: never escalates. */
      policyFor: (ruleId: string) => EscalationPolicy | undefined;
    },
  ) {}

  start(): void {
    const { bus, store } = this.deps;
    for (const alert of store.alerts.unacknowledged()) this.arm(alert);
    this.unsubscribe.push(
      bus.on('alert.raised', (alert) => this.arm(alert)),
      bus.on('alert.updated', ({ alert }) => {
        if (alert.status !== 'new') this.disarm(alert.id);
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    for (const id of [...this.timers.keys()]) this.disarm(id);
  }

  /** Alerts waiting to escalate (for status and tests). */
  get pending(): number {
    return this.timers.size;
  }

  private arm(alert: Alert): void {
    if (alert.status !== 'new' || alert.details.escalation || this.timers.has(alert.id)) return;
    const policy = this.deps.policyFor(alert.ruleId);
    if (!policy) return;
    const dueMs = Date.parse(alert.raisedAt) + policy.afterMs;
    this.timers.set(
      alert.id,
      this.deps.clock.setTimeout(() => {
        this.timers.delete(alert.id);
        this.deps.alerts.escalate(alert.id, policy.severity, { afterMinutes: Math.round((policy.afterMs / 60_000) * 10) / 10 }).catch((error: unknown) => {
          this.deps.metrics.errors.inc({ component: 'alert-escalation' });
          this.deps.log.error({ err: error, alertId: alert.id }, 'could not escalate alert');
        });
      }, dueMs - this.deps.clock.now()),
    );
  }

  private disarm(id: string): void {
    const timer = this.timers.get(id);
    if (timer) this.deps.clock.clearTimeout(timer);
    this.timers.delete(id);
  }
}

import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import {
  ALERT_TRANSITIONS,
  type Alert,
  type AlertStatus,
  type AlertTransition,
  type Category,
  type Place,
  type PlaceCodes,
  type Severity,
  type SubjectRefs,
  type Identity,
} from '../core/model.ts';
import type { Store } from '../store/store.ts';

export interface AlertDraft {
  ruleId: string;
  ruleType: string;
  severity: Severity;
  category: Category;
  message: string;
  details: Record<string, unknown>;
  /** Triggers with the same rule and merge key within cooldownMs merge into one open alert. */
  mergeKey: string;
  cooldownMs: number;
  evidence: string[];
  deviceId: string | null;
  place: Place;
  codes: PlaceCodes;
  subject: { refs: SubjectRefs; identity?: Identity } | null;
}

export class AlertError extends Error {
  constructor(
    readonly code: 'not-found' | 'invalid-transition' | 'note-required',
    message: string,
  ) {
    super(message);
  }
}

const CLOSED: ReadonlySet<AlertStatus> = new Set(['resolved', 'false-alarm']);
const MAX_EVIDENCE = 50;

/**
 * Creates, merges and moves alerts. Every change is committed (alert, change log, outbox row) in
 * one transaction before it is announced on the bus, so the guard room never sees an alert the
 * store does not have.
 */
export class AlertService {
  /** Open alerts by rule and merge key, so that triggers in the same tick merge too. */
  private open = new Map<string, Alert>();
  /** Monotonic time of each open alert's last trigger in this process: cooldowns survive clock steps. */
  private triggeredMono = new Map<string, number>();

  constructor(private readonly deps: { store: Store; bus: EventBus; clock: Clock; metrics: Metrics; log: Logger }) {}

  async raise(draft: AlertDraft): Promise<Alert> {
    const { store, bus, clock, metrics } = this.deps;
    const nowMs = clock.now();
    const now = new Date(nowMs).toISOString();
    const key = `${draft.ruleId}\u0000${draft.mergeKey}`;
    let current = this.open.get(key);
    if (!current) {
      current = store.alerts.openForMerge(draft.ruleId, draft.mergeKey, nowMs - draft.cooldownMs);
      if (current) this.open.set(key, current);
    }
    if (current && !CLOSED.has(current.status) && this.sinceLastTrigger(current, nowMs) <= draft.cooldownMs) {
      const merged: Alert = {
        ...current,
        occurrences: current.occurrences + 1,
        lastTriggeredAt: now,
        updatedAt: now,
        evidence: mergeEvidence(current.evidence, draft.evidence),
        details: { ...current.details, ...draft.details },
      };
      this.open.set(key, merged);
      this.markTriggered(merged.id);
      metrics.alertsMerged.inc({ rule: draft.ruleId });
      await this.persist(merged, 'merged', null, nowMs);
      bus.emit('alert.updated', { alert: merged, transition: null, change: 'merged' });
      return merged;
    }

    const alert: Alert = {
      id: newId(),
      ruleId: draft.ruleId,
      ruleType: draft.ruleType,
      severity: draft.severity,
      category: draft.category,
      status: 'new',
      raisedAt: now,
      updatedAt: now,
      codes: draft.codes,
      place: draft.place,
      deviceId: draft.deviceId,
      subject: draft.subject,
      message: draft.message,
      details: draft.details,
      evidence: draft.evidence.slice(-MAX_EVIDENCE),
      mergeKey: draft.mergeKey,
      occurrences: 1,
      lastTriggeredAt: now,
      transitions: [{ from: null, to: 'new', at: now, by: `rule:${draft.ruleId}`, note: null, source: 'system' }],
    };
    this.open.set(key, alert);
    this.markTriggered(alert.id);
    this.trimOpen(nowMs);
    metrics.alerts.inc({ rule: draft.ruleId, severity: draft.severity });
    await this.persist(alert, 'raised', null, nowMs);
    this.deps.log.warn({ alertId: alert.id, rule: alert.ruleId, severity: alert.severity, codes: alert.codes }, `ALERT [${alert.severity}] ${alert.message}`);
    bus.emit('alert.raised', alert);
    return alert;
  }

  async transition(
    id: string,
    to: AlertStatus,
    actor: { by: string; note?: string | null; source?: AlertTransition['source'] },
  ): Promise<Alert> {
    const { store, bus, clock } = this.deps;
    const current = this.findCached(id) ?? store.alerts.get(id);
    if (!current) throw new AlertError('not-found', `no alert with id ${id}`);
    if (!ALERT_TRANSITIONS[current.status].includes(to)) {
      throw new AlertError('invalid-transition', `cannot move an alert from ${current.status} to ${to}`);
    }
    const note = actor.note?.trim() || null;
    if (CLOSED.has(to) && !note) throw new AlertError('note-required', `a note is required to mark an alert ${to}`);
    const nowMs = clock.now();
    const at = new Date(nowMs).toISOString();
    const transition: AlertTransition = { from: current.status, to, at, by: actor.by, note, source: actor.source ?? 'local' };
    const updated: Alert = { ...current, status: to, updatedAt: at, transitions: [...current.transitions, transition] };
    const key = `${updated.ruleId}\u0000${updated.mergeKey}`;
    if (CLOSED.has(to)) {
      if (this.open.get(key)?.id === id) this.open.delete(key);
    } else if (this.open.get(key)?.id === id) this.open.set(key, updated);
    await this.persist(updated, 'transition', transition, nowMs);
    bus.emit('alert.updated', { alert: updated, transition, change: 'transition' });
    return updated;
  }

  /**
   * Raises an alert again at a higher severity because nobody acknowledged it in time. The change
   * is committed and announced as an alert update with change 'escalated', which the uplink sends
   * to the platform. An alert escalates at most once; a closed or acknowledged one never does.
   */
  async escalate(id: string, severity: Severity, reason: { afterMinutes: number }): Promise<Alert | undefined> {
    const { store, bus, clock, metrics } = this.deps;
    const current = this.findCached(id) ?? store.alerts.get(id);
    if (!current || current.status !== 'new' || current.details.escalation) return undefined;
    const nowMs = clock.now();
    const at = new Date(nowMs).toISOString();
    const escalated: Alert = {
      ...current,
      severity,
      updatedAt: at,
      message: current.message.startsWith('[升级] ') ? current.message : `[升级] ${current.message} (${reason.afterMinutes} 分钟未确认)`,
      details: { ...current.details, escalation: { from: current.severity, to: severity, afterMinutes: reason.afterMinutes, at } },
    };
    const key = `${escalated.ruleId}\u0000${escalated.mergeKey}`;
    if (this.open.get(key)?.id === id) this.open.set(key, escalated);
    metrics.alerts.inc({ rule: escalated.ruleId, severity });
    await this.persist(escalated, 'escalated', null, nowMs);
    this.deps.log.warn({ alertId: id, rule: escalated.ruleId, from: current.severity, to: severity }, `ALERT ESCALATED [${severity}] ${escalated.message}`);
    bus.emit('alert.updated', { alert: escalated, transition: null, change: 'escalated' });
    return escalated;
  }

  get(id: string): Alert | undefined {
    return this.findCached(id) ?? this.deps.store.alerts.get(id);
  }

  private async persist(alert: Alert, change: 'raised' | 'merged' | 'transition' | 'escalated', transition: AlertTransition | null, nowMs: number) {
    const { store, bus } = this.deps;
    await store.writes.write(() => {
      store.alerts.save(alert, change);
      if (change === 'raised') store.outbox.enqueue('alert', alert.id, alert, nowMs);
      else {
        const updateId = newId();
        store.outbox.enqueue(
          'alert-update',
          updateId,
          { id: updateId, alertId: alert.id, change, status: alert.status, severity: alert.severity, occurrences: alert.occurrences, transition, at: alert.updatedAt, evidence: alert.evidence },
          nowMs,
        );
      }
    });
    bus.emit('outbox.enqueued', { count: 1 });
  }

  private findCached(id: string): Alert | undefined {
    for (const alert of this.open.values()) if (alert.id === id) return alert;
    return undefined;
  }

  /**
   * Time since an alert was last triggered. Measured on the monotonic clock when this process saw
   * the trigger, so that stepping the system clock neither extends nor cuts a cooldown; on wall
   * time for alerts loaded from the store after a restart.
   */
  private sinceLastTrigger(alert: Alert, nowMs: number): number {
    const mono = this.triggeredMono.get(alert.id);
    const { clock } = this.deps;
    if (mono !== undefined && clock.monotonic) return clock.monotonic() - mono;
    return nowMs - Date.parse(alert.lastTriggeredAt);
  }

  private markTriggered(alertId: string): void {
    const { clock } = this.deps;
    if (!clock.monotonic) return;
    if (this.triggeredMono.size > 20_000) this.triggeredMono.clear();
    this.triggeredMono.set(alertId, clock.monotonic());
  }

  /** Forgets open alerts whose last trigger is older than a day; the store still has them. */
  private trimOpen(nowMs: number): void {
    if (this.open.size < 10_000) return;
    for (const [key, alert] of this.open) if (Date.parse(alert.lastTriggeredAt) < nowMs - 86_400_000) this.open.delete(key);
  }
}

/** The alert's evidence and the new trigger's, each id once, the newest MAX_EVIDENCE kept (a Set: a busy door's trigger brings dozens). */
function mergeEvidence(current: string[], added: string[]): string[] {
  const seen = new Set(current);
  const merged = [...current];
  for (const id of added) if (!seen.has(id)) (seen.add(id), merged.push(id));
  return merged.length > MAX_EVIDENCE ? merged.slice(-MAX_EVIDENCE) : merged;
}

import { readFileSync } from 'node:fs';
import { Counter, Gauge } from 'prom-client';
import type { GatewayConfig, PlatformConfig } from '../config/schema/index.ts';
import type { AlertService } from '../gateway/alerts/alert-service.ts';
import type { AuditLog } from '../gateway/audit/audit-log.ts';
import type { EventBus } from '../gateway/core/bus.ts';
import type { Clock, TimerHandle } from '../gateway/core/clock.ts';
import { newId } from '../gateway/core/ids.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { Service } from '../gateway/core/service.ts';
import type { Identifier } from '../gateway/identify/identifier.ts';
import type { RuleEngine } from '../gateway/rules/engine.ts';
import { OUTBOX_KINDS, type OutboxKind, type OutboxPolicy } from '../gateway/store/outbox.ts';
import type { Store } from '../gateway/store/store.ts';
import type { MediaStore } from '../models/media-store.ts';
import { loadEd25519PublicKey } from './canonical.ts';
import { CommandProcessor } from './commands.ts';
import { MediaEvidence } from './media-evidence.ts';
import type { Uplink } from './uplink.ts';

/** Outbox bounds when the site has no platform section (the outbox then only fills). */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  quotaBytes: 512 * 1024 * 1024,
  evictAlerts: false,
  ttlMs: { telemetry: 24 * 3600 * 1000 },
};

const SWEEP_MS = 30_000;

export function outboxPolicyOf(platform: PlatformConfig | undefined): OutboxPolicy {
  if (!platform) return DEFAULT_OUTBOX_POLICY;
  const { quotaBytes, evictAlerts, ttlSeconds } = platform.outbox;
  const ttlMs: Partial<Record<OutboxKind, number | null>> = {};
  for (const kind of OUTBOX_KINDS) ttlMs[kind] = ttlSeconds[kind] === null ? null : ttlSeconds[kind] * 1000;
  return { quotaBytes, evictAlerts, ttlMs };
}

/**
 * Everything of cloud-sync beside the uplink connection: bounds the outbox (quota, time to
 * live), exposes its depth as metrics, adds telemetry heartbeats, and answers downlink commands
 * through the uplink.
 */
export class CloudSync implements Service {
  readonly name = 'cloud-sync';
  private sweepTimer: TimerHandle | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  private metricNames: string[] = [];
  private lastTotals = new Map<OutboxKind, { evicted: number; expired: number }>();
  private startedMs = 0;
  processor: CommandProcessor | null = null;
  mediaEvidence: MediaEvidence | null = null;

  constructor(
    private readonly deps: {
      config: GatewayConfig;
      store: Store;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      identifier: Identifier;
      alerts: AlertService;
      rules: RuleEngine;
      resolvePath: (p: string) => string;
      /** The uplink, when the platform is enabled (constructed after this service). */
      uplink: () => Uplink | null;
      /** Where evidence images live (the camera intake's store); without it no image is ever sent. */
      media?: () => MediaStore | null;
      /** Every image sent upstream is recorded here as a disclosure. */
      audit?: () => AuditLog | null;
    },
  ) {}

  start(): void {
    const { config, store, clock, log } = this.deps;
    const platform = config.platform?.enabled ? config.platform : undefined;
    // First, before any timer or metric exists: a bad key must fail start-up with nothing to undo.
    const publicKey = platform?.commandPublicKey ? this.readPublicKey(platform.commandPublicKey) : null;
    this.startedMs = clock.now();
    store.outbox.configure(outboxPolicyOf(config.platform));
    for (const t of store.outbox.totals()) this.lastTotals.set(t.kind, { evicted: t.evicted, expired: t.expired });
    this.registerMetrics();
    this.sweep();

    const uplink = this.deps.uplink();
    if (platform && uplink) {
      if (!publicKey) log.warn('platform.commandPublicKey is not set: every downlink command will be refused');
      const commandsTotal = new Counter({
        name: 'gridguard_platform_commands_total',
        help: 'Downlink commands from the platform, by type, status (ok, error, duplicate) and error code',
        labelNames: ['type', 'status', 'code'] as const,
        registers: [this.deps.metrics.registry],
      });
      this.metricNames.push('gridguard_platform_commands_total');
      const processor = new CommandProcessor({
        gatewayId: config.site.gatewayId,
        config,
        store,
        identifier: this.deps.identifier,
        alerts: this.deps.alerts,
        rules: this.deps.rules,
        clock,
        metrics: this.deps.metrics,
        log,
        publicKey,
        maxAgeMs: platform.commandMaxAgeSeconds * 1000,
        commandsTotal,
      });
      this.processor = processor;
      if (processor.applyStoredRulePatches()) log.info('rule parameters from the platform applied');
      uplink.setCommandHandler(
        (payload, topic) => processor.handle(payload, topic),
        () => processor.stats,
      );
      if (platform.heartbeatSeconds > 0) this.scheduleHeartbeat(platform.heartbeatSeconds * 1000);
      const media = this.deps.media?.() ?? null;
      if (platform.media.send !== 'never' && media) {
        this.mediaEvidence = new MediaEvidence({
          policy: platform.media,
          store,
          bus: this.deps.bus,
          clock,
          metrics: this.deps.metrics,
          log,
          media,
          audit: this.deps.audit?.() ?? null,
          communityGridCode: config.site.communityGridCode,
        });
        this.mediaEvidence.start();
      } else if (platform.media.send !== 'never') log.warn('platform.media.send is set but this gateway has no media store: no image will be sent');
    }
  }

  /** A missing or wrong key stops start-up with the config key and file named: commands must not silently stop working. */
  private readPublicKey(path: string) {
    const where = `${this.deps.config.site.gatewayId}: platform.commandPublicKey (${this.deps.resolvePath(path)})`;
    let pem: Buffer;
    try {
      pem = readFileSync(this.deps.resolvePath(path));
    } catch (error) {
      throw new Error(`${where}: cannot read: ${(error as Error).message}`);
    }
    return loadEd25519PublicKey(pem, where);
  }

  /** Synchronous but for the evidence images still being queued, which it waits for. */
  stop(): Promise<void> | void {
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    if (this.heartbeatTimer) this.deps.clock.clearTimeout(this.heartbeatTimer);
    this.sweepTimer = this.heartbeatTimer = null;
    for (const name of this.metricNames) this.deps.metrics.registry.removeSingleMetric(name);
    this.metricNames = [];
    const mediaEvidence = this.mediaEvidence;
    this.mediaEvidence = null;
    return mediaEvidence?.stop();
  }

  /** Expires rows past their time to live, re-checks the quota (it may have shrunk) and forgets old command ids. */
  sweep(): void {
    const { store, clock, log } = this.deps;
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = clock.setTimeout(() => this.sweep(), SWEEP_MS);
    store.writes
      .write(() => {
        store.outbox.expire(clock.now());
        store.outbox.enforceQuota();
        this.processor?.prune(clock.now());
      })
      .then(() => this.reportDrops())
      .catch((error: unknown) => {
        this.deps.metrics.errors.inc({ component: 'cloud-sync' });
        log.error({ err: error }, 'outbox sweep failed');
      });
  }

  /** Logs evictions and expiries since the last look: losing data is never silent. */
  private reportDrops(): void {
    for (const t of this.deps.store.outbox.totals()) {
      const last = this.lastTotals.get(t.kind) ?? { evicted: 0, expired: 0 };
      if (t.evicted > last.evicted)
        this.deps.log.warn({ kind: t.kind, evicted: t.evicted - last.evicted, quotaBytes: this.deps.store.outbox.currentPolicy.quotaBytes }, `outbox over quota: ${t.evicted - last.evicted} ${t.kind} items evicted`);
      if (t.expired > last.expired) this.deps.log.info({ kind: t.kind, expired: t.expired - last.expired }, `${t.expired - last.expired} ${t.kind} items expired unsent`);
      this.lastTotals.set(t.kind, { evicted: t.evicted, expired: t.expired });
    }
  }

  private scheduleHeartbeat(everyMs: number): void {
    const { store, bus, clock } = this.deps;
    this.heartbeatTimer = clock.setTimeout(() => {
      const nowMs = clock.now();
      const queue: Record<string, { count: number; bytes: number }> = {};
      for (const t of store.outbox.totals()) queue[t.kind] = { count: t.count, bytes: t.bytes };
      const id = newId();
      store.writes
        .write(() => store.outbox.enqueue('telemetry', id, { id, type: 'heartbeat', at: new Date(nowMs).toISOString(), uptimeSeconds: Math.round((nowMs - this.startedMs) / 1000), queue }, nowMs))
        .then(() => bus.emit('outbox.enqueued', { count: 1 }))
        .catch(() => this.deps.metrics.errors.inc({ component: 'cloud-sync' }));
      this.reportDrops();
      this.scheduleHeartbeat(everyMs);
    }, everyMs);
  }

  private registerMetrics(): void {
    const { store, clock, metrics } = this.deps;
    const registers = [metrics.registry];
    const byKind = ['kind'] as const;
    const snapshot = () => store.outbox.totals();
    const gauges: [string, string, (t: ReturnType<typeof snapshot>[number]) => number][] = [
      ['gridguard_outbox_items', 'Items waiting for the platform, by kind', (t) => t.count],
      ['gridguard_outbox_bytes', 'Bytes waiting for the platform, by kind', (t) => t.bytes],
      ['gridguard_outbox_oldest_age_seconds', 'Age of the oldest waiting item, by kind (0 when empty)', (t) => (t.oldestMs === null ? 0 : (clock.now() - t.oldestMs) / 1000)],
    ];
    for (const [name, help, value] of gauges) {
      new Gauge({
        name,
        help,
        labelNames: byKind,
        registers,
        collect() {
          for (const t of snapshot()) this.set({ kind: t.kind }, value(t));
        },
      });
      this.metricNames.push(name);
    }
    new Gauge({
      name: 'gridguard_outbox_quota_bytes',
      help: 'Byte quota of the outbox',
      registers,
      collect() {
        this.set(store.outbox.currentPolicy.quotaBytes ?? 0);
      },
    });
    this.metricNames.push('gridguard_outbox_quota_bytes');
    // Counts live in SQLite (they survive restarts); the counters catch up with them on scrape.
    for (const field of ['evicted', 'expired'] as const) {
      const seen = new Map<string, number>();
      const name = `gridguard_outbox_${field}_total`;
      new Counter({
        name,
        help: field === 'evicted' ? 'Items evicted to keep the outbox under its quota, by kind' : 'Items dropped unsent after their time to live, by kind',
        labelNames: byKind,
        registers,
        collect() {
          for (const t of snapshot()) {
            const delta = t[field] - (seen.get(t.kind) ?? 0);
            if (delta > 0) this.inc({ kind: t.kind }, delta);
            else if (!seen.has(t.kind)) this.inc({ kind: t.kind }, 0);
            seen.set(t.kind, t[field]);
          }
        },
      });
      this.metricNames.push(name);
    }
  }
}

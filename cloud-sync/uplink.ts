import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { PlatformConfig } from '../config/schema/index.ts';
import type { EventBus } from '../gateway/core/bus.ts';
import type { Clock, TimerHandle } from '../gateway/core/clock.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { Service } from '../gateway/core/service.ts';
import { OUTBOX_CLASSES, OUTBOX_KINDS, type OutboxKind, type SendBatch } from '../gateway/store/outbox.ts';
import type { Store } from '../gateway/store/store.ts';
import type { CommandResult } from './messages.ts';
import { PROTOCOL_VERSION, TOPIC_OF_KIND, topicRoot, type Envelope } from './topics.ts';

export interface QueueClassStatus {
  count: number;
  bytes: number;
  oldestAgeSeconds: number | null;
  evicted: number;
  expired: number;
}

export interface UplinkStatus {
  enabled: true;
  connected: boolean;
  url: string;
  protocolVersion: 4 | 5;
  lastConnectedAt: string | null;
  lastAckAt: string | null;
  /** Connection attempts scheduled after a failure or a lost connection. */
  reconnects: number;
  connects: number;
  inFlightEnvelopes: number;
  sentItems: number;
  sentEnvelopes: number;
  lastError: string | null;
  queue: Record<OutboxKind, QueueClassStatus>;
  outbox: { bytes: number; quotaBytes: number | null; overQuota: boolean };
  publishLatencyMs: { last: number | null; average: number | null; max: number | null };
  drain: { maxItemsPerSecond: number | null; window: number };
  commands: { subscribed: boolean; received: number; ok: number; error: number; duplicates: number } | null;
}

export type CommandHandler = (payload: Buffer, topic: string) => Promise<CommandResult>;

/** Lane 0 carries alerts and alert updates, lane 1 the backlog: a full backlog lane never blocks an alert. */
const laneOf = (cls: number) => (cls <= OUTBOX_CLASSES['alert-update'] ? 0 : 1);

/**
 * Store-and-forward to the grid platform. Reads the SQLite outbox by priority class (alerts,
 * alert updates, events, telemetry), sends envelopes at QoS 1 and deletes their rows only when
 * the platform broker acknowledged them (PUBACK). While the platform is unreachable the gateway
 * keeps working and the outbox grows; after a crash the rows are still there and go out again
 * (with the same item ids, so the platform can drop duplicates). It also carries the downlink:
 * …/cmd is subscribed on a persistent session and handed to the command handler.
 */
export class Uplink implements Service {
  readonly name = 'uplink';
  private client: MqttClient | null = null;
  private connected = false;
  private stopping = false;
  private attempts = 0;
  private reconnectTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private rateTimer: TimerHandle | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  /** Bumped at every connect: acknowledgements from an older connection are ignored. */
  private generation = 0;
  /** Highest outbox seq sent (not yet necessarily acked) per class, so rows are not sent twice per connection. */
  private sentUpTo: number[] = new Array(OUTBOX_KINDS.length).fill(0);
  private inFlight = [0, 0];
  private draining = false;
  private envelopeSeq = 0;
  private tokens = 0;
  private pendingDeletes: { cls: number; firstSeq: number; lastSeq: number; envelopeSeq: number }[] = [];
  private deleteTimer: NodeJS.Timeout | null = null;
  private persistedSeq = 0;
  private tokensAtMs = 0;
  private offWake: (() => void) | null = null;
  private commandHandler: CommandHandler | null = null;
  private commandStats: (() => { received: number; ok: number; error: number; duplicates: number }) | null = null;
  private commandChain: Promise<void> = Promise.resolve();
  private subscribed = false;
  private latency = { last: null as number | null, average: null as number | null, max: null as number | null };
  private counters = { reconnects: 0, connects: 0, sentItems: 0, sentEnvelopes: 0 };
  private lastConnectedAt: string | null = null;
  private lastAckAt: string | null = null;
  private lastError: string | null = null;
  private metrics: {
    publishSeconds: Histogram;
    reconnects: Counter;
    sentItems: Counter<'kind'>;
    connected: Gauge;
    all: { name: string }[];
  } | null = null;

  constructor(
    private readonly deps: {
      config: PlatformConfig;
      gatewayId: string;
      communityGridCode: string;
      version: string;
      store: Store;
      bus: EventBus;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      resolvePath: (p: string) => string;
      /** Extra fields for the retained status message (device counts). */
      statusExtra?: () => Record<string, unknown>;
      /** Envelopes allowed in flight at once per lane; overrides config.window. */
      window?: number;
    },
  ) {}

  get root(): string {
    return topicRoot(this.deps.communityGridCode, this.deps.gatewayId);
  }

  /** Downlink commands go to this handler; set before start(). */
  setCommandHandler(handler: CommandHandler, stats?: () => { received: number; ok: number; error: number; duplicates: number }): void {
    this.commandHandler = handler;
    this.commandStats = stats ?? null;
  }

  /** A live snapshot for GET /api/status (Gateway.status() reads it). */
  get state(): UplinkStatus {
    const { store, clock, config } = this.deps;
    const nowMs = clock.now();
    const totals = store.outbox.totals();
    const queue = {} as Record<OutboxKind, QueueClassStatus>;
    let bytes = 0;
    for (const t of totals) {
      bytes += t.bytes;
      queue[t.kind] = {
        count: t.count,
        bytes: t.bytes,
        oldestAgeSeconds: t.oldestMs === null ? null : Math.max(0, Math.round((nowMs - t.oldestMs) / 1000)),
        evicted: t.evicted,
        expired: t.expired,
      };
    }
    const quotaBytes = store.outbox.currentPolicy.quotaBytes;
    return {
      enabled: true,
      connected: this.connected,
      url: redactUrl(config.url),
      protocolVersion: config.protocolVersion,
      lastConnectedAt: this.lastConnectedAt,
      lastAckAt: this.lastAckAt,
      reconnects: this.counters.reconnects,
      connects: this.counters.connects,
      inFlightEnvelopes: this.inFlight[0]! + this.inFlight[1]!,
      sentItems: this.counters.sentItems,
      sentEnvelopes: this.counters.sentEnvelopes,
      lastError: this.lastError,
      queue,
      outbox: { bytes, quotaBytes, overQuota: quotaBytes !== null && bytes > quotaBytes },
      publishLatencyMs: { ...this.latency },
      drain: { maxItemsPerSecond: config.drainMaxItemsPerSecond || null, window: this.window },
      commands: this.commandHandler ? { subscribed: this.subscribed, ...(this.commandStats?.() ?? { received: 0, ok: 0, error: 0, duplicates: 0 }) } : null,
    };
  }

  private get window(): number {
    return this.deps.window ?? this.deps.config.window;
  }

  start(): void {
    this.stopping = false;
    this.registerMetrics();
    // Seqs only grow, even across crashes: skip past anything a previous run may have used
    // (it records its seq every 100 acknowledged envelopes) and record the new start at once.
    this.envelopeSeq = Number(this.deps.store.meta.get('uplink.envelopeSeq') ?? 0) + 1000;
    this.deps.store.meta.set('uplink.envelopeSeq', String(this.envelopeSeq));
    this.persistedSeq = this.envelopeSeq;
    this.tokens = this.deps.config.drainMaxItemsPerSecond;
    this.tokensAtMs = this.deps.clock.now();
    this.offWake = this.deps.bus.on('outbox.enqueued', () => this.drain());
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.offWake?.();
    for (const timer of [this.reconnectTimer, this.retryTimer, this.rateTimer]) if (timer) this.deps.clock.clearTimeout(timer);
    this.reconnectTimer = this.retryTimer = this.rateTimer = null;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    const client = this.client;
    this.client = null;
    if (client) {
      if (this.connected) {
        await new Promise<void>((resolve) =>
          client.publish(`${this.root}/status`, JSON.stringify(this.statusMessage('offline')), { qos: 1, retain: true }, () => resolve()),
        ).catch(() => {});
      }
      await client.endAsync(true).catch(() => {});
    }
    await this.commandChain.catch(() => {});
    await this.flushDeletes();
    this.connected = false;
    this.subscribed = false;
    this.generation++;
    this.unregisterMetrics();
  }

  private registerMetrics(): void {
    const registers = [this.deps.metrics.registry];
    const publishSeconds = new Histogram({
      name: 'gridguard_uplink_publish_seconds',
      help: 'From publishing an envelope to the platform broker’s PUBACK',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    const reconnects = new Counter({ name: 'gridguard_uplink_reconnects_total', help: 'Reconnection attempts to the platform broker', registers });
    const sentItems = new Counter({ name: 'gridguard_uplink_sent_items_total', help: 'Items acknowledged by the platform broker, by kind', labelNames: ['kind'] as const, registers });
    const connected = new Gauge({ name: 'gridguard_uplink_connected', help: '1 while connected to the platform broker', registers });
    this.metrics = { publishSeconds, reconnects, sentItems, connected, all: [publishSeconds, reconnects, sentItems, connected].map((m) => ({ name: (m as unknown as { name: string }).name })) };
  }

  private unregisterMetrics(): void {
    for (const m of this.metrics?.all ?? []) this.deps.metrics.registry.removeSingleMetric(m.name);
    this.metrics = null;
  }

  private options(): IClientOptions {
    const { config, gatewayId } = this.deps;
    const options: IClientOptions = {
      clientId: config.clientId ?? gatewayId,
      protocolVersion: config.protocolVersion,
      // A persistent session: commands sent while the gateway is offline wait at the broker.
      clean: false,
      reconnectPeriod: 0, // we back off ourselves, with jitter
      connectTimeout: 10_000,
      keepalive: 30,
      will: { topic: `${this.root}/status`, payload: Buffer.from(JSON.stringify(this.statusMessage('offline'))), qos: 1, retain: true },
    };
    if (config.protocolVersion === 5) options.properties = { sessionExpiryInterval: config.sessionExpirySeconds };
    if (config.username) options.username = config.username;
    if (config.password) options.password = config.password;
    if (config.tls) {
      // The pinned CA replaces the system store: only the platform's own CA is trusted.
      if (config.tls.ca) options.ca = readFileSync(this.deps.resolvePath(config.tls.ca));
      if (config.tls.cert) options.cert = readFileSync(this.deps.resolvePath(config.tls.cert));
      if (config.tls.key) options.key = readFileSync(this.deps.resolvePath(config.tls.key));
      options.rejectUnauthorized = true;
    }
    return options;
  }

  private connect(): void {
    if (this.stopping) return;
    const { log } = this.deps;
    let client: MqttClient;
    try {
      client = mqtt.connect(this.deps.config.url, this.options());
    } catch (error) {
      this.lastError = (error as Error).message;
      log.error({ err: error }, 'uplink: cannot create client');
      this.scheduleReconnect();
      return;
    }
    this.client = client;
    // Installed before CONNACK: a persistent session delivers queued commands right after it.
    client.handleMessage = (packet, done) => this.onMessage(client, packet, done);
    client.on('connect', () => {
      this.generation++;
      this.connected = true;
      this.attempts = 0;
      this.sentUpTo.fill(0);
      this.inFlight = [0, 0];
      this.counters.connects++;
      this.lastConnectedAt = new Date(this.deps.clock.now()).toISOString();
      this.metrics?.connected.set(1);
      log.info({ url: redactUrl(this.deps.config.url) }, 'uplink: connected to the platform');
      this.publishStatus();
      this.statusTimer ??= setInterval(() => this.publishStatus(), this.deps.config.statusIntervalSeconds * 1000);
      this.statusTimer.unref();
      if (this.commandHandler) this.subscribeCommands(client);
      // Rows acknowledged on the previous connection are deleted first, not sent again.
      void this.flushDeletes().then(() => this.drain());
    });
    client.on('error', (error) => {
      this.lastError = error.message;
      log.warn({ err: error.message }, 'uplink: connection error');
    });
    client.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      this.subscribed = false;
      this.metrics?.connected.set(0);
      if (wasConnected && !this.stopping) log.warn('uplink: connection to the platform lost; items wait in the outbox');
      if (this.client === client) {
        client.removeAllListeners();
        client.on('error', () => {});
        client.end(true);
        this.client = null;
        this.scheduleReconnect();
      }
    });
  }

  private subscribeCommands(client: MqttClient): void {
    const topic = `${this.root}/cmd`;
    client.subscribe(topic, { qos: 1 }, (error, granted) => {
      if (error || !granted?.length || granted[0]!.qos > 1) {
        this.lastError = `cannot subscribe to ${topic}: ${error?.message ?? `granted ${granted?.[0]?.qos}`}`;
        this.deps.log.error(this.lastError);
        return;
      }
      this.subscribed = true;
    });
  }

  /**
   * Incoming packets are handled one at a time and acknowledged (PUBACK) only after the command
   * was applied and its result recorded: a crash before that gets the command redelivered.
   * The result is published without waiting for its PUBACK, which could not be read until this
   * packet is done.
   */
  private onMessage(client: MqttClient, packet: IPublishPacket, done: (error?: Error) => void): void {
    const topic = packet.topic;
    if (topic !== `${this.root}/cmd` || !this.commandHandler) {
      if (topic !== `${this.root}/cmd`) this.deps.metrics.rejected.inc({ source: 'platform', reason: 'unexpected-topic' });
      done();
      return;
    }
    const handler = this.commandHandler;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.commandChain = this.commandChain
      .then(async () => {
        const result = await handler(payload, topic);
        client.publish(`${this.root}/cmd/result`, JSON.stringify(result), { qos: 1 }, () => {});
        done();
      })
      .catch((error: unknown) => {
        // The handler never throws for a bad command; this is the store failing. Leave the
        // command unacknowledged so the broker delivers it again after reconnecting.
        this.deps.log.error({ err: error }, 'uplink: command handling failed; it will be redelivered');
        this.deps.metrics.errors.inc({ component: 'uplink:commands' });
        client.end(true);
      });
  }

  /** Exponential backoff with full jitter: thousands of gateways must not reconnect in step. */
  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const { reconnectMinMs, reconnectMaxMs } = this.deps.config;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.attempts, 20));
    const delay = reconnectMinMs / 2 + Math.random() * (ceiling - reconnectMinMs / 2);
    this.attempts++;
    this.counters.reconnects++;
    this.metrics?.reconnects.inc();
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Sends what the outbox holds, highest class first, keeping a few envelopes in flight per lane. */
  private drain(): void {
    if (!this.connected || this.draining || !this.client) return;
    this.draining = true;
    try {
      for (;;) {
        const batch = this.nextBatch();
        if (!batch) break;
        this.send(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private nextBatch(): SendBatch | null {
    const { store, config } = this.deps;
    for (let cls = 0; cls < OUTBOX_KINDS.length; cls++) {
      const lane = laneOf(cls);
      if (this.inFlight[lane]! >= this.window) continue;
      let maxItems = config.batchMaxItems;
      if (lane === 1 && config.drainMaxItemsPerSecond > 0) {
        const allowed = this.takeableTokens();
        if (allowed === 0) continue;
        maxItems = Math.min(maxItems, allowed);
      }
      const batch = store.outbox.sendBatch(cls, this.sentUpTo[cls]!, maxItems, config.batchMaxBytes);
      if (!batch) continue;
      if (lane === 1 && config.drainMaxItemsPerSecond > 0) this.tokens -= batch.bodies.length;
      return batch;
    }
    return null;
  }

  /**
   * Token bucket for the backlog lane: holds at most one second of items. Returns how many items
   * may go now, or 0 and arms a timer for when a full batch (or the whole bucket) is available.
   */
  private takeableTokens(): number {
    const { clock, config } = this.deps;
    const rate = config.drainMaxItemsPerSecond;
    const nowMs = clock.now();
    this.tokens = Math.min(rate, this.tokens + ((nowMs - this.tokensAtMs) * rate) / 1000);
    this.tokensAtMs = nowMs;
    const need = Math.min(config.batchMaxItems, rate);
    if (this.tokens >= need) return Math.floor(this.tokens);
    if (!this.rateTimer) {
      const waitMs = Math.ceil(((need - this.tokens) * 1000) / rate);
      this.rateTimer = clock.setTimeout(() => {
        this.rateTimer = null;
        this.drain();
      }, waitMs);
    }
    return 0;
  }

  private send(batch: SendBatch): void {
    const { clock, log, gatewayId } = this.deps;
    const { kind, cls, firstSeq, lastSeq, bodies } = batch;
    const client = this.client!;
    const generation = this.generation;
    const lane = laneOf(cls);
    this.sentUpTo[cls] = lastSeq;
    const seq = ++this.envelopeSeq;
    const envelope: Envelope = { v: PROTOCOL_VERSION, gatewayId, seq, sentAt: new Date(clock.now()).toISOString(), kind, items: [] };
    // Items are stored as JSON already: splice them in rather than parse and re-serialise.
    const json = JSON.stringify(envelope).replace('"items":[]', `"items":[${bodies.join(',')}]`);
    this.inFlight[lane]!++;
    const started = process.hrtime.bigint();
    client.publish(`${this.root}/${TOPIC_OF_KIND[kind]}`, json, { qos: 1 }, (error) => {
      // A callback from a previous connection: its rows are sent again on the current one.
      if (generation !== this.generation) return;
      this.inFlight[lane]!--;
      if (error) {
        // Not acknowledged: the rows stay in the outbox and are sent again, after a pause so
        // that a platform refusing them is not hammered.
        this.lastError = error.message;
        log.warn({ err: error.message, kind, items: bodies.length }, 'uplink: envelope not acknowledged');
        this.sentUpTo[cls] = Math.min(this.sentUpTo[cls]!, firstSeq - 1);
        this.retryTimer ??= clock.setTimeout(() => {
          this.retryTimer = null;
          this.drain();
        }, 5_000);
        return;
      }
      this.observeLatency(Number(process.hrtime.bigint() - started) / 1e6);
      this.lastAckAt = new Date(clock.now()).toISOString();
      this.counters.sentItems += bodies.length;
      this.counters.sentEnvelopes++;
      this.metrics?.sentItems.inc({ kind }, bodies.length);
      // The window slot is free now; the rows are past sentUpTo, so refilling it before their
      // delete commits cannot send them twice. (A crash before the commit sends them again:
      // the at-least-once duplicates the protocol allows.)
      this.drain();
      this.queueDelete(cls, firstSeq, lastSeq, seq);
    });
  }

  /**
   * Acknowledged rows are deleted in groups: one commit (one fsync) for up to a window of
   * envelopes or 20 ms, instead of one per envelope. A crash in between only sends those rows
   * again, which at-least-once allows; they are never skipped.
   */
  private queueDelete(cls: number, firstSeq: number, lastSeq: number, envelopeSeq: number): void {
    this.pendingDeletes.push({ cls, firstSeq, lastSeq, envelopeSeq });
    if (this.pendingDeletes.length >= 2 * this.window) this.flushDeletes();
    else if (!this.deleteTimer) {
      this.deleteTimer = setTimeout(() => this.flushDeletes(), 50);
      this.deleteTimer.unref();
    }
  }

  private flushDeletes(): Promise<void> {
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    this.deleteTimer = null;
    const batch = this.pendingDeletes;
    this.pendingDeletes = [];
    if (batch.length === 0) return Promise.resolve();
    const { store, log } = this.deps;
    const highest = Math.max(...batch.map((d) => d.envelopeSeq));
    return store.writes
      .write(() => {
        for (const d of batch) store.outbox.removeRange(d.cls, d.firstSeq, d.lastSeq);
        if (highest >= this.persistedSeq + 100) {
          store.meta.set('uplink.envelopeSeq', String(highest));
          this.persistedSeq = highest;
        }
      })
      .catch((e: unknown) => {
        // The platform has these rows; only the delete failed (e.g. the disk is full). Retry the
        // delete rather than resend: until it succeeds they sit past sentUpTo and would otherwise
        // wait for a reconnect, and a crash meanwhile merely resends them (at-least-once).
        this.deps.metrics.errors.inc({ component: 'uplink' });
        log.error({ err: e }, 'uplink: could not remove acknowledged rows; retrying the delete');
        this.pendingDeletes.unshift(...batch);
        if (!this.deleteTimer && !this.stopping) {
          this.deleteTimer = setTimeout(() => void this.flushDeletes(), 1_000);
          this.deleteTimer.unref();
        }
      });
  }

  private observeLatency(ms: number): void {
    this.metrics?.publishSeconds.observe(ms / 1000);
    this.latency.last = Math.round(ms * 10) / 10;
    this.latency.max = Math.max(this.latency.max ?? 0, this.latency.last);
    this.latency.average = Math.round((this.latency.average === null ? ms : this.latency.average * 0.9 + ms * 0.1) * 10) / 10;
  }

  private statusMessage(state: 'online' | 'offline'): Record<string, unknown> {
    const base = { v: PROTOCOL_VERSION, gatewayId: this.deps.gatewayId, state, version: this.deps.version, at: new Date(this.deps.clock.now()).toISOString() };
    if (state === 'offline') return base;
    const s = this.state;
    return { ...base, queue: s.queue, outbox: s.outbox, reconnects: s.reconnects, ...(this.deps.statusExtra?.() ?? {}) };
  }

  private publishStatus(): void {
    if (!this.connected || !this.client) return;
    this.client.publish(`${this.root}/status`, JSON.stringify(this.statusMessage('online')), { qos: 1, retain: true }, () => {});
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
}

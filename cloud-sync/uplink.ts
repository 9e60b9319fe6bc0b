import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema/index.ts';
import type { EventBus } from '../gateway/core/bus.ts';
import type { Clock, TimerHandle } from '../gateway/core/clock.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { Service } from '../gateway/core/service.ts';
import { OUTBOX_CLASSES, type OutboxKind, type OutboxRow } from '../gateway/store/outbox.ts';
import type { Store } from '../gateway/store/store.ts';
import { PROTOCOL_VERSION, TOPIC_OF_KIND, topicRoot, type Envelope } from './topics.ts';

type PlatformConfig = NonNullable<GatewayConfig['platform']>;

export interface UplinkStatus {
  connected: boolean;
  url: string;
  lastAckAt: string | null;
  reconnects: number;
  inFlightEnvelopes: number;
  sentItems: number;
  lastError: string | null;
}

const CLASS_COUNT = Object.keys(OUTBOX_CLASSES).length;

/**
 * Store-and-forward to the grid platform. Reads the SQLite outbox by priority class (alerts,
 * alert updates, events, telemetry), sends envelopes at QoS 1 and deletes their rows only when
 * the platform broker acknowledged them (PUBACK). While the platform is unreachable the gateway
 * keeps working and the outbox grows; after a crash the rows are still there and go out again
 * (with the same item ids, so the platform can drop duplicates).
 */
export class Uplink implements Service {
  readonly name = 'uplink';
  private client: MqttClient | null = null;
  private connected = false;
  private stopping = false;
  private attempts = 0;
  private reconnectTimer: TimerHandle | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  /** Highest outbox seq sent (not yet necessarily acked) per class, so rows are not sent twice per connection. */
  private sentUpTo: number[] = new Array(CLASS_COUNT).fill(0);
  private inFlight = 0;
  private draining = false;
  private envelopeSeq = 0;
  private offWake: (() => void) | null = null;
  readonly state: UplinkStatus;

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
      /** Envelopes allowed in flight at once. */
      window?: number;
    },
  ) {
    this.state = { connected: false, url: redactUrl(deps.config.url), lastAckAt: null, reconnects: 0, inFlightEnvelopes: 0, sentItems: 0, lastError: null };
  }

  get root(): string {
    return topicRoot(this.deps.communityGridCode, this.deps.gatewayId);
  }

  start(): void {
    this.stopping = false;
    this.envelopeSeq = Number(this.deps.store.meta.get('uplink.envelopeSeq') ?? 0) + 1000;
    this.offWake = this.deps.bus.on('outbox.enqueued', () => this.drain());
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.offWake?.();
    if (this.reconnectTimer) this.deps.clock.clearTimeout(this.reconnectTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
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
    this.connected = false;
    this.state.connected = false;
  }

  private options(): IClientOptions {
    const { config, gatewayId } = this.deps;
    const options: IClientOptions = {
      clientId: config.clientId ?? gatewayId,
      protocolVersion: config.protocolVersion,
      clean: false,
      reconnectPeriod: 0, // we back off ourselves, with jitter
      connectTimeout: 10_000,
      keepalive: 30,
      will: { topic: `${this.root}/status`, payload: Buffer.from(JSON.stringify(this.statusMessage('offline'))), qos: 1, retain: true },
    };
    if (config.protocolVersion === 5) options.properties = { sessionExpiryInterval: 7 * 24 * 3600 };
    if (config.username) options.username = config.username;
    if (config.password) options.password = config.password;
    if (config.tls) {
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
      this.state.lastError = (error as Error).message;
      log.error({ err: error }, 'uplink: cannot create client');
      this.scheduleReconnect();
      return;
    }
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.state.connected = true;
      this.attempts = 0;
      this.sentUpTo.fill(0);
      this.inFlight = 0;
      log.info({ url: this.state.url }, 'uplink: connected to the platform');
      this.publishStatus();
      this.statusTimer ??= setInterval(() => this.publishStatus(), 60_000);
      this.statusTimer.unref();
      this.drain();
    });
    client.on('error', (error) => {
      this.state.lastError = error.message;
      log.warn({ err: error.message }, 'uplink: connection error');
    });
    client.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      this.state.connected = false;
      if (wasConnected) log.warn('uplink: connection to the platform lost; events wait in the outbox');
      if (this.client === client) {
        client.removeAllListeners();
        client.on('error', () => {});
        client.end(true);
        this.client = null;
        this.scheduleReconnect();
      }
    });
  }

  /** Exponential backoff with full jitter: thousands of gateways must not reconnect in step. */
  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const { reconnectMinMs, reconnectMaxMs } = this.deps.config;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.attempts, 20));
    const delay = reconnectMinMs / 2 + Math.random() * (ceiling - reconnectMinMs / 2);
    this.attempts++;
    this.state.reconnects++;
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Sends what the outbox holds, highest class first, keeping a few envelopes in flight. */
  private drain(): void {
    if (!this.connected || this.draining || !this.client) return;
    this.draining = true;
    try {
      const window = this.deps.window ?? 8;
      while (this.connected && this.inFlight < window) {
        const batch = this.nextBatch();
        if (!batch) break;
        this.send(batch.kind, batch.rows);
      }
    } finally {
      this.draining = false;
    }
  }

  private nextBatch(): { kind: OutboxKind; rows: OutboxRow[] } | null {
    const { store, config } = this.deps;
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const rows = store.outbox.batch(cls, this.sentUpTo[cls]!, config.batchMaxItems, config.batchMaxBytes);
      if (rows.length > 0) return { kind: rows[0]!.kind, rows };
    }
    return null;
  }

  private send(kind: OutboxKind, rows: OutboxRow[]): void {
    const { store, clock, log, gatewayId } = this.deps;
    const client = this.client!;
    const cls = OUTBOX_CLASSES[kind];
    this.sentUpTo[cls] = rows[rows.length - 1]!.seq;
    const seq = ++this.envelopeSeq;
    const envelope: Envelope = { v: PROTOCOL_VERSION, gatewayId, seq, sentAt: new Date(clock.now()).toISOString(), kind, items: [] };
    // Items are stored as JSON already: splice them in rather than parse and re-serialise.
    const json = JSON.stringify(envelope).replace('"items":[]', `"items":[${rows.map((r) => r.body).join(',')}]`);
    this.inFlight++;
    this.state.inFlightEnvelopes = this.inFlight;
    client.publish(`${this.root}/${TOPIC_OF_KIND[kind]}`, json, { qos: 1 }, (error) => {
      this.inFlight--;
      this.state.inFlightEnvelopes = this.inFlight;
      if (error) {
        // Not acknowledged: the rows stay in the outbox and are sent again, after a pause so
        // that a platform refusing them is not hammered.
        this.state.lastError = error.message;
        log.warn({ err: error.message, kind, items: rows.length }, 'uplink: envelope not acknowledged');
        this.sentUpTo[cls] = Math.min(this.sentUpTo[cls]!, rows[0]!.seq - 1);
        clock.setTimeout(() => this.drain(), 5_000);
        return;
      }
      const seqs = rows.map((r) => r.seq);
      store.writes
        .write(() => {
          store.outbox.remove(seqs);
          if (seq % 100 === 0) store.meta.set('uplink.envelopeSeq', String(seq));
        })
        .then(() => {
          this.state.lastAckAt = new Date(clock.now()).toISOString();
          this.state.sentItems += rows.length;
          this.drain();
        })
        .catch((e: unknown) => log.error({ err: e }, 'uplink: could not remove acknowledged rows'));
    });
  }

  private statusMessage(state: 'online' | 'offline'): Record<string, unknown> {
    return {
      v: PROTOCOL_VERSION,
      gatewayId: this.deps.gatewayId,
      state,
      version: this.deps.version,
      at: new Date(this.deps.clock.now()).toISOString(),
      ...(state === 'online' ? { queue: this.deps.store.outbox.depth(), ...(this.deps.statusExtra?.() ?? {}) } : {}),
    };
  }

  private publishStatus(): void {
    if (!this.connected || !this.client) return;
    this.client.publish(`${this.root}/status`, JSON.stringify(this.statusMessage('online')), { qos: 1, retain: true }, () => {});
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
}

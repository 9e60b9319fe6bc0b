import type { ClientMonitoredItemBase, ClientSession, ClientSubscription, DataValue, OPCUACertificateManager, OPCUAClient } from 'node-opcua';
import type { OpcuaCommandConfig, OpcuaNodeConfig, OpcuaServerConfig } from '../../config/schema/opcua.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import type { Logger } from '../../gateway/core/logger.ts';
import type { CommandResult, DriverContext, LinkHealth } from '../driver.ts';
import { eventFor, toScalar, valueForWrite, type NodeMemory } from './value-map.ts';

type NodeOpcua = typeof import('node-opcua');

/** One configured node of one device, with what the driver remembers of it. */
export interface NodeBinding {
  deviceId: string;
  node: OpcuaNodeConfig;
  memory: NodeMemory;
  /** The status the server gave the monitored item at the last (re)subscription. */
  status: 'pending' | 'good' | 'refused';
}

/** A node the server refused to monitor: the error names device, node and status code. */
export interface NodeProblem {
  server: string;
  deviceId: string;
  nodeId: string;
  statusCode: string;
  message: string;
}

interface Live {
  generation: number;
  client: OPCUAClient;
  session: ClientSession | null;
  subscription: ClientSubscription | null;
  items: ClientMonitoredItemBase[];
}

/**
 * One OPC-UA server: a client, a session, one subscription with a monitored item per configured
 * node. Any loss (socket, session, subscription, or silence beyond the keep-alive) throws the
 * whole client away and builds a fresh one with every item after a backoff. node-opcua's own
 * reconnection is switched off (maxRetry 0): its transfer of subscriptions after a server
 * restart is what other gateways report as never coming back, and a rebuild is easy to verify.
 */
export class ServerLink {
  readonly health: LinkHealth = { connected: false, lastFrameAt: null, framesOk: 0, framesBad: 0, reconnects: 0 };
  readonly problems = new Map<string, NodeProblem>();
  /** Bumped on every (re)subscription; tests and the bench read it to know the link was rebuilt. */
  subscriptionsCreated = 0;
  /** Connection attempts so far, and the delay chosen before the next one (backoff, for tests and status). */
  attempts = 0;
  retryDelayMs = 0;
  private live: Live | null = null;
  private generation = 0;
  private running = false;
  private wasLive = false;
  private failures = 0;
  private lastError = '';
  private retryTimer: TimerHandle | null = null;
  private connectTimer: TimerHandle | null = null;
  private watchdogTimer: TimerHandle | null = null;
  private lastSignOfLifeMs = 0;
  private lastSeenReported = new Map<string, number>();
  private pulseTimers = new Set<TimerHandle>();
  private readonly log: Logger;

  constructor(
    private readonly config: OpcuaServerConfig,
    private readonly bindings: NodeBinding[],
    private readonly deviceIds: string[],
    private readonly ctx: DriverContext,
    private readonly deps: { opcua: NodeOpcua; certificateManager: OPCUACertificateManager; applicationUri: string; heartbeatMs: (deviceId: string) => number },
  ) {
    this.log = ctx.log.child({ server: config.id });
  }

  get connected(): boolean {
    return this.health.connected;
  }

  start(): void {
    this.running = true;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) this.ctx.clock.clearTimeout(this.retryTimer);
    if (this.watchdogTimer) this.ctx.clock.clearTimeout(this.watchdogTimer);
    for (const t of this.pulseTimers) this.ctx.clock.clearTimeout(t);
    this.pulseTimers.clear();
    this.retryTimer = this.watchdogTimer = null;
    this.clearConnectTimer();
    const live = this.live;
    this.live = null;
    this.generation++;
    this.health.connected = false;
    if (live) await this.dispose(live, true);
  }

  detail(): string {
    const good = this.bindings.filter((b) => b.status === 'good').length;
    const where = `${this.config.endpoint} (${this.config.securityMode}/${this.config.securityPolicy})`;
    if (!this.health.connected) return `${where}: disconnected${this.lastError ? `: ${this.lastError}` : ''}; retrying`;
    const refused = [...this.problems.values()].map((p) => `${p.deviceId} ${p.nodeId}: ${p.statusCode}`);
    return `${where}: monitoring ${good} of ${this.bindings.length} nodes${refused.length ? `; refused: ${refused.join(', ')}` : ''}`;
  }

  /** Writes a command's node; the relay pulse writes resetValue after pulseMs. */
  async write(deviceId: string, commandId: string, command: OpcuaCommandConfig, paramsValue: unknown): Promise<CommandResult> {
    const session = this.live?.session;
    if (!session || !this.health.connected) return { id: commandId, ok: false, error: `OPC-UA server ${this.config.id} is not connected${this.lastError ? ` (${this.lastError})` : ''}` };
    const raw = command.value ?? paramsValue;
    if (raw === undefined) return { id: commandId, ok: false, error: `device ${deviceId}: command ${command.command} has no value in the config and none in params.value` };
    let value;
    try {
      value = valueForWrite(command.dataType, raw);
    } catch (error) {
      return { id: commandId, ok: false, error: `device ${deviceId}: command ${command.command} on ${command.nodeId}: ${(error as Error).message}` };
    }
    const status = await this.writeNode(session, command, value);
    if (status) return { id: commandId, ok: false, error: `device ${deviceId}: writing ${command.nodeId} failed: ${status}` };
    if (command.pulseMs !== undefined && command.resetValue !== undefined) {
      const reset = valueForWrite(command.dataType, command.resetValue);
      const timer = this.ctx.clock.setTimeout(() => {
        this.pulseTimers.delete(timer);
        const now = this.live?.session;
        const failed = now ? this.writeNode(now, command, reset) : Promise.resolve('not connected');
        void failed.then((error) => {
          if (error) this.log.error({ deviceId, nodeId: command.nodeId }, `device ${deviceId}: resetting ${command.nodeId} after the ${command.command} pulse failed: ${error}`);
        });
      }, command.pulseMs);
      this.pulseTimers.add(timer);
    }
    return { id: commandId, ok: true, data: { nodeId: command.nodeId, value, ...(command.pulseMs !== undefined ? { resetAfterMs: command.pulseMs } : {}) } };
  }

  /** Resolves with null when the server took the value, else with the reason. */
  private async writeNode(session: ClientSession, command: OpcuaCommandConfig, value: boolean | number | string): Promise<string | null> {
    const { AttributeIds, DataType, Variant } = this.deps.opcua;
    try {
      const status = await session.write({
        nodeId: command.nodeId,
        attributeId: AttributeIds.Value,
        value: { value: new Variant({ dataType: DataType[command.dataType], value }) },
      });
      return status.isGood() ? null : status.toString();
    } catch (error) {
      return (error as Error).message;
    }
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    const generation = ++this.generation;
    this.attempts++;
    const { OPCUAClient, MessageSecurityMode, SecurityPolicy, UserTokenType } = this.deps.opcua;
    const config = this.config;
    const client = OPCUAClient.create({
      applicationName: 'gridguard',
      applicationUri: this.deps.applicationUri,
      clientName: `gridguard-${config.id}`,
      endpointMustExist: false,
      securityMode: MessageSecurityMode[config.securityMode],
      securityPolicy: SecurityPolicy[config.securityPolicy],
      clientCertificateManager: this.deps.certificateManager,
      connectionStrategy: { maxRetry: 0, initialDelay: config.reconnectMinMs, maxDelay: config.reconnectMaxMs },
      requestedSessionTimeout: Math.max(60_000, config.publishingIntervalMs * config.lifetimeCount * 2),
      defaultTransactionTimeout: config.requestTimeoutMs,
      keepSessionAlive: false,
    });
    const live: Live = { generation, client, session: null, subscription: null, items: [] };
    this.live = live;
    const lost = (reason: string) => this.lost(generation, reason);
    // A server that accepts the socket but never answers (frozen) must not hold the link forever.
    const connectTimeoutMs = config.requestTimeoutMs * 3;
    this.connectTimer = this.ctx.clock.setTimeout(() => lost(`no answer within ${connectTimeoutMs} ms while connecting`), connectTimeoutMs);
    client.on('connection_lost', () => lost('connection lost'));
    client.on('close', (error?: Error | null) => {
      if (error) lost(`connection closed: ${error.message}`);
    });
    try {
      await client.connect(config.endpoint);
      if (!this.current(generation)) return;
      const password = config.passwordEnv !== undefined ? process.env[config.passwordEnv] : config.password;
      if (config.passwordEnv !== undefined && password === undefined) throw new Error(`environment variable ${config.passwordEnv} (passwordEnv) is not set`);
      live.session = await client.createSession(
        config.username !== undefined ? { type: UserTokenType.UserName, userName: config.username, password: password ?? '' } : { type: UserTokenType.Anonymous },
      );
      if (!this.current(generation)) return;
      live.session.on('session_closed', () => lost('session closed'));
      live.subscription = await live.session.createSubscription2({
        requestedPublishingInterval: config.publishingIntervalMs,
        requestedLifetimeCount: config.lifetimeCount,
        requestedMaxKeepAliveCount: config.keepAliveCount,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      });
      if (!this.current(generation)) return;
      const subscription = live.subscription;
      subscription.on('keepalive', () => this.signOfLife(generation));
      subscription.on('terminated', () => lost('subscription terminated'));
      subscription.on('internal_error', (error: Error) => lost(`subscription error: ${error.message}`));
      subscription.on('status_changed', (status: { toString(): string; isGood?(): boolean }) => {
        if (!status.isGood?.()) lost(`subscription status ${status.toString()}`);
      });
      await this.monitorAll(live);
      if (!this.current(generation)) return;
      this.clearConnectTimer();
      this.wentLive(generation);
    } catch (error) {
      if (!this.current(generation)) return;
      this.lost(generation, this.explain(error));
    }
  }

  /** Creates every monitored item; a refused node is reported alone and the others go on. */
  private async monitorAll(live: Live): Promise<void> {
    const { AttributeIds, TimestampsToReturn } = this.deps.opcua;
    const subscription = live.subscription!;
    this.subscriptionsCreated++;
    for (const binding of this.bindings) {
      const { node, deviceId } = binding;
      const item = await subscription.monitor(
        { nodeId: node.nodeId, attributeId: AttributeIds.Value },
        { samplingInterval: node.samplingIntervalMs ?? this.config.samplingIntervalMs, queueSize: this.config.queueSize, discardOldest: true },
        TimestampsToReturn.Both,
      );
      if (!this.current(live.generation)) return;
      const key = `${deviceId}\u0000${node.nodeId}`;
      if (!item.statusCode.isGood()) {
        binding.status = 'refused';
        const statusCode = item.statusCode.toString();
        const message = `device ${deviceId}: OPC-UA server ${this.config.id} refused to monitor node ${node.nodeId}${node.name ? ` (${node.name})` : ''}: ${statusCode}`;
        if (this.problems.get(key)?.statusCode !== statusCode) {
          this.ctx.metrics.rejected.inc({ source: 'opcua', reason: 'node-refused' });
          this.log.error({ deviceId, nodeId: node.nodeId, statusCode }, message);
        }
        this.problems.set(key, { server: this.config.id, deviceId, nodeId: node.nodeId, statusCode, message });
        continue;
      }
      if (this.problems.delete(key)) this.log.info({ deviceId, nodeId: node.nodeId }, `device ${deviceId}: node ${node.nodeId} is monitored again`);
      binding.status = 'good';
      item.on('changed', (dataValue: DataValue) => this.onValue(live.generation, binding, dataValue));
      live.items.push(item);
    }
  }

  private wentLive(generation: number): void {
    const good = this.bindings.filter((b) => b.status === 'good').length;
    if (this.wasLive) this.health.reconnects++;
    this.wasLive = true;
    this.failures = 0;
    this.lastError = '';
    this.health.connected = true;
    this.log.info(
      { endpoint: this.config.endpoint, monitored: good, refused: this.bindings.length - good, reconnects: this.health.reconnects },
      `OPC-UA server ${this.config.id} ${this.health.reconnects ? 'reconnected' : 'connected'}: subscription with ${good} of ${this.bindings.length} monitored items`,
    );
    this.lastSeenReported.clear();
    this.signOfLife(generation);
    this.armWatchdog(generation);
  }

  /** A keep-alive or a notification: the server and the subscription are alive. */
  private signOfLife(generation: number): void {
    if (!this.current(generation)) return;
    const now = this.ctx.clock.now();
    this.lastSignOfLifeMs = now;
    if (!this.health.connected) return;
    for (const deviceId of this.deviceIds) {
      if (!this.bindings.some((b) => b.deviceId === deviceId && b.status === 'good')) continue;
      const last = this.lastSeenReported.get(deviceId);
      // Throttled: a busy node must not turn every notification into a device-state write.
      if (last !== undefined && now - last < this.deps.heartbeatMs(deviceId) / 2) continue;
      this.lastSeenReported.set(deviceId, now);
      void this.ctx.deviceSeen(deviceId, { opcuaServer: this.config.id }).catch((error) => this.log.warn({ err: error, deviceId }, 'could not record device as seen'));
    }
  }

  /**
   * Silence longer than three keep-alive periods means the server or the path hangs without the
   * socket closing (a frozen alarm host): treat it as a loss.
   */
  private armWatchdog(generation: number): void {
    const periodMs = this.config.publishingIntervalMs * this.config.keepAliveCount;
    const allowedMs = Math.max(3 * periodMs, 2_000) + this.config.requestTimeoutMs;
    const check = () => {
      if (!this.current(generation)) return;
      const silentMs = this.ctx.clock.now() - this.lastSignOfLifeMs;
      if (silentMs > allowedMs) return this.lost(generation, `no keep-alive for ${Math.round(silentMs / 1000)} s`);
      this.watchdogTimer = this.ctx.clock.setTimeout(check, Math.max(periodMs, 500));
    };
    this.watchdogTimer = this.ctx.clock.setTimeout(check, Math.max(periodMs, 500));
  }

  private onValue(generation: number, binding: NodeBinding, dataValue: DataValue): void {
    if (!this.current(generation)) return;
    this.signOfLife(generation);
    const { deviceId, node } = binding;
    const at = new Date(this.ctx.clock.now()).toISOString();
    if (!dataValue.statusCode.isGood()) {
      this.health.framesBad++;
      this.ctx.metrics.rejected.inc({ source: 'opcua', reason: 'bad-status' });
      this.log.warn({ deviceId, nodeId: node.nodeId, statusCode: dataValue.statusCode.toString() }, `device ${deviceId}: node ${node.nodeId} reported ${dataValue.statusCode.toString()}; value ignored`);
      return;
    }
    const value = toScalar(dataValue.value?.value);
    if (value === undefined) {
      this.health.framesBad++;
      this.ctx.metrics.rejected.inc({ source: 'opcua', reason: 'unsupported-value' });
      this.log.warn({ deviceId, nodeId: node.nodeId }, `device ${deviceId}: node ${node.nodeId} sent a ${dataValue.value?.dataType ?? 'null'} value that no mapping can match`);
      return;
    }
    this.health.framesOk++;
    this.health.lastFrameAt = at;
    const entry = eventFor(node, binding.memory, value);
    binding.memory.known = true;
    binding.memory.value = value;
    if (!entry) return;
    const ts = dataValue.sourceTimestamp ?? dataValue.serverTimestamp;
    this.ctx
      .ingest({
        deviceId,
        type: entry.type,
        ...(ts ? { ts: ts.getTime() } : {}),
        ...(node.zone ? { zone: node.zone } : {}),
        payload: { server: this.config.id, nodeId: node.nodeId, ...(node.name ? { node: node.name } : {}), value, ...(entry.payload ?? {}) },
      })
      .catch((error) => {
        this.ctx.metrics.rejected.inc({ source: 'opcua', reason: 'ingest-failed' });
        this.log.error({ err: error, deviceId, nodeId: node.nodeId }, `device ${deviceId}: event ${entry.type} from node ${node.nodeId} was not stored: ${(error as Error).message}`);
      });
  }

  private lost(generation: number, reason: string): void {
    if (!this.current(generation) || !this.running) return;
    const live = this.live;
    this.live = null;
    this.generation++;
    if (this.watchdogTimer) this.ctx.clock.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = null;
    this.clearConnectTimer();
    const wasConnected = this.health.connected;
    this.health.connected = false;
    this.lastError = reason;
    for (const b of this.bindings) if (b.status === 'good') b.status = 'pending';
    if (wasConnected) {
      this.log.warn({ endpoint: this.config.endpoint, reason }, `OPC-UA server ${this.config.id} lost: ${reason}; rebuilding session and subscription`);
      for (const deviceId of this.deviceIds) this.ctx.deviceOffline(deviceId, `OPC-UA server ${this.config.id} lost: ${reason}`);
    } else if (this.failures === 0 || this.failures % 10 === 0) {
      this.log.warn({ endpoint: this.config.endpoint, reason, attempts: this.failures + 1 }, `OPC-UA server ${this.config.id} unreachable: ${reason}`);
    }
    // A connection that was up retries at once (a restart is usually quick); failures back off.
    const delay = wasConnected ? this.config.reconnectMinMs : Math.min(this.config.reconnectMaxMs, this.config.reconnectMinMs * 2 ** Math.min(this.failures, 16));
    this.failures = wasConnected ? 0 : this.failures + 1;
    if (live) void this.dispose(live, false);
    // Jitter, so that the links of several gateways do not hammer a restarted server in step.
    this.retryDelayMs = Math.round(delay * (0.8 + Math.random() * 0.4));
    this.retryTimer = this.ctx.clock.setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryDelayMs);
  }

  /** Closes what is left of a client; bounded, as a dead server never answers CloseSession. */
  private async dispose(live: Live, graceful: boolean): Promise<void> {
    const steps = async () => {
      if (graceful && live.subscription) await live.subscription.terminate().catch(() => {});
      if (graceful && live.session) await live.session.close(true).catch(() => {});
      await live.client.disconnect().catch(() => {});
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([steps(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 3_000).unref()))]);
    clearTimeout(timer);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) this.ctx.clock.clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private current(generation: number): boolean {
    return this.running && generation === this.generation;
  }

  private explain(error: unknown): string {
    const message = (error as Error)?.message ?? String(error);
    return message.split('\n')[0]!.slice(0, 300);
  }
}

import type { EmbeddedBroker } from '../../gateway/broker/broker.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import { newId } from '../../gateway/core/ids.ts';
import type { EventType, SubjectRefs } from '../../gateway/core/model.ts';
import type { CommandResult, DeviceCommand, DeviceDriver, DriverContext, LinkHealth } from '../driver.ts';
import { EVENTS_BY_KIND } from '../../gateway/core/model.ts';
import { CommandResultMessage, DeviceEventMessage, HeartbeatMessage, MAX_JSON_BYTES } from './payloads.ts';

/** Extra topic handlers under devices/{id}/…, e.g. camera snapshots (device-drivers/camera). */
export type TopicHandler = (deviceId: string, subtopic: string, payload: Buffer) => Promise<void>;

const SUBJECT_FIELDS = ['cardNo', 'personId', 'plate', 'faceId', 'feature'] as const;

/**
 * Devices on the embedded broker: JSON events, heartbeats, availability (last will) and command
 * replies under devices/{id}/. Every bad input is counted and logged with its device and topic,
 * acknowledged (a resend would not fix it) and has no effect on other devices.
 */
export class MqttDriver implements DeviceDriver {
  readonly name = 'mqtt-driver';
  readonly transport = 'mqtt' as const;
  private kinds = new Map<string, string>();
  private links = new Map<string, LinkHealth>();
  private pending = new Map<string, { resolve: (r: CommandResult) => void; timer: TimerHandle; deviceId: string }>();
  private topicHandlers = new Map<string, TopicHandler>();

  constructor(
    private readonly ctx: DriverContext,
    private readonly broker: EmbeddedBroker,
    private readonly commandTimeoutMs = 10_000,
  ) {}

  start(): void {
    for (const d of this.ctx.devices) {
      this.kinds.set(d.id, d.kind);
      this.links.set(d.id, { connected: false, lastFrameAt: null, framesOk: 0, framesBad: 0, reconnects: 0 });
    }
  }

  stop(): void {
    for (const [id, p] of this.pending) {
      this.ctx.clock.clearTimeout(p.timer);
      p.resolve({ id, ok: false, error: 'gateway stopping' });
    }
    this.pending.clear();
  }

  handles(deviceId: string): boolean {
    return this.kinds.has(deviceId);
  }

  /** Lets another driver (camera intake) take a subtopic, e.g. "snapshot". */
  registerTopic(subtopic: string, handler: TopicHandler): void {
    this.topicHandlers.set(subtopic, handler);
  }

  health(): Record<string, LinkHealth> {
    return Object.fromEntries(this.links);
  }

  onConnected(deviceId: string): void {
    const link = this.links.get(deviceId);
    if (!link) return;
    if (link.lastFrameAt !== null || link.framesOk > 0) link.reconnects++;
    link.connected = true;
    void this.ctx.deviceSeen(deviceId).catch(() => {});
  }

  onDisconnected(deviceId: string): void {
    const link = this.links.get(deviceId);
    if (link) link.connected = false;
    this.ctx.deviceOffline(deviceId, 'MQTT connection closed');
  }

  /** The broker's published hook: the device's PUBACK waits for this promise. */
  async onPublish(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const subtopic = topic.slice(`devices/${deviceId}/`.length);
    const link = this.links.get(deviceId);
    try {
      switch (subtopic) {
        case 'events':
          await this.onEvent(deviceId, topic, payload);
          break;
        case 'heartbeat':
          await this.onHeartbeat(deviceId, topic, payload);
          break;
        case 'availability':
          this.onAvailability(deviceId, topic, payload);
          break;
        case 'commands/result':
          this.onCommandResult(deviceId, topic, payload);
          break;
        default: {
          const handler = this.topicHandlers.get(subtopic.split('/')[0]!);
          if (!handler) throw new InputError('unknown-topic', `no such device topic "${subtopic}"`);
          await handler(deviceId, subtopic, payload);
        }
      }
      if (link) {
        link.framesOk++;
        link.lastFrameAt = new Date(this.ctx.clock.now()).toISOString();
      }
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      if (link) link.framesBad++;
      this.ctx.metrics.rejected.inc({ source: 'mqtt', reason: error.reason });
      this.ctx.log.warn({ deviceId, topic, reason: error.reason }, `mqtt ${topic}: ${error.message}`);
    }
  }

  async sendCommand(deviceId: string, command: DeviceCommand): Promise<CommandResult> {
    if (!this.kinds.has(deviceId)) return { id: command.id, ok: false, error: `unknown device ${deviceId}` };
    const result = new Promise<CommandResult>((resolve) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.pending.delete(command.id);
        resolve({ id: command.id, ok: false, error: `no reply within ${this.commandTimeoutMs} ms` });
      }, this.commandTimeoutMs);
      this.pending.set(command.id, { resolve, timer, deviceId });
    });
    await this.broker.publish(`devices/${deviceId}/commands`, JSON.stringify({ ...command, ts: new Date(this.ctx.clock.now()).toISOString() }), { qos: 1 });
    return result;
  }

  private async onEvent(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const msg = DeviceEventMessage.safeParse(parseJson(payload));
    if (!msg.success) {
      const issue = msg.error.issues[0]!;
      throw new InputError('invalid-payload', `invalid event: ${issue.path.join('.') || '(message)'}: ${issue.message}`);
    }
    const kind = this.kinds.get(deviceId) as keyof typeof EVENTS_BY_KIND;
    const type = msg.data.type as EventType;
    if (!EVENTS_BY_KIND[kind].includes(type)) throw new InputError('type-not-allowed', `a ${kind} cannot report ${type}`);
    const subjects: SubjectRefs = {};
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(msg.data)) {
      if ((SUBJECT_FIELDS as readonly string[]).includes(key)) (subjects as Record<string, unknown>)[key] = value;
      else if (key !== 'type' && key !== 'ts' && key !== 'zone') rest[key] = value;
    }
    await this.ctx.ingest({
      deviceId,
      type,
      ...(msg.data.ts !== undefined ? { ts: msg.data.ts } : {}),
      ...(msg.data.zone ? { zone: msg.data.zone } : {}),
      subjects,
      payload: rest,
    });
    await this.ctx.deviceSeen(deviceId);
    void topic;
  }

  private async onHeartbeat(deviceId: string, _topic: string, payload: Buffer): Promise<void> {
    const parsed = payload.length === 0 ? { success: true as const, data: {} } : HeartbeatMessage.safeParse(parseJson(payload));
    if (!parsed.success) throw new InputError('invalid-payload', `invalid heartbeat: ${parsed.error.issues[0]!.message}`);
    const { ts: _ts, ...info } = parsed.data as Record<string, unknown>;
    await this.ctx.deviceSeen(deviceId, info);
  }

  private onAvailability(deviceId: string, _topic: string, payload: Buffer): void {
    const text = payload.toString('utf8').trim();
    if (text === 'online') void this.ctx.deviceSeen(deviceId).catch(() => {});
    else if (text === 'offline') this.ctx.deviceOffline(deviceId, 'device announced offline (last will)');
    else throw new InputError('invalid-payload', `availability must be "online" or "offline"`);
  }

  private onCommandResult(deviceId: string, _topic: string, payload: Buffer): void {
    const msg = CommandResultMessage.safeParse(parseJson(payload));
    if (!msg.success) throw new InputError('invalid-payload', `invalid command result: ${msg.error.issues[0]!.message}`);
    const pending = this.pending.get(msg.data.id);
    if (!pending || pending.deviceId !== deviceId) throw new InputError('unknown-command', `no pending command ${msg.data.id}`);
    this.pending.delete(msg.data.id);
    this.ctx.clock.clearTimeout(pending.timer);
    pending.resolve(msg.data);
  }
}

export class InputError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function parseJson(payload: Buffer): unknown {
  if (payload.length > MAX_JSON_BYTES) throw new InputError('oversized-payload', `payload of ${payload.length} bytes exceeds ${MAX_JSON_BYTES}`);
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new InputError('malformed-json', `malformed JSON: ${(error as Error).message}`);
  }
}

export const newCommandId = newId;

import type { DeviceConfig } from '../config/schema/devices.ts';
import type { Clock } from '../gateway/core/clock.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { DeviceEvent, DeviceEventInput, Transport } from '../gateway/core/model.ts';
import type { Service } from '../gateway/core/service.ts';

/** A command to a device: open a door, sound an alarm, pulse a relay. */
export interface DeviceCommand {
  /** Unique id; the device's reply carries it. */
  id: string;
  type: 'door.open' | 'alarm.on' | 'alarm.off' | 'relay.pulse' | 'ping' | (string & {});
  params?: Record<string, unknown>;
}

export interface CommandResult {
  id: string;
  ok: boolean;
  error?: string;
  data?: Record<string, unknown>;
}

/** Health of a driver link (a device connection, a serial bus, an OPC-UA session). */
export interface LinkHealth {
  connected: boolean;
  lastFrameAt: string | null;
  framesOk: number;
  framesBad: number;
  reconnects: number;
  detail?: string;
}

/** What every driver gets from the gateway. */
export interface DriverContext {
  /** The devices of this driver's transport. */
  devices: DeviceConfig[];
  /** Hands an event to the pipeline; resolves once it is durable. Rejects for unknown devices. */
  ingest(input: DeviceEventInput): Promise<DeviceEvent>;
  /** Marks a device alive (a frame, a heartbeat, a poll answer), with optional facts (battery, firmware). */
  deviceSeen(deviceId: string, info?: Record<string, unknown>): Promise<void>;
  /** Marks a device offline at once (its link dropped), with the reason. */
  deviceOffline(deviceId: string, reason: string): void;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

/**
 * The one contract of every transport (MQTT, serial, OPC-UA, camera intake). A driver's
 * constructor only stores its context; start() opens links and must heal them on its own.
 */
export interface DeviceDriver extends Service {
  readonly transport: Transport | 'camera';
  /** True when this driver reaches the device. */
  handles(deviceId: string): boolean;
  sendCommand(deviceId: string, command: DeviceCommand): Promise<CommandResult>;
  /** Health per link id (device id, bus id or server id). */
  health(): Record<string, LinkHealth>;
}

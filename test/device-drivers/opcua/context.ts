import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DeviceSchema } from '../../../config/schema/devices.ts';
import { OpcuaServerSchema, type OpcuaServerConfig } from '../../../config/schema/opcua.ts';
import type { DriverContext } from '../../../device-drivers/driver.ts';
import { systemClock, type Clock } from '../../../gateway/core/clock.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import type { DeviceConfig } from '../../../config/schema/devices.ts';
import type { DeviceEventInput } from '../../../gateway/core/model.ts';

/**
 * A DriverContext that records what the driver hands the gateway (events, signs of life,
 * offline reports), for driver tests without a whole gateway.
 */
export class RecordingContext {
  readonly events: DeviceEventInput[] = [];
  readonly seen: string[] = [];
  readonly offline: { deviceId: string; reason: string }[] = [];
  readonly logLines: { level: number; msg: string; [key: string]: unknown }[] = [];
  readonly metrics = new Metrics();
  readonly ctx: DriverContext;

  constructor(devices: DeviceConfig[], onIngest?: (input: DeviceEventInput) => void, clock: Clock = systemClock) {
    const log = pino({ level: 'debug' }, { write: (line: string) => void this.logLines.push(JSON.parse(line)) });
    this.ctx = {
      devices,
      ingest: async (input) => {
        if (onIngest) onIngest(input);
        else this.events.push(input);
        return { id: String(this.events.length) } as never;
      },
      deviceSeen: async (id) => void this.seen.push(id),
      deviceOffline: (id, reason) => void this.offline.push({ deviceId: id, reason }),
      clock,
      metrics: this.metrics,
      log,
    };
  }

  async rejected(): Promise<Record<string, number>> {
    return this.metrics.rejectedSummary();
  }
}

export function opcuaServer(config: Record<string, unknown>): OpcuaServerConfig {
  return OpcuaServerSchema.parse(config);
}

export function opcuaDevice(config: Record<string, unknown>): DeviceConfig {
  return DeviceSchema.parse({ transport: 'opcua', ...config });
}

export function tempPki(): string {
  return join(mkdtempSync(join(tmpdir(), 'gg-opcua-pki-')), 'pki');
}

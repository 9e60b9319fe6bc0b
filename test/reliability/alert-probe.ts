import mqtt, { type MqttClient } from 'mqtt';
import { connectDevice, TEST_SECRETS } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';

/**
 * A well-behaved device and a guard-room client: the device reports door.forced, the guard
 * waits for the alert on local/alerts. One probe at a time, so each alert message answers the
 * probe before it, and the time between the device's publish and the guard's receipt is the
 * alert latency a guard would see.
 */
export class AlertProbe {
  private guard: MqttClient | null = null;
  private device: MqttClient | null = null;
  private received: { at: number; deviceId: string }[] = [];
  readonly latenciesMs: number[] = [];

  constructor(
    private readonly mqttUrl: string,
    private readonly deviceId = 'ac-2',
  ) {}

  async start(): Promise<void> {
    this.guard = await mqtt.connectAsync(this.mqttUrl, { clientId: 'guard-probe', username: 'guard', password: TEST_SECRETS.guard!, protocolVersion: 4, reconnectPeriod: 0 });
    this.guard.on('message', (_topic, payload) => {
      const body = JSON.parse(payload.toString()) as { alert: { deviceId: string | null } };
      this.received.push({ at: performance.now(), deviceId: body.alert.deviceId ?? '' });
    });
    await this.guard.subscribeAsync('local/alerts/#', { qos: 1 });
    this.device = await connectDevice(this.mqttUrl, this.deviceId);
  }

  /** One door.forced → one local alert message (raised, or merged into the open alert). */
  async probe(timeoutMs = 30_000): Promise<number> {
    const before = this.received.filter((r) => r.deviceId === this.deviceId).length;
    const sentAt = performance.now();
    await this.device!.publishAsync(`devices/${this.deviceId}/events`, JSON.stringify({ type: 'door.forced' }), { qos: 1 });
    const got = await waitFor(() => this.received.filter((r) => r.deviceId === this.deviceId)[before], `alert for probe ${before + 1} from ${this.deviceId}`, timeoutMs, 2);
    const latency = got.at - sentAt;
    this.latenciesMs.push(latency);
    return latency;
  }

  async stop(): Promise<void> {
    await this.device?.endAsync();
    await this.guard?.endAsync();
  }
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

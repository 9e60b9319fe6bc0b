/**
 * Steady load from many real MQTT devices (QoS 1, one event at a time each), through gateway
 * crashes and restarts: each device reconnects whenever it can, marks every event with a ledger
 * ref and records it as acknowledged only when its PUBACK arrives.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Ledger } from './ledger.ts';

export interface LoadDevice {
  id: string;
  secret: string;
}

export interface DeviceLoadOptions {
  mqttUrl: string;
  devices: LoadDevice[];
  ledger: Ledger;
  /** Pause between one device's events (after the PUBACK). */
  intervalMs?: number;
  /** The event each device sends; `ref` is added. */
  event?: (deviceId: string, n: number) => Record<string, unknown>;
}

export class DeviceLoad {
  /** Connections made, and connections lost or refused (a crash shows up here). */
  readonly stats = { connects: 0, drops: 0 };
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients = new Set<MqttClient>();

  constructor(private readonly options: DeviceLoadOptions) {}

  start(): void {
    this.running = true;
    this.loops = this.options.devices.map((d) => this.run(d));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all([...this.clients].map((c) => c.endAsync(true).catch(() => {})));
  }

  private async run(device: LoadDevice): Promise<void> {
    const { mqttUrl, ledger, intervalMs = 50 } = this.options;
    const event = this.options.event ?? (() => ({ type: 'access.granted', cardNo: '1001' }));
    let conn: { client: MqttClient; closed: Promise<never> } | null = null;
    let n = 0;
    while (this.running) {
      try {
        if (!conn) {
          // mqtt.connectAsync never settles when the socket closes before CONNACK (a kill mid-handshake).
          const client = mqtt.connect(mqttUrl, { clientId: device.id, username: device.id, password: device.secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
          this.clients.add(client);
          client.on('error', () => {});
          const closed = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('connection closed'))));
          closed.catch(() => {});
          await Promise.race([new Promise((resolve) => client.once('connect', resolve)), closed]);
          this.stats.connects++;
          conn = { client, closed };
        }
        const ref = ledger.next(device.id);
        // A publish on a dead connection waits forever in mqtt.js's queue: give up on close.
        await Promise.race([conn.client.publishAsync(`devices/${device.id}/events`, JSON.stringify({ ...event(device.id, n++), ref }), { qos: 1 }), conn.closed]);
        ledger.ack(ref);
        await sleep(intervalMs);
      } catch {
        this.stats.drops++;
        if (conn) {
          this.clients.delete(conn.client);
          await conn.client.endAsync(true).catch(() => {});
        }
        conn = null;
        await sleep(100);
      }
    }
    if (conn) {
      this.clients.delete(conn.client);
      await conn.client.endAsync().catch(() => {});
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

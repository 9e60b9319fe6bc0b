import mqtt, { type MqttClient } from 'mqtt';
import type { GatewayConfig } from '../../config/schema/index.ts';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { Logger } from '../core/logger.ts';
import type { Service } from '../core/service.ts';

interface SimDevice {
  config: DeviceConfig;
  client: MqttClient;
  heartbeat: NodeJS.Timeout;
}

/**
 * Plays the site's simulated devices as real MQTT clients over TCP, so that `npm start` shows the
 * whole pipeline working: residents come and go, a door is forced, a watchlisted plate arrives,
 * a smoke sensor fires. It answers commands like a device would.
 */
export class DeviceSimulator implements Service {
  readonly name = 'simulator';
  private devices: SimDevice[] = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: {
      config: GatewayConfig;
      brokerUrl: string;
      secrets: Map<string, string>;
      log: Logger;
      random?: () => number;
      /** Devices to play; default: the site's `simulated: true` MQTT devices (`gridguard simulate` passes provisioned ones). */
      devices?: DeviceConfig[];
      /** Override config.simulator, so that `gridguard simulate` can pick them per run. */
      scenario?: GatewayConfig['simulator']['scenario'];
      eventsPerMinute?: number;
    },
  ) {}

  async start(): Promise<void> {
    const { config, brokerUrl, secrets, log } = this.deps;
    const simulated = (this.deps.devices ?? config.devices.filter((d) => d.simulated)).filter((d) => d.transport === 'mqtt');
    await Promise.all(
      simulated.map(async (device) => {
        const client = await mqtt.connectAsync(brokerUrl, {
          clientId: device.id,
          username: device.id,
          password: secrets.get(device.id)!,
          protocolVersion: 4,
          clean: true,
          reconnectPeriod: 2_000,
          will: { topic: `devices/${device.id}/availability`, payload: Buffer.from('offline'), qos: 1, retain: false },
        });
        await client.subscribeAsync(`devices/${device.id}/commands`, { qos: 1 });
        client.on('message', (_topic, payload) => {
          try {
            const cmd = JSON.parse(payload.toString()) as { id: string; type: string };
            client.publish(`devices/${device.id}/commands/result`, JSON.stringify({ id: cmd.id, ok: true, data: { simulated: true, type: cmd.type } }), { qos: 1 });
          } catch {
            /* a simulator ignores garbage */
          }
        });
        const beat = () => client.publish(`devices/${device.id}/heartbeat`, JSON.stringify({ battery: 90 + Math.round(this.rand() * 10), firmware: 'sim-1.0' }), { qos: 1 });
        beat();
        const heartbeat = setInterval(beat, Math.max(5, device.heartbeatSeconds / 2) * 1000);
        heartbeat.unref();
        this.devices.push({ config: device, client, heartbeat });
      }),
    );
    log.info({ devices: this.devices.length }, `simulator: ${this.devices.length} simulated devices connected`);
    this.playIntro();
    const intervalMs = 60_000 / (this.deps.eventsPerMinute ?? config.simulator.eventsPerMinute);
    const loop = setInterval(() => this.randomEvent(), intervalMs);
    loop.unref();
    this.timers.push(loop);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all(
      this.devices.map(async (d) => {
        clearInterval(d.heartbeat);
        await d.client.endAsync(true).catch(() => {});
      }),
    );
    this.devices = [];
  }

  private get scenario(): GatewayConfig['simulator']['scenario'] {
    return this.deps.scenario ?? this.deps.config.simulator.scenario;
  }

  /** Devices connected so far (for `gridguard simulate` to report). */
  get connectedCount(): number {
    return this.devices.length;
  }

  private rand(): number {
    return (this.deps.random ?? Math.random)();
  }

  private pick<T>(items: T[]): T | undefined {
    return items.length ? items[Math.floor(this.rand() * items.length)] : undefined;
  }

  private ofKind(kind: DeviceConfig['kind']): SimDevice[] {
    return this.devices.filter((d) => d.config.kind === kind);
  }

  private send(device: SimDevice | undefined, event: Record<string, unknown>): void {
    if (!device) return;
    device.client.publish(`devices/${device.config.id}/events`, JSON.stringify({ ts: new Date().toISOString(), ...event }), { qos: 1 });
  }

  /** A short scripted start, so a newcomer sees events and alerts within seconds. */
  private playIntro(): void {
    const { config } = this.deps;
    const scenario = this.scenario;
    const door = this.ofKind('access-controller')[0];
    const camera = this.ofKind('camera')[0];
    const sensor = this.ofKind('sensor')[0];
    const resident = config.registry.residents[0];
    const watchedPlate = config.watchlist.find((w) => w.subject.type === 'plate');
    const watchedCard = config.watchlist.find((w) => w.subject.type === 'card');
    const steps: [number, () => void][] = [];
    if (scenario === 'mixed' || scenario === 'normal-day') steps.push([1_000, () => resident?.cards[0] && this.send(door, { type: 'access.granted', cardNo: resident.cards[0], direction: 'in' })]);
    if (scenario === 'mixed' || scenario === 'forced-door') steps.push([3_000, () => this.send(door, { type: 'door.forced' })]);
    if (scenario === 'mixed' || scenario === 'watchlisted-visitor') {
      if (watchedPlate) steps.push([5_000, () => this.send(camera, { type: 'plate.captured', plate: watchedPlate.subject.value, confidence: 0.97 })]);
      if (watchedCard) steps.push([7_000, () => this.send(door, { type: 'access.denied', cardNo: watchedCard.subject.value, reason: 'no-rights' })]);
    }
    if (scenario === 'smoke-alarm') steps.push([3_000, () => this.send(sensor, { type: 'sensor.smoke', level: 3 })]);
    for (const [delay, step] of steps) {
      const t = setTimeout(step, delay);
      t.unref();
      this.timers.push(t);
    }
  }

  private randomEvent(): void {
    const { config } = this.deps;
    const scenario = this.scenario;
    if (scenario !== 'mixed' && scenario !== 'normal-day') return;
    const residents = config.registry.residents;
    const r = this.rand();
    const resident = this.pick(residents);
    if (r < 0.45) {
      const door = this.pick(this.ofKind('access-controller'));
      const card = resident?.cards[0];
      if (!card) return;
      this.send(door, { type: 'access.granted', cardNo: card, direction: this.rand() < 0.5 ? 'in' : 'out' });
      this.send(door, { type: 'door.opened' });
      const t = setTimeout(() => this.send(door, { type: 'door.closed' }), 3_000);
      t.unref();
    } else if (r < 0.6) {
      this.send(this.pick(this.ofKind('access-controller')), { type: 'access.denied', cardNo: `9${Math.floor(this.rand() * 1e7)}`, reason: 'unknown-card' });
    } else if (r < 0.8) {
      const plate = this.rand() < 0.7 ? resident?.plates[0] : `闽A${Math.floor(10000 + this.rand() * 89999)}`;
      if (plate) this.send(this.pick(this.ofKind('camera')), { type: 'plate.captured', plate, confidence: 0.9 + this.rand() * 0.09 });
    } else if (r < 0.95) {
      const card = resident?.cards[0];
      if (card) this.send(this.pick(this.ofKind('doorplate')), { type: 'doorplate.scan', cardNo: card });
    } else if (scenario === 'mixed') {
      if (r < 0.975) this.send(this.pick(this.ofKind('access-controller')), { type: 'door.forced' });
      else this.send(this.pick(this.ofKind('sensor')), { type: 'sensor.water' });
    }
  }
}

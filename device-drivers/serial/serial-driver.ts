import type { SerialBusConfig } from '../../config/schema/serial.ts';
import type { EventBus } from '../../gateway/core/bus.ts';
import type { CommandResult, DeviceCommand, DeviceDriver, DriverContext, LinkHealth } from '../driver.ts';
import { EVENTS_BY_KIND } from '../../gateway/core/model.ts';
import { AlarmOutput } from './alarm-output.ts';
import { READER_CODECS } from './codecs/index.ts';
import type { ReaderCodec } from './codecs/reader-codec.ts';
import { ModbusDevice } from './modbus-device.ts';
import type { PolledDevice } from './polled-device.ts';
import { ReaderDevice, type IdentifyFn } from './reader-device.ts';
import { SerialBus, type PortOpener } from './serial-bus.ts';

export interface SerialDriverOptions {
  buses: SerialBusConfig[];
  /** The gateway bus: alarm outputs listen to alert.raised / alert.updated on it. */
  bus: EventBus;
  /** Registry and watchlist lookup for card readers' access decisions. */
  identify: IdentifyFn;
  /** Tests pass SerialPortMock here; production opens real ports. */
  openPort?: PortOpener;
  portExists?(path: string): boolean;
  codecs?: Record<string, ReaderCodec>;
}

/**
 * RS-485 devices: one SerialBus per configured port that has devices on it, a poller per device
 * (Modbus RTU IO modules, framed card readers), and alarm outputs driven by alerts. Bad frames
 * and refusals are counted per bus; a lost port marks its devices offline and is reopened.
 */
export class SerialDriver implements DeviceDriver {
  readonly name = 'serial-driver';
  readonly transport = 'serial' as const;
  private buses = new Map<string, SerialBus>();
  private devices = new Map<string, PolledDevice>();
  private alarms: AlarmOutput[] = [];

  constructor(
    private readonly ctx: DriverContext,
    private readonly options: SerialDriverOptions,
  ) {}

  start(): void {
    const { ctx, options } = this;
    const codecs = options.codecs ?? READER_CODECS;
    const busConfigs = new Map(options.buses.map((b) => [b.id, b]));
    const members = new Map<string, PolledDevice[]>();
    for (const device of ctx.devices) {
      const serial = device.serial;
      const busConfig = serial ? busConfigs.get(serial.bus) : undefined;
      if (!serial || !busConfig) {
        ctx.log.error({ deviceId: device.id }, `serial device ${device.id}: no serial section or unknown bus; not started`);
        continue;
      }
      let bus = this.buses.get(busConfig.id);
      if (!bus) {
        const list: PolledDevice[] = [];
        members.set(busConfig.id, list);
        bus = new SerialBus({
          config: busConfig,
          clock: ctx.clock,
          metrics: ctx.metrics,
          log: ctx.log,
          ...(options.openPort ? { openPort: options.openPort } : {}),
          ...(options.portExists ? { portExists: options.portExists } : {}),
          onConnection: (connected, reason) => {
            for (const d of list) connected ? d.wake() : d.busLost(reason);
          },
        });
        this.buses.set(busConfig.id, bus);
      }
      const deps = { device, busConfig, bus, ctx };
      let polled: PolledDevice;
      if (serial.protocol === 'modbus-rtu') {
        for (const point of serial.points)
          for (const type of [point.on, point.off])
            if (type && !EVENTS_BY_KIND[device.kind].includes(type))
              ctx.log.warn({ deviceId: device.id }, `serial device ${device.id}: a ${device.kind} does not usually report ${type} (point ${point.name ?? `${point.table} ${point.address}`}); check the kind`);
        const modbus = new ModbusDevice(deps);
        polled = modbus;
        if (serial.alarm) this.alarms.push(new AlarmOutput({ siren: modbus, config: serial.alarm, bus: options.bus, ctx }));
      } else {
        const codec = codecs[serial.protocol];
        if (!codec) {
          ctx.log.error({ deviceId: device.id }, `serial device ${device.id}: no codec for protocol "${serial.protocol}"; not started`);
          continue;
        }
        polled = new ReaderDevice(deps, codec, options.identify);
      }
      this.devices.set(device.id, polled);
      members.get(busConfig.id)!.push(polled);
    }
    for (const alarm of this.alarms) alarm.start();
    for (const bus of this.buses.values()) bus.start();
    for (const device of this.devices.values()) device.start();
  }

  async stop(): Promise<void> {
    for (const alarm of this.alarms) alarm.stop();
    // Devices first, while their bus is still open: they release pulsed outputs on the way out.
    await Promise.all([...this.devices.values()].map((d) => d.stop()));
    await Promise.all([...this.buses.values()].map((b) => b.stop()));
    this.alarms = [];
    this.buses.clear();
    this.devices.clear();
  }

  handles(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  async sendCommand(deviceId: string, command: DeviceCommand): Promise<CommandResult> {
    const device = this.devices.get(deviceId);
    if (!device) return { id: command.id, ok: false, error: `unknown serial device ${deviceId}` };
    return device.sendCommand(command);
  }

  /** Health per bus id. */
  health(): Record<string, LinkHealth> {
    const out: Record<string, LinkHealth> = {};
    for (const [id, bus] of this.buses) {
      const health = bus.health();
      const offline = [...this.devices.values()].filter((d) => !d.isOnline && this.busOf(d) === id).map((d) => d.id);
      if (offline.length) health.detail = `${health.detail}; not answering: ${offline.join(', ')}`;
      out[`serial:${id}`] = health;
    }
    return out;
  }

  /** The device poller, for tests and the benchmark. */
  device(id: string): PolledDevice | undefined {
    return this.devices.get(id);
  }

  bus(id: string): SerialBus | undefined {
    return this.buses.get(id);
  }

  private busOf(device: PolledDevice): string | undefined {
    return this.ctx.devices.find((d) => d.id === device.id)?.serial?.bus;
  }
}

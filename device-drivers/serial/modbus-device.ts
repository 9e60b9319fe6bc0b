import type { ModbusDeviceConfig, ModbusPointConfig } from '../../config/schema/serial.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import type { CommandResult, DeviceCommand } from '../driver.ts';
import { ModbusException, readTransaction, writeCoilTransaction, type ModbusTable, type ReadValues } from './modbus-rtu.ts';
import { PolledDevice, type PolledDeviceDeps } from './polled-device.ts';

interface Block {
  table: ModbusTable;
  start: number;
  count: number;
  points: ModbusPointConfig[];
}

/** Reads kept per table as one contiguous block: one request per table per poll. */
export function planBlocks(points: ModbusPointConfig[]): Block[] {
  const byTable = new Map<ModbusTable, ModbusPointConfig[]>();
  for (const p of points) byTable.set(p.table, [...(byTable.get(p.table) ?? []), p]);
  return [...byTable].map(([table, list]) => {
    const start = Math.min(...list.map((p) => p.address));
    const end = Math.max(...list.map((p) => p.address));
    return { table, start, count: end - start + 1, points: list };
  });
}

function isActive(point: ModbusPointConfig, raw: boolean | number): boolean {
  const active = typeof raw === 'number' ? raw > (point.above ?? 0) : raw;
  return point.invert ? !active : active;
}

/**
 * A Modbus RTU IO module or sensor: polls its points, turns changes into events (door contact
 * → door.opened/closed, exit button, smoke relay, tamper), and writes coils for the door strike
 * and the sound-and-light alarm. The siren's wanted state is kept and re-written after a
 * failed write or a replug, so an alarm survives a flaky line.
 */
export class ModbusDevice extends PolledDevice {
  private readonly serial: ModbusDeviceConfig;
  private readonly blocks: Block[];
  private states = new Map<ModbusPointConfig, boolean>();
  private sirenWanted: boolean | null = null;
  private sirenWritten: boolean | null = null;
  private sirenWrites = 0;
  private pulses = new Set<{ coil: number; timer: TimerHandle }>();
  private unreleased = new Set<number>();

  constructor(deps: PolledDeviceDeps) {
    super(deps);
    this.serial = deps.device.serial as ModbusDeviceConfig;
    this.blocks = planBlocks(this.serial.points);
  }

  /** Releases pulsed coils at once: a gateway stopping mid-pulse must not leave a door strike energised. */
  override async stop(): Promise<void> {
    const pulses = [...this.pulses];
    this.pulses.clear();
    for (const { timer } of pulses) this.deps.ctx.clock.clearTimeout(timer);
    await super.stop();
    await Promise.all(pulses.map(({ coil }) => this.writeCoil(coil, false).catch(() => {})));
  }

  get unit(): number {
    return this.serial.address;
  }

  /** The siren's wanted state, set by the alarm output and by alarm.on/alarm.off commands. */
  async setSiren(on: boolean): Promise<void> {
    const siren = this.serial.outputs.siren;
    if (!siren) throw new Error(`device ${this.id} has no outputs.siren`);
    this.sirenWanted = on;
    await this.syncSiren();
  }

  get sirenState(): { wanted: boolean | null; written: boolean | null } {
    return { wanted: this.sirenWanted, written: this.sirenWritten };
  }

  async writeCoil(coil: number, on: boolean): Promise<void> {
    const reply = await this.deps.bus.request(writeCoilTransaction(this.id, this.unit, coil, on));
    if (reply instanceof ModbusException) {
      this.refused(reply, `write coil ${coil}`);
      throw reply;
    }
  }

  async sendCommand(command: DeviceCommand): Promise<CommandResult> {
    const { outputs } = this.serial;
    try {
      switch (command.type) {
        case 'door.open': {
          if (!outputs.doorStrike) return { id: command.id, ok: false, error: `device ${this.id} has no outputs.doorStrike` };
          const pulseMs = typeof command.params?.['ms'] === 'number' ? (command.params['ms'] as number) : outputs.doorStrike.pulseMs;
          await this.pulse(outputs.doorStrike.coil, pulseMs);
          return { id: command.id, ok: true, data: { coil: outputs.doorStrike.coil, pulseMs } };
        }
        case 'alarm.on':
        case 'alarm.off':
          if (!outputs.siren) return { id: command.id, ok: false, error: `device ${this.id} has no outputs.siren` };
          await this.setSiren(command.type === 'alarm.on');
          return { id: command.id, ok: true, data: { coil: outputs.siren.coil } };
        case 'relay.pulse': {
          const coil = command.params?.['coil'];
          const ms = command.params?.['ms'] ?? 1000;
          if (typeof coil !== 'number' || !Number.isInteger(coil) || coil < 0 || coil > 65_535) return { id: command.id, ok: false, error: 'relay.pulse needs params.coil (0–65535)' };
          if (typeof ms !== 'number' || ms < 50 || ms > 60_000) return { id: command.id, ok: false, error: 'relay.pulse params.ms must be 50–60000' };
          await this.pulse(coil, ms);
          return { id: command.id, ok: true, data: { coil, pulseMs: ms } };
        }
        case 'ping':
          await this.pollNow();
          return { id: command.id, ok: this.failures === 0, ...(this.failures ? { error: 'no valid answer' } : {}) };
        default:
          return { id: command.id, ok: false, error: `a Modbus device does not take ${command.type}` };
      }
    } catch (error) {
      return { id: command.id, ok: false, error: (error as Error).message };
    }
  }

  protected async poll(): Promise<void> {
    for (const coil of [...this.unreleased]) {
      await this.writeCoil(coil, false);
      this.unreleased.delete(coil);
    }
    // Re-write a siren state that failed to reach the device (a write still queued will land by itself).
    if (this.sirenWanted !== null && this.sirenWanted !== this.sirenWritten && this.sirenWrites === 0) await this.syncSiren().catch(() => {});
    for (const block of this.blocks) {
      const reply = await this.deps.bus.request(readTransaction(this.id, this.unit, block.table, block.start, block.count));
      if (reply instanceof ModbusException) {
        this.refused(reply, `read ${block.table} ${block.start}..${block.start + block.count - 1}`);
        // The device answered, so it is alive; the config asks for points it does not have.
        continue;
      }
      await this.apply(block, reply);
    }
    // A device with no points is polled for liveness only.
    if (this.blocks.length === 0) await this.deps.bus.request(readTransaction(this.id, this.unit, 'coil', 0, 1)).catch((e) => {
      if (!(e instanceof ModbusException)) throw e;
    });
  }

  private async apply(block: Block, reply: ReadValues): Promise<void> {
    for (const point of block.points) {
      const raw = 'bits' in reply ? reply.bits[point.address - block.start]! : reply.registers[point.address - block.start]!;
      const active = isActive(point, raw);
      const previous = this.states.get(point);
      this.states.set(point, active);
      if (previous === active || (previous === undefined && !point.reportInitial)) continue;
      const type = active ? point.on : point.off;
      if (!type) continue;
      await this.ingest({
        type,
        payload: { point: point.name ?? `${point.table} ${point.address}`, table: point.table, address: point.address, value: typeof raw === 'number' ? raw : raw ? 1 : 0, active },
      }).catch(() => {
        // Not stored: forget the state so the change is reported again at the next poll.
        this.states.set(point, previous as boolean);
        if (previous === undefined) this.states.delete(point);
      });
    }
  }

  private refused(exception: ModbusException, what: string): void {
    this.deps.bus.countRefusal();
    this.deps.ctx.metrics.rejected.inc({ source: 'serial', reason: 'modbus-exception' });
    this.deps.ctx.log.warn(
      { deviceId: this.id, bus: this.deps.busConfig.id, code: exception.code },
      `serial ${this.deps.busConfig.id} ${this.deps.busConfig.path} device ${this.id} (${what}): ${exception.message}`,
    );
  }

  private async syncSiren(): Promise<void> {
    const siren = this.serial.outputs.siren;
    if (!siren || this.sirenWanted === null) return;
    const wanted = this.sirenWanted;
    this.sirenWrites++;
    try {
      await this.writeCoil(siren.coil, wanted);
      this.sirenWritten = wanted;
    } catch (error) {
      this.sirenWritten = null; // unknown: the next poll writes it again
      throw error;
    } finally {
      this.sirenWrites--;
    }
  }

  private async pulse(coil: number, ms: number): Promise<void> {
    await this.writeCoil(coil, true);
    const pulse = {
      coil,
      timer: this.deps.ctx.clock.setTimeout(() => release(), ms),
    };
    const release = () => {
      this.pulses.delete(pulse);
      void this.writeCoil(coil, false).catch((error: Error) => {
        // A strike left energised is an open door: keep trying at every poll until it is released.
        this.unreleased.add(coil);
        this.deps.ctx.log.error({ deviceId: this.id, coil, err: error }, `serial device ${this.id}: could not release coil ${coil} after its pulse (retrying at the next poll): ${error.message}`);
      });
    };
    this.pulses.add(pulse);
  }
}

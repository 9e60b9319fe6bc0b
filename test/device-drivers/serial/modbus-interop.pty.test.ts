import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialBusSchema } from '../../../config/schema/serial.ts';
import { ModbusException, readTransaction, writeCoilTransaction } from '../../../device-drivers/serial/modbus-rtu.ts';
import { SerialBus } from '../../../device-drivers/serial/serial-bus.ts';
import { systemClock } from '../../../gateway/core/clock.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import { waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';
import { PtyPair } from './pty.ts';

const require = createRequire(import.meta.url);
const { ServerSerial } = require('modbus-serial') as { ServerSerial: new (vector: object, options: object) => { close(cb: () => void): void; on(e: string, f: (...a: unknown[]) => void): void } };

const haveSocat = requireTool('socat', 'socat');

/** Our master against an independent slave implementation (modbus-serial's ServerSerial) on a real pty. */
describe.skipIf(!haveSocat)('Modbus RTU master interoperates with modbus-serial ServerSerial', () => {
  let dir: string;
  let pty: PtyPair;
  let server: InstanceType<typeof ServerSerial>;
  let bus: SerialBus;
  const coils = [true, false, true, true, false, false, false, true, true];
  const holding = [0x1234, 0xbeef, 7];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-mb-interop-'));
    pty = new PtyPair(dir);
    await pty.start();
    server = new ServerSerial(
      {
        getCoil: (addr: number) => coils[addr] ?? false,
        getDiscreteInput: (addr: number) => addr % 3 === 0,
        getHoldingRegister: (addr: number) => holding[addr] ?? 0,
        getInputRegister: (addr: number) => 1000 + addr,
        setCoil: (addr: number, value: boolean) => {
          coils[addr] = value;
        },
      },
      { path: pty.devicePath, baudRate: 9600, unitID: 17 },
    );
    server.on('error', () => {});
    await new Promise((r) => setTimeout(r, 200));
    bus = new SerialBus({
      config: SerialBusSchema.parse({ id: 'interop', path: pty.gatewayPath, timeoutMs: 500, retries: 1 }),
      clock: systemClock,
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
    });
    bus.start();
    await waitFor(() => bus.isConnected, 'bus open');
  });

  afterAll(async () => {
    await bus?.stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await pty?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads coils, discrete inputs, holding and input registers', async () => {
    expect(await bus.request(readTransaction('x', 17, 'coil', 0, 9))).toEqual({ bits: coils.slice(0, 9) });
    expect(await bus.request(readTransaction('x', 17, 'discrete-input', 0, 6))).toEqual({ bits: [true, false, false, true, false, false] });
    expect(await bus.request(readTransaction('x', 17, 'holding-register', 0, 3))).toEqual({ registers: holding });
    expect(await bus.request(readTransaction('x', 17, 'input-register', 5, 2))).toEqual({ registers: [1005, 1006] });
  });

  it('writes a coil and reads it back', async () => {
    const reply = await bus.request(writeCoilTransaction('x', 17, 1, true));
    expect(reply).not.toBeInstanceOf(ModbusException);
    expect(coils[1]).toBe(true);
    expect(await bus.request(readTransaction('x', 17, 'coil', 1, 1))).toEqual({ bits: [true] });
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../config/load.ts';
import { configErrors, SITE_HEAD } from '../../helpers/config.ts';

const site = `${SITE_HEAD}  gates: [{ id: gate-1, name: 1号门, addressCode: AC3501020001 }]
serialBuses:
  - id: rs485-1
    path: /dev/ttyUSB0
    baudRate: 19200
    parity: even
devices:
  - id: io-1
    kind: access-controller
    transport: serial
    location: { gate: gate-1 }
    serial:
      bus: rs485-1
      protocol: modbus-rtu
      address: 1
      points:
        - { name: door contact, table: discrete-input, address: 0, on: door.opened, off: door.closed }
        - { name: gas, table: input-register, address: 4, above: 500, on: sensor.gas }
      outputs:
        doorStrike: { coil: 0 }
        siren: { coil: 1 }
      alarm: { severities: [critical, high] }
  - id: rd-1
    kind: access-controller
    transport: serial
    location: { gate: gate-1 }
    serial: { bus: rs485-1, protocol: gg-frame, address: 7 }
`;

const errorsOf = configErrors;

describe('serial config schema', () => {
  it('accepts buses, Modbus points, outputs, alarm and readers, filling defaults', () => {
    const { config } = loadConfigText(site, 'site.yaml');
    expect(config.serialBuses[0]).toMatchObject({ baudRate: 19_200, parity: 'even', pollIntervalMs: 500, direction: 'auto', reconnectMinMs: 500, retries: 2 });
    const io = config.devices[0]!.serial as any;
    expect(io.outputs.doorStrike).toEqual({ coil: 0, pulseMs: 3000 });
    expect(io.alarm).toEqual({ severities: ['critical', 'high'], holdSeconds: 120 });
    expect(io.points[0]).toMatchObject({ invert: false, reportInitial: false });
    expect(config.devices[1]!.serial).toMatchObject({ protocol: 'gg-frame', openMs: 3000, watchlisted: 'deny' });
  });

  it('names file, line and path for a register point without a threshold, an alarm without a siren and a bad unit id', () => {
    const bad = site
      .replace('{ name: gas, table: input-register, address: 4, above: 500, on: sensor.gas }', '{ name: gas, table: input-register, address: 4, on: sensor.gas }')
      .replace('        siren: { coil: 1 }\n', '')
      .replace('      address: 1\n', '      address: 0\n');
    const errors = errorsOf(bad);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^site\.yaml:\d+ devices\[0\]\.serial\.points\[1\]\.above: a register point needs "above"/),
        expect.stringMatching(/^site\.yaml:\d+ devices\[0\]\.serial\.alarm: alarm needs outputs\.siren/),
        expect.stringMatching(/^site\.yaml:\d+ devices\[0\]\.serial\.address: must be at least 1/),
      ]),
    );
  });

  it('refuses an unknown protocol and an unknown bus', () => {
    expect(errorsOf(site.replace('protocol: gg-frame', 'protocol: wiegand-x'))).toEqual([expect.stringMatching(/devices\[1\]\.serial/)]);
    expect(errorsOf(site.replace('{ bus: rs485-1, protocol: gg-frame', '{ bus: rs485-9, protocol: gg-frame'))).toEqual([expect.stringMatching(/devices\[1\]\.serial\.bus: unknown serial bus "rs485-9"/)]);
  });

  it('the example in docs/drivers-serial.md is a valid configuration', () => {
    const doc = readFileSync(new URL('../../../docs/drivers-serial.md', import.meta.url), 'utf8');
    const start = doc.indexOf('```yaml\n') + 8;
    const yaml = doc.slice(start, doc.indexOf('```', start));
    const header = site.slice(0, site.indexOf('serialBuses:')).replace('{ id: gate-1, name: 1号门', '{ id: gate-east, name: 东门');
    const { config } = loadConfigText(header + yaml, 'drivers-serial.md');
    expect(config.devices.map((d) => d.serial?.protocol)).toEqual(['modbus-rtu', 'modbus-rtu', 'gg-frame']);
  });
});

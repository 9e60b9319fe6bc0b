/**
 * Vanishing ports, timed: a whole gateway with a serial bus on a socat pty and an OPC-UA
 * server in a child process; the pty is unplugged (socat killed, links removed) and replugged,
 * the OPC-UA server is killed (SIGKILL) and restarted on the same port. Measured, each from
 * the moment the port is back: the link reported up again, and the first field change stored
 * as an event. Baseline in the same run: the latency of a field change to a stored event while
 * the link is healthy. Used by bench/recovery.ts (figures) and recovery.faults.ts (asserts only
 * that recovery happens, within generous deadlines). Reuses the drivers' own test helpers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { OpcuaFixture } from '../device-drivers/opcua/fixture.ts';
import { PtyPair, SimulatedLine, type UnitState } from '../device-drivers/serial/pty.ts';

const NS = 'ns=1;s=';

export interface RecoverySample {
  /** From the unplug / kill to the gateway reporting the link down. */
  detectMs: number;
  /** From the port being back to the link reported up. */
  linkUpMs: number;
  /** From the port being back to the first field change stored (the change was made while it was away). */
  firstEventMs: number;
}

export interface RecoveryFigures {
  serial: { baselineMs: number[]; samples: RecoverySample[] };
  opcua: { baselineMs: number[]; samples: RecoverySample[]; serverStartMs: number[] };
  config: string;
}

export interface RecoveryOptions {
  rounds: number;
  /** How long each port stays away. */
  outageMs: number;
  log?: (line: string) => void;
}

/** Serial bus and OPC-UA settings as shipped (reconnect backoff defaults 500 ms … 30 s). */
const SERIAL_BUS = { id: 'rs485-1', baudRate: 9600, timeoutMs: 200, pollIntervalMs: 100 };
const OPCUA_SERVER = { id: 'alarm-host', acceptUnknownServerCertificate: true, publishingIntervalMs: 50, samplingIntervalMs: 0 };

export async function runRecovery(options: RecoveryOptions): Promise<RecoveryFigures> {
  const log = options.log ?? ((line: string) => console.log(line));
  const pty = new PtyPair(mkdtempSync(join(tmpdir(), 'gg-recovery-')));
  await pty.start();
  const line = new SimulatedLine(pty.devicePath);
  const io: UnitState = line.unit(1, { discreteInputs: [false] });
  await line.open();
  const fixture = new OpcuaFixture();
  await fixture.start();

  const site = await testSite({
    serialBuses: [{ ...SERIAL_BUS, path: pty.gatewayPath }],
    opcuaServers: [{ ...OPCUA_SERVER, endpoint: fixture.endpoint }],
    rules: [],
  });
  site.devices = [
    ...(site.devices as unknown[]),
    { id: 'io-1', kind: 'sensor', transport: 'serial', location: { gate: 'gate-1' }, serial: { bus: 'rs485-1', protocol: 'modbus-rtu', address: 1, points: [{ table: 'discrete-input', address: 0, on: 'sensor.smoke', off: 'sensor.restored' }] } },
    {
      id: 'fire-panel-1',
      kind: 'sensor',
      transport: 'opcua',
      location: { building: 'b1' },
      opcua: { server: 'alarm-host', nodes: [{ nodeId: `${NS}FirePanel.Alarm`, normal: false, events: [{ value: true, type: 'sensor.fire' }, { value: false, type: 'sensor.restored' }] }] },
    },
  ];
  let gw: TestGateway | null = null;
  try {
    gw = await startGateway(site);
    const g = gw;
    const links = async () => (await g.gateway.status()).links as Record<string, { connected: boolean }>;
    const connected = async (id: string) => (await links())[id]?.connected === true;
    const eventsOf = (deviceId: string) => g.gateway.services.store.events.query({ deviceId, limit: 1000 }).length;
    await waitFor(() => connected('serial:rs485-1'), 'serial bus up', 60_000);
    await waitFor(() => connected('alarm-host'), 'OPC-UA link up', 60_000);

    const figures: RecoveryFigures = {
      serial: { baselineMs: [], samples: [] },
      opcua: { baselineMs: [], samples: [], serverStartMs: [] },
      config: `serial ${JSON.stringify(SERIAL_BUS)}; OPC-UA ${JSON.stringify(OPCUA_SERVER)}; reconnect backoff defaults (500 ms doubling to 30 s); outage ${options.outageMs} ms`,
    };
    let fire = false;
    const toggleSerial = () => (io.discreteInputs[0] = !io.discreteInputs[0]);
    const toggleOpcua = () => fixture.set('FirePanel.Alarm', (fire = !fire));

    for (let round = 0; round < options.rounds; round++) {
      // Baselines: a change while everything is up.
      let before = eventsOf('io-1');
      let t0 = performance.now();
      toggleSerial();
      await waitFor(() => eventsOf('io-1') > before, 'serial baseline event', 30_000, 2);
      figures.serial.baselineMs.push(performance.now() - t0);
      before = eventsOf('fire-panel-1');
      t0 = performance.now();
      await toggleOpcua();
      await waitFor(() => eventsOf('fire-panel-1') > before, 'OPC-UA baseline event', 30_000, 2);
      figures.opcua.baselineMs.push(performance.now() - t0);

      // Serial: unplug, change the input meanwhile, replug.
      t0 = performance.now();
      await line.close();
      await pty.stop();
      await waitFor(async () => !(await connected('serial:rs485-1')), 'serial bus reported down', 60_000, 5);
      const serialDetect = performance.now() - t0;
      await new Promise((r) => setTimeout(r, options.outageMs));
      before = eventsOf('io-1');
      toggleSerial();
      await pty.start();
      await line.open();
      t0 = performance.now();
      const serialUp = waitFor(() => connected('serial:rs485-1'), 'serial bus up again', 120_000, 5).then(() => performance.now() - t0);
      await waitFor(() => eventsOf('io-1') > before, 'the first serial event after replug', 120_000, 5);
      const serial = { detectMs: serialDetect, linkUpMs: await serialUp, firstEventMs: performance.now() - t0 };
      figures.serial.samples.push(serial);

      // OPC-UA: kill the server, change the value on restart, measure from ready.
      t0 = performance.now();
      await fixture.kill();
      await waitFor(async () => !(await connected('alarm-host')), 'OPC-UA link reported down', 60_000, 5);
      const opcuaDetect = performance.now() - t0;
      await new Promise((r) => setTimeout(r, options.outageMs));
      before = eventsOf('fire-panel-1');
      const s0 = performance.now();
      await fixture.start();
      figures.opcua.serverStartMs.push(performance.now() - s0);
      t0 = performance.now();
      await toggleOpcua();
      const opcuaUp = waitFor(() => connected('alarm-host'), 'OPC-UA link up again', 120_000, 5).then(() => performance.now() - t0);
      await waitFor(() => eventsOf('fire-panel-1') > before, 'the first OPC-UA event after the restart', 120_000, 5);
      const opcua = { detectMs: opcuaDetect, linkUpMs: await opcuaUp, firstEventMs: performance.now() - t0 };
      figures.opcua.samples.push(opcua);
      log(`round ${round}: serial ${fmt(serial)} (baseline ${Math.round(figures.serial.baselineMs[round]!)} ms); OPC-UA ${fmt(opcua)} (server start ${Math.round(figures.opcua.serverStartMs[round]!)} ms, baseline ${Math.round(figures.opcua.baselineMs[round]!)} ms)`);
    }
    return figures;
  } finally {
    await gw?.stop();
    await fixture.stop().catch(() => {});
    await line.close().catch(() => {});
    await pty.stop().catch(() => {});
  }
}

function fmt(s: RecoverySample): string {
  return `detect ${Math.round(s.detectMs)} ms, link up ${Math.round(s.linkUpMs)} ms, first event ${Math.round(s.firstEventMs)} ms`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)]! : NaN;
}

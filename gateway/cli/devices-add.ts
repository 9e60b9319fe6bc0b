import type { Command } from 'commander';
import { formatIssue } from '../../config/load.ts';
import { DEVICE_KINDS, TRANSPORTS } from '../core/model.ts';
import { CliError, siteFileFrom } from './common.ts';
import { introducedIssues } from './edit-check.ts';
import { SiteDocument } from './site-document.ts';

interface AddOptions {
  id: string;
  kind: string;
  transport: string;
  name?: string;
  gate?: string;
  building?: string;
  unit?: string;
  house?: string;
  zone?: string;
  heartbeat?: string;
  simulated?: boolean;
  bus?: string;
  address?: string;
  protocol?: string;
  opcuaServer?: string;
}

/** The device entry as the installer described it; the schema fills in the defaults at load. */
export function deviceEntry(o: AddOptions): Record<string, unknown> {
  const location = Object.fromEntries(
    (['gate', 'building', 'unit', 'house', 'zone'] as const).filter((k) => o[k] !== undefined).map((k) => [k, o[k]]),
  );
  const entry: Record<string, unknown> = { id: o.id };
  if (o.name) entry.name = o.name;
  entry.kind = o.kind;
  entry.transport = o.transport;
  entry.location = location;
  if (o.heartbeat !== undefined) entry.heartbeatSeconds = Number(o.heartbeat);
  if (o.simulated) entry.simulated = true;
  if (o.transport === 'serial') entry.serial = { bus: o.bus, address: o.address === undefined ? undefined : Number(o.address), protocol: o.protocol };
  if (o.transport === 'opcua') entry.opcua = { server: o.opcuaServer };
  return JSON.parse(JSON.stringify(entry)) as Record<string, unknown>;
}

export function registerDevicesAdd(devices: Command, program: Command): void {
  devices
    .command('add')
    .description('append a device to the site file, keeping its comments; refuses edits that would break the file')
    .requiredOption('--id <id>', 'device id (MQTT devices log in with it)')
    .requiredOption('--kind <kind>', `one of ${DEVICE_KINDS.join(', ')}`)
    .requiredOption('--transport <transport>', `one of ${TRANSPORTS.join(', ')}`)
    .option('--name <name>', 'label shown in the console, e.g. 东门门禁')
    .option('--gate <id>', 'location: gate id')
    .option('--building <id>', 'location: building id')
    .option('--unit <id>', 'location: unit id (with --building)')
    .option('--house <id>', 'location: house id')
    .option('--zone <id>', 'location: zone id')
    .option('--heartbeat <seconds>', 'expected heartbeat interval')
    .option('--simulated', 'played by the built-in simulator (demo sites only)')
    .option('--bus <id>', 'serial: id of the serialBuses entry')
    .option('--address <n>', 'serial: Modbus unit id or reader address on the bus')
    .option('--protocol <name>', 'serial: codec, e.g. modbus-rtu')
    .option('--opcua-server <id>', 'opcua: id of the opcuaServers entry')
    .action((options: AddOptions) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      const site = SiteDocument.open(file);
      if (site.deviceIndex(options.id) >= 0) throw new CliError(`${file}: a device "${options.id}" already exists`);
      const before = site.validate().error;
      site.appendDevice(deviceEntry(options));
      const after = site.validate().error;
      const introduced = introducedIssues(before, after);
      // A new MQTT device has no secret yet: that is the next step, not a mistake.
      const needsProvision = introduced.filter((i) => i.path.endsWith('.secretHash') && i.message.includes('needs a secretHash'));
      const blocking = introduced.filter((i) => !needsProvision.includes(i));
      if (blocking.length > 0) {
        console.error(`${file}: not changed; the device would make these errors:`);
        for (const issue of blocking) console.error(formatIssue({ ...issue, source: file }));
        process.exitCode = 1;
        return;
      }
      site.save();
      console.log(`${file}: added device ${options.id} (${options.kind}, ${options.transport})`);
      if (needsProvision.length > 0) console.log(`next: gridguard devices provision ${options.id} --config ${file}   (the site file is incomplete until then)`);
    });
}

import { networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { formatIssue } from '../../config/load.ts';
import { DEVICE_SECRET_COST, hashSecret, newDeviceSecret } from '../core/secrets.ts';
import { CliError, siteFileFrom } from './common.ts';
import { introducedIssues } from './edit-check.ts';
import { saveSecret } from './secrets-file.ts';
import { SiteDocument } from './site-document.ts';

export interface ConnectionSettings {
  deviceId: string;
  host: string;
  port: number;
  tlsPort: number | null;
  protocol: string;
  clientId: string;
  username: string;
  password: string;
  publish: Record<string, string>;
  subscribe: Record<string, string>;
  qos: number;
  keepaliveSeconds: number;
}

/** The address devices should dial: --host, a concrete broker.host, else this box's first LAN IPv4. */
function deviceFacingHost(explicit: string | undefined, brokerHost: string): string {
  if (explicit) return explicit;
  if (brokerHost !== '0.0.0.0' && brokerHost !== '::') return brokerHost;
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '<gateway LAN address>';
}

/** What a device needs to know, from the site file as written (the gateway applies the same defaults). */
export function connectionSettings(raw: Record<string, any>, deviceId: string, secret: string, host?: string, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const broker = raw.broker ?? {};
  const device = ((raw.devices ?? []) as Record<string, any>[]).find((d) => d?.id === deviceId) ?? {};
  const envPort = env.GRIDGUARD_MQTT_PORT && /^\d+$/.test(env.GRIDGUARD_MQTT_PORT) ? Number(env.GRIDGUARD_MQTT_PORT) : undefined;
  const base = `devices/${deviceId}`;
  return {
    deviceId,
    host: deviceFacingHost(host, broker.host ?? '0.0.0.0'),
    port: envPort ?? broker.port ?? 1883,
    tlsPort: broker.tls ? (broker.tls.port ?? 8883) : null,
    protocol: 'MQTT 3.1.1 (aedes 1.x has no MQTT 5)',
    clientId: deviceId,
    username: deviceId,
    password: secret,
    publish: {
      events: `${base}/events`,
      heartbeat: `${base}/heartbeat`,
      availability: `${base}/availability (retain false; set as the will with payload "offline")`,
      commandResults: `${base}/commands/result`,
    },
    subscribe: { commands: `${base}/commands` },
    qos: 1,
    keepaliveSeconds: Math.min(60, device.heartbeatSeconds ?? 60),
  };
}

function printSettings(s: ConnectionSettings): void {
  const lines = [
    `MQTT connection settings for ${s.deviceId} — shown ONCE; only a hash is kept in the site file`,
    `  host:         ${s.host}`,
    `  port:         ${s.port}${s.tlsPort ? ` (TLS: ${s.tlsPort})` : ''}`,
    `  protocol:     ${s.protocol}, QoS ${s.qos}, keepalive ${s.keepaliveSeconds}s, clean session false to get commands sent while away`,
    `  client id:    ${s.clientId}`,
    `  username:     ${s.username}`,
    `  password:     ${s.password}`,
    `  publish:      ${s.publish.events}`,
    `                ${s.publish.heartbeat}`,
    `                ${s.publish.availability}`,
    `                ${s.publish.commandResults}`,
    `  subscribe:    ${s.subscribe.commands}`,
  ];
  console.log(lines.join('\n'));
}

interface ProvisionOptions {
  rotate?: boolean;
  host?: string;
  saveSecrets?: string;
  json?: boolean;
}

export function registerDevicesProvision(devices: Command, program: Command): void {
  devices
    .command('provision')
    .description('make a new secret for an MQTT device, store only its hash in the site file, print the connection settings once')
    .argument('<id>', 'device id')
    .option('--rotate', 'replace an existing secret (the device must then be given the new one)')
    .option('--host <address>', 'address devices dial, printed in the settings (default: broker.host or this box’s LAN address)')
    .option('--save-secrets <file>', 'also keep the secret in this JSON file (mode 0600), e.g. for `gridguard simulate --secrets`')
    .option('--json', 'print the settings as JSON')
    .action(async (id: string, options: ProvisionOptions) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      const site = SiteDocument.open(file);
      const device = site.device(id);
      if (!device) throw new CliError(`${file}: no device "${id}" (add it first: gridguard devices add --id ${id} …)`);
      if (device.get('transport') !== 'mqtt') throw new CliError(`${file}: device "${id}" uses transport ${String(device.get('transport'))}; only MQTT devices log in with a secret`);
      if (device.has('secretHash') && !options.rotate)
        throw new CliError(`${file}: device "${id}" already has a secret; --rotate replaces it (the device stops connecting until it gets the new one)`);
      const before = site.validate().error;
      const secret = newDeviceSecret();
      device.set('secretHash', await hashSecret(secret, DEVICE_SECRET_COST));
      // A provisioned device is a real one: the simulator's start-up secrets must not apply to it.
      if (device.has('simulated')) device.delete('simulated');
      const after = site.validate().error;
      const introduced = introducedIssues(before, after);
      if (introduced.length > 0) {
        console.error(`${file}: not changed; provisioning would make these errors:`);
        for (const issue of introduced) console.error(formatIssue({ ...issue, source: file }));
        process.exitCode = 1;
        return;
      }
      site.save();
      if (options.saveSecrets) saveSecret(options.saveSecrets, id, secret);
      const settings = connectionSettings(site.doc.toJS() as Record<string, any>, id, secret, options.host);
      if (options.json) console.log(JSON.stringify(settings, null, 2));
      else printSettings(settings);
      if (after) console.error(`note: ${file} still has ${after.issues.length} error(s) elsewhere; see gridguard check ${file}`);
    });
}


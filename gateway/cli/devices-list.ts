import type { Command } from 'commander';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../../config/load.ts';
import { GatewayApi, withApiOptions, type ApiOptions } from './api-client.ts';
import { ago, CliError, siteFileFrom, table } from './common.ts';
import { SiteDocument } from './site-document.ts';

interface LiveDevice {
  id: string;
  online: boolean;
  lastSeen: string | null;
  place?: string;
  info?: Record<string, unknown>;
}

interface ListOptions extends ApiOptions {
  json?: boolean;
  offline?: boolean;
}

function credentialState(d: Record<string, any>): string {
  if (d.transport !== 'mqtt') return '-';
  if (d.simulated) return 'simulated';
  return d.secretHash ? 'provisioned' : 'NOT PROVISIONED';
}

function where(location: Record<string, string> | undefined): string {
  if (!location) return '';
  return Object.entries(location)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
}

export function registerDevicesList(devices: Command, program: Command): void {
  withApiOptions(
    devices
      .command('list')
      .description('the devices of the site file, with live state (online, last seen) from the running gateway when it answers'),
  )
    .option('--offline', 'do not ask the running gateway')
    .option('--json', 'print JSON')
    .action(async (options: ListOptions) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      // Listing works on a half-finished file too: that is when an installer needs it most.
      const raw = SiteDocument.open(file).doc.toJS() as Record<string, any>;
      const configured = ((raw.devices ?? []) as Record<string, any>[]).filter((d) => d && typeof d === 'object');
      let loaded: LoadedConfig | null = null;
      try {
        loaded = loadConfigFile(file);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
      }
      let live: Map<string, LiveDevice> | null = null;
      let liveError: string | null = null;
      if (!options.offline) {
        try {
          const api = GatewayApi.from(options, loaded);
          const body = await api.get<{ devices: LiveDevice[] }>('/api/devices');
          live = new Map(body.devices.map((d) => [d.id, d]));
        } catch (error) {
          if (!(error instanceof CliError)) throw error;
          liveError = error.message;
        }
      }
      const rows = configured.map((d) => {
        const state = live?.get(String(d.id));
        return {
          id: String(d.id),
          name: String(d.name ?? ''),
          kind: String(d.kind ?? ''),
          transport: String(d.transport ?? ''),
          location: where(d.location),
          credential: credentialState(d),
          online: live ? (state ? state.online : null) : null,
          lastSeen: state?.lastSeen ?? null,
          ...(state?.info && Object.keys(state.info).length ? { info: state.info } : {}),
        };
      });
      if (options.json) {
        console.log(JSON.stringify({ file, live: live !== null, ...(liveError ? { liveError } : {}), devices: rows }, null, 2));
        return;
      }
      const header = ['ID', 'NAME', 'KIND', 'TRANSPORT', 'LOCATION', 'SECRET', ...(live ? ['STATE', 'LAST SEEN'] : [])];
      const body = rows.map((r) => [
        r.id,
        r.name,
        r.kind,
        r.transport,
        r.location,
        r.credential,
        ...(live ? [r.online === null ? 'unknown to gateway' : r.online ? 'online' : 'offline', ago(r.lastSeen)] : []),
      ]);
      console.log(table([header, ...body]));
      console.log(`${rows.length} device(s) in ${file}${live ? `, ${rows.filter((r) => r.online).length} online` : ''}`);
      if (liveError) console.error(`live state unavailable: ${liveError}`);
    });
}

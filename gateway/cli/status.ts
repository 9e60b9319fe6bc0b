import type { Command } from 'commander';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../../config/load.ts';
import { GatewayApi, withApiOptions, type ApiOptions } from './api-client.ts';
import { ago, siteFileFrom } from './common.ts';

/** The part of GET /api/status this command reads; everything else is printed with --json. */
export interface GatewayStatus {
  gatewayId?: string;
  community?: string;
  version?: string;
  uptimeSeconds?: number;
  devices?: { total: number; online: number; offline: number };
  outbox?: { total: number; byKind: { kind: string; count: number; oldestMs?: number | null }[] };
  store?: { writes?: { pending?: number; failed?: number } };
  platform?: { enabled?: boolean; connected?: boolean; url?: string; lastAckAt?: string | null; lastError?: string | null; inFlightEnvelopes?: number };
  links?: Record<string, { lastFrameAt?: string | null; connected?: boolean }>;
  rules?: { active?: string[]; problems?: unknown[] };
  rejected?: unknown;
  [key: string]: unknown;
}

export function loadQuietly(file: string): LoadedConfig | null {
  try {
    return loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) return null;
    throw error;
  }
}

/** Latest frame any device link reported: the "last uplink from a device" an installer asks about. */
export function lastDeviceFrame(status: GatewayStatus): string | null {
  let last: string | null = null;
  for (const link of Object.values(status.links ?? {})) if (link?.lastFrameAt && (!last || link.lastFrameAt > last)) last = link.lastFrameAt;
  return last;
}

export function formatStatus(s: GatewayStatus): string {
  const kinds = (s.outbox?.byKind ?? []).map((k) => `${k.kind} ${k.count}`).join(', ');
  const p = s.platform ?? {};
  const platform =
    p.enabled === false ? 'off (no platform configured)' : `${p.connected ? 'connected' : 'NOT connected'} ${p.url ?? ''}; last acknowledged upload ${ago(p.lastAckAt)}${p.lastError ? `; last error: ${p.lastError}` : ''}`;
  const minutes = Math.round((s.uptimeSeconds ?? 0) / 60);
  return [
    `gateway      ${s.gatewayId ?? '?'} ${s.community ?? ''} · gridguard ${s.version ?? '?'} · up ${minutes} min`,
    `devices      ${s.devices?.online ?? '?'} online of ${s.devices?.total ?? '?'} (${s.devices?.offline ?? '?'} offline)`,
    `last device  ${ago(lastDeviceFrame(s))}`,
    `outbox       ${s.outbox?.total ?? '?'} waiting for the platform${kinds ? ` (${kinds})` : ''}`,
    `store        ${s.store?.writes?.pending ?? 0} write(s) queued, ${s.store?.writes?.failed ?? 0} failed since start`,
    `platform     ${platform}`,
    ...(s.rules?.problems && s.rules.problems.length ? [`rules        ${s.rules.problems.length} problem(s): gridguard check`] : []),
  ].join('\n');
}

export function registerStatus(program: Command): void {
  withApiOptions(program.command('status').description('queue depths, devices online, last uplink: from the running gateway (GET /api/status)'))
    .option('--json', 'print the whole status as JSON')
    .action(async (options: ApiOptions & { json?: boolean }) => {
      const loaded = loadQuietly(siteFileFrom(program.opts<{ config?: string }>().config));
      const status = await GatewayApi.from(options, loaded).get<GatewayStatus>('/api/status');
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });
}

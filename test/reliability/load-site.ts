import { DEVICE_SECRET_COST, hashSecret } from '../../gateway/core/secrets.ts';
import { testSite } from '../helpers/gateway.ts';
import type { LoadDevice } from './device-load.ts';

/** The secret every load device shares (a test site only; hashing one per device is slow). */
export const LOAD_SECRET = 'load-device-secret-Rr4eT7';
let loadHash: Promise<string> | null = null;

/**
 * The test site plus `count` access controllers at gate 1 (`ld-01` …) for steady load. The
 * embedded broker and console listen on the given ports, so a restarted gateway is found again.
 */
export async function loadSite(count: number, overrides: Record<string, unknown> = {}): Promise<{ site: Record<string, unknown>; devices: LoadDevice[] }> {
  loadHash ??= hashSecret(LOAD_SECRET, DEVICE_SECRET_COST);
  const hash = await loadHash;
  const site = await testSite(overrides);
  const devices: LoadDevice[] = Array.from({ length: count }, (_, i) => ({ id: `ld-${String(i + 1).padStart(2, '0')}`, secret: LOAD_SECRET }));
  site.devices = [...(site.devices as unknown[]), ...devices.map((d) => ({ id: d.id, kind: 'access-controller', transport: 'mqtt', location: { gate: 'gate-1' }, secretHash: hash }))];
  return { site, devices };
}

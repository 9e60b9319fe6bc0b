/**
 * Disk full, as SQLite sees it: the database may not grow (`PRAGMA max_page_count` set to its
 * current size on every connection of the gateway, so every commit that needs a new page fails with
 * SQLITE_FULL, exactly as on a full file system) while eight devices publish; then space comes
 * back. Expected, with the ledger: no PUBACK for what was not stored (no acknowledged event
 * lost), the gateway stays up and answers status, and once space is back the devices' traffic
 * is stored again and reaches the platform. Images and logs on a full disk are not covered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { PlatformPeer, ROOT } from '../cloud-sync/platform.ts';
import { DeviceLoad } from './device-load.ts';
import { Ledger, platformRefs, storedRefs, summarize } from './ledger.ts';
import { loadSite } from './load-site.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('disk full: the database cannot grow under device load', () => {
  const broker = new Mosquitto();
  const ledger = new Ledger();
  let gw: TestGateway;
  let peer: PlatformPeer;
  let load: DeviceLoad;

  beforeAll(async () => {
    await broker.start();
    peer = await new PlatformPeer(broker.url).connect();
    const { site, devices } = await loadSite(8, { platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0 } });
    gw = await startGateway(site);
    load = new DeviceLoad({ mqttUrl: gw.mqttUrl, devices, ledger, intervalMs: 20 });
  });

  afterAll(async () => {
    await load?.stop();
    await gw?.stop();
    await peer?.close();
    await broker.stop();
  });

  it('acknowledges nothing it could not store, stays up, and resumes when space is back', async () => {
    const { store } = gw.gateway.services;
    load.start();
    await waitFor(() => ledger.acked >= 200, 'the devices to get going');

    const pages = store.db.pragma('page_count', { simple: true }) as number;
    await store.setMaxPageCount(pages);
    const failedBefore = store.writeStats().failed;
    await waitFor(() => store.writeStats().failed > failedBefore + 50, 'commits failing with the disk full', 60_000);
    // Full: acknowledgements stop (allow the few in flight at the switch to finish).
    await new Promise((r) => setTimeout(r, 500));
    const ackedWhenFull = ledger.acked;
    await new Promise((r) => setTimeout(r, 2000));
    const ackedWhileFull = ledger.acked - ackedWhenFull;
    const fullCmp = ledger.compare('store', storedRefs(`${gw.dataDir}/gridguard.db`));
    const status = await gw.gateway.status();
    // The failures are visible to an operator: GET /api/status → store.writes.failed.
    expect((status.store as { writes: { failed: number } }).writes.failed).toBeGreaterThan(failedBefore);
    console.log(`disk full: ${store.writeStats().failed - failedBefore} writes failed, ${ackedWhileFull} PUBACKs in 2 s while full; ${summarize(fullCmp)}`);
    expect(fullCmp.lost, 'acknowledged while the disk was full, but not stored').toEqual([]);

    await store.setMaxPageCount(1073741823);
    const resumeFrom = ledger.acked;
    await waitFor(() => ledger.acked >= resumeFrom + 200, 'the devices to be acknowledged again once space is back', 60_000);
    await load.stop();
    await waitFor(() => store.outbox.count() === 0, 'the outbox to drain', 60_000);
    const storeCmp = ledger.compare('store', storedRefs(`${gw.dataDir}/gridguard.db`));
    const platform = ledger.compare('platform', platformRefs(peer.messages, `${ROOT}/events`));
    console.log(`disk full, after: ${summarize(storeCmp)}; ${summarize(platform)}; device reconnects ${load.stats.connects}`);
    expect(storeCmp.lost).toEqual([]);
    expect(storeCmp.duplicated).toEqual([]);
    expect(platform.lost).toEqual([]);
  }, 180_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OpcuaDriver } from '../../../device-drivers/opcua/opcua-driver.ts';
import { waitFor as waitWithin } from '../../helpers/net.ts';
import { opcuaDevice, opcuaServer, RecordingContext, tempPki } from './context.ts';
import { OpcuaFixture } from './fixture.ts';

/** Generous deadlines: the machine is shared; none of these is a timing assertion. */
const waitFor = <T>(check: () => T | Promise<T>, what: string, ms = 60_000) => waitWithin(check, what, ms);

describe('OPC-UA with SignAndEncrypt / Basic256Sha256 and a user name', () => {
  const fixture = new OpcuaFixture({ OPCUA_FIXTURE_USER: 'gridguard:Pw-7fK2q' });
  const drivers: OpcuaDriver[] = [];

  const start = async (password: string) => {
    const env = `GG_TEST_OPCUA_PW_${drivers.length}`;
    process.env[env] = password;
    const device = opcuaDevice({
      id: 'fire-1',
      kind: 'sensor',
      opcua: { server: 'panel', nodes: [{ nodeId: 'ns=1;s=FirePanel.Alarm', normal: false, events: [{ value: true, type: 'sensor.fire' }] }] },
    });
    const rec = new RecordingContext([device]);
    const pkiDir = tempPki();
    const server = opcuaServer({
      id: 'panel',
      endpoint: fixture.endpoint,
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      username: 'gridguard',
      passwordEnv: env,
      acceptUnknownServerCertificate: true,
      publishingIntervalMs: 50,
      samplingIntervalMs: 0,
      reconnectMinMs: 200,
      reconnectMaxMs: 2_000,
    });
    const driver = new OpcuaDriver(rec.ctx, [server], { pkiDir });
    drivers.push(driver);
    await driver.start();
    return { driver, rec, pkiDir };
  };

  beforeAll(() => fixture.start(), 180_000);
  afterAll(async () => {
    for (const d of drivers) await d.stop();
    await fixture.stop();
  });

  it('connects encrypted with the right password, keeps its certificates in the PKI folder, and delivers', async () => {
    const { driver, rec, pkiDir } = await start('Pw-7fK2q');
    await waitFor(() => driver.health().panel?.connected, 'encrypted session');
    expect(driver.health().panel!.detail).toContain('(SignAndEncrypt/Basic256Sha256)');
    await fixture.set('FirePanel.Alarm', true);
    await waitFor(() => rec.events.find((e) => e.type === 'sensor.fire'), 'fire event over the encrypted channel');
    expect(readdirSync(join(pkiDir, 'panel', 'own', 'certs')).length).toBeGreaterThan(0);
    // The server's certificate was trusted on first use, as configured for the test.
    expect(readdirSync(join(pkiDir, 'panel', 'trusted', 'certs')).length).toBeGreaterThan(0);
  }, 120_000);

  it('a wrong password keeps the link down with the server’s reason, and the gateway keeps trying', async () => {
    const { driver, rec } = await start('wrong');
    await waitFor(() => /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/.test(driver.health().panel?.detail ?? ''), 'refusal in the link detail');
    expect(driver.health().panel!.connected).toBe(false);
    expect(rec.seen).toEqual([]);
    expect(rec.logLines.some((l) => /OPC-UA server panel unreachable: .*Bad(UserAccessDenied|IdentityToken)/.test(l.msg))).toBe(true);
    expect(existsSync(join(fixture.pkiDir, 'server'))).toBe(true);
  }, 120_000);
});

/**
 * Secrets never appear in logs. This file first provokes the paths most likely to leak one
 * (secrets in the wrong CONNECT field, wrong passwords, another device's secret, a secret as a
 * payload), then greps every gateway.log that test gateways wrote on this machine
 * (test/helpers/gateway.ts: one per data dir gg-data-*) for every secret in TEST_SECRETS and for
 * any stored secret hash. `npm test` runs it alone after the rest of the suite, so it covers the
 * logs of every other test in the run.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGateway, testSite, TEST_SECRETS } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { RawMqtt } from '../conformance/raw-client.ts';

async function connackOf(port: number, clientId: string, username: string, password: string): Promise<number | 'closed'> {
  const raw = await RawMqtt.open(port);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId, username, password: Buffer.from(password) });
  await waitFor(() => raw.received.some((p) => p.cmd === 'connack') || raw.closed, 'CONNACK or close');
  const connack = raw.received.find((p) => p.cmd === 'connack') as { returnCode: number } | undefined;
  raw.kill();
  return connack ? connack.returnCode : 'closed';
}

/**
 * Logs of this run. `npm test` gives each run a TMPDIR of its own (test/run.ts); run alone, this
 * test reads the machine's temporary directory, where an old run's logs are not this code's.
 */
const RUN_WINDOW_MS = 2 * 60 * 60 * 1000;

function gatewayLogs(): string[] {
  const dir = tmpdir();
  const since = Date.now() - RUN_WINDOW_MS;
  return readdirSync(dir)
    .filter((name) => name.startsWith('gg-data-'))
    .map((name) => join(dir, name, 'gateway.log'))
    .filter((file) => {
      try {
        const stat = statSync(file);
        return stat.isFile() && stat.mtimeMs >= since;
      } catch {
        return false;
      }
    });
}

describe('secrets in logs', () => {
  it('no secret and no secret hash appears in any test gateway log', async () => {
    const gw = await startGateway(await testSite());
    const port = gw.gateway.ports.mqtt;
    try {
      const ac1 = TEST_SECRETS['ac-1']!;
      // The secret typed into the username field, into the client id, or given to another device.
      expect(await connackOf(port, 'ac-1', ac1, 'ac-1')).toBe(4);
      expect(await connackOf(port, ac1, ac1, ac1)).toBe(4);
      expect(await connackOf(port, 'ac-2', 'ac-2', ac1)).toBe(4);
      expect(await connackOf(port, 'guard-x', 'guard', TEST_SECRETS['dp-1']!)).toBe(4);
      // A good login whose client id differs: refused after the secret was checked.
      expect(await connackOf(port, 'not-ac-1', 'ac-1', ac1)).toBe(2);
      // A device that puts a secret into an event and onto a forbidden topic.
      const raw = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: Buffer.from(ac1) });
      raw.send({ cmd: 'publish', topic: 'devices/ac-1/events', payload: Buffer.from(JSON.stringify({ type: 'bogus', password: ac1 })), qos: 1, messageId: 1, retain: false, dup: false });
      await raw.next('puback');
      raw.send({ cmd: 'publish', topic: 'devices/ac-1/events', payload: Buffer.from(`not json ${ac1}`), qos: 1, messageId: 2, retain: false, dup: false });
      await raw.next('puback');
      raw.end();
    } finally {
      await gw.stop();
    }
    const ownLog = readFileSync(gw.logFile, 'utf8');
    expect(ownLog).toMatch(/login refused/); // the provoked paths did log

    const files = gatewayLogs();
    expect(files).toContain(gw.logFile);
    const secrets = Object.entries(TEST_SECRETS);
    const leaks: string[] = [];
    let bytes = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      bytes += text.length;
      for (const [owner, secret] of secrets) if (text.includes(secret)) leaks.push(`${file}: the secret of ${owner}`);
      const hash = /scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+/.exec(text);
      if (hash) leaks.push(`${file}: a secret hash ${hash[0].slice(0, 20)}…`);
    }
    console.log(`secrets-in-logs: ${files.length} gateway logs, ${(bytes / 1024).toFixed(0)} KiB grepped for ${secrets.length} secrets`);
    expect(leaks).toEqual([]);
  });
});

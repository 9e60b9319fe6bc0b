/**
 * broker.testBench.allowAnonymous exists for external conformance suites. A production site can
 * never turn it on: the config is refused at load, naming the line; only a site marked
 * environment: test-bench may, and then the gateway says so loudly at start.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigText } from '../../config/load.ts';
import { startGateway, testSite } from '../helpers/gateway.ts';
import { RawMqtt } from '../conformance/raw-client.ts';

async function siteWith(extra: Record<string, unknown>, testBench?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const site = { ...(await testSite()), ...extra };
  if (testBench) site.broker = { ...(site.broker as Record<string, unknown>), testBench };
  return site;
}

function loadError(site: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfigText(stringify(site), 'site.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the config was accepted');
}

describe('the test-bench switch', () => {
  it('is refused in a site without environment (production by default), naming file, line and path', async () => {
    const error = loadError(await siteWith({}, { allowAnonymous: true }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ source: 'site.yaml', path: 'broker.testBench.allowAnonymous' });
    expect(error.issues[0]!.line).toBeGreaterThan(0);
    expect(error.message).toMatch(/only allowed on a test bench \(environment: test-bench\); this site is "production"/);
  });

  it('is refused in a site explicitly marked production', async () => {
    const error = loadError(await siteWith({ environment: 'production' }, { allowAnonymous: true }));
    expect(error.issues.map((i) => i.path)).toEqual(['broker.testBench.allowAnonymous']);
  });

  it('cannot be unlocked from the environment, and unknown environments are refused', async () => {
    const site = await siteWith({}, { allowAnonymous: true });
    expect(loadError(site, { GRIDGUARD_ENVIRONMENT: 'test-bench', NODE_ENV: 'test' }).issues.map((i) => i.path)).toEqual(['broker.testBench.allowAnonymous']);
    expect(loadError(await siteWith({ environment: 'staging' })).issues[0]).toMatchObject({ path: 'environment' });
  });

  it('is off by default even on a test bench: anonymous clients are still refused', async () => {
    const gw = await startGateway(await siteWith({ environment: 'test-bench' }));
    try {
      const raw = await RawMqtt.open(gw.gateway.ports.mqtt);
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'anon' });
      expect((await raw.next('connack')).returnCode).toBe(5);
      expect(readFileSync(gw.logFile, 'utf8')).not.toMatch(/TEST BENCH/);
    } finally {
      await gw.stop();
    }
  });

  it('on a test bench it lets anonymous clients in, after a loud error-level line at start', async () => {
    const gw = await startGateway(await siteWith({ environment: 'test-bench' }, { allowAnonymous: true }));
    try {
      const lines = readFileSync(gw.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const loud = lines.find((l) => /TEST BENCH: ANONYMOUS MQTT ACCESS IS ON/.test(l.msg));
      expect(loud?.level).toBe(50); // pino "error": shows in any production log level
      expect(loud.msg).toMatch(/NEVER RUN THIS CONFIG ON A REAL SITE/);
      const client = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'bench-anon', protocolVersion: 4, reconnectPeriod: 0 });
      await client.endAsync();
    } finally {
      await gw.stop();
    }
  });
});

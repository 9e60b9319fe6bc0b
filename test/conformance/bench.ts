import mqtt, { type MqttClient } from 'mqtt';
import { testSite } from '../helpers/gateway.ts';

/** The test site marked as a test bench with anonymous access on: what an external conformance suite gets. */
export async function benchSite(broker: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const site = await testSite();
  site.environment = 'test-bench';
  site.broker = { ...(site.broker as Record<string, unknown>), testBench: { allowAnonymous: true }, ...broker };
  return site;
}

/** An anonymous MQTT 3.1.1 client of the test bench. */
export function benchClient(url: string, clientId: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...extra });
}

/** Collects messages as they arrive; tests wait on the array, never on time. */
export function collect(client: MqttClient): { topic: string; payload: string; packet: mqtt.IPublishPacket }[] {
  const got: { topic: string; payload: string; packet: mqtt.IPublishPacket }[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
  return got;
}

export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

import type { MqttClient } from 'mqtt';
import { connectDevice, publishEvent } from '../helpers/gateway.ts';

/**
 * A mixed workload from real MQTT devices: `perDevice` access events from each of ac-1 and
 * ac-2 (kept under the broker's per-client burst), and alerts in between: door forced (twice on
 * ac-1, so the second merges into an alert update), a watchlisted card, smoke and SOS.
 * Resolves once the gateway acknowledged (committed) every publish.
 */
export async function mixedTraffic(mqttUrl: string, perDevice: number): Promise<void> {
  const ids = ['ac-1', 'ac-2', 'smoke-1', 'dp-1'] as const;
  const devices = new Map<string, MqttClient>();
  for (const id of ids) devices.set(id, await connectDevice(mqttUrl, id));
  const send = (id: string, event: Record<string, unknown>) => publishEvent(devices.get(id)!, id, event);
  try {
    await send('ac-1', { type: 'door.forced' });
    for (let start = 0; start < perDevice; start += 25) {
      const burst: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(perDevice, start + 25); i++) {
        burst.push(send('ac-1', { type: 'access.granted', cardNo: '1001' }), send('ac-2', { type: 'access.granted', cardNo: '1002' }));
      }
      await Promise.all(burst);
      if (start === 50) await send('ac-2', { type: 'access.denied', cardNo: '6666' });
      if (start === 100) await send('smoke-1', { type: 'sensor.smoke' });
    }
    await send('dp-1', { type: 'doorplate.sos' });
    await send('ac-1', { type: 'door.forced' });
  } finally {
    for (const client of devices.values()) await client.endAsync();
  }
}

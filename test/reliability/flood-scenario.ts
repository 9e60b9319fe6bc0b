import mqttPacket from 'mqtt-packet';
import { connect, type Socket } from 'node:net';
import { TEST_SECRETS, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { AlertProbe, percentile } from './alert-probe.ts';

export interface FloodFigures {
  floodSent: number;
  floodAcked: number;
  floodStored: number;
  floodSeconds: number;
  /** PUBLISHes that had to wait for a token (rejected mqtt/rate-limited). */
  throttled: number;
  probes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  peakRssMiB: number;
}

/**
 * One device (ac-1) writes valid QoS 1 events as fast as its TCP connection takes them, without
 * waiting for PUBACKs, while a well-behaved device (ac-2) sends door.forced one at a time and a
 * guard measures when each alert arrives. The flooder stops after `floodMs` or `maxPublishes`.
 */
export async function runFlood(gw: TestGateway, options: { floodMs: number; maxPublishes: number; probes: number; probeGapMs?: number }): Promise<FloodFigures> {
  const flooder = await floodingDevice(gw.gateway.ports.mqtt, 'ac-1');
  const probe = new AlertProbe(gw.mqttUrl, 'ac-2');
  await probe.start();
  const storedBefore = storedOf(gw, 'ac-1');
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

  const started = performance.now();
  const flooding = flooder.flood(options.floodMs, options.maxPublishes);
  // Let the flood build up before measuring.
  await waitFor(() => flooder.sent > 100, 'the flood to start');
  for (let i = 0; i < options.probes; i++) {
    await probe.probe();
    if (options.probeGapMs) await new Promise((r) => setTimeout(r, options.probeGapMs));
  }
  await flooding;
  const floodSeconds = (performance.now() - started) / 1000;
  flooder.kill();
  await probe.stop();
  clearInterval(rssTimer);
  const rejected = (await gw.gateway.status()).rejected as Record<string, number>;
  const lat = probe.latenciesMs;
  return {
    floodSent: flooder.sent,
    floodAcked: flooder.acked,
    floodStored: storedOf(gw, 'ac-1') - storedBefore,
    floodSeconds,
    throttled: rejected['mqtt/rate-limited'] ?? 0,
    probes: lat.length,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: Math.max(...lat),
    peakRssMiB: peakRss / 2 ** 20,
  };
}

export function storedOf(gw: TestGateway, deviceId: string): number {
  const row = gw.gateway.services.store.db.prepare('SELECT COUNT(*) AS n FROM events WHERE device_id = ?').get(deviceId) as { n: number };
  return row.n;
}

/** A device that writes PUBLISH packets as fast as the socket drains, counting PUBACKs. */
async function floodingDevice(port: number, id: string) {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const state = { sent: 0, acked: 0, connacked: false, closed: false };
  parser.on('packet', (p) => {
    if (p.cmd === 'puback') state.acked++;
    if (p.cmd === 'connack') state.connacked = (p as mqttPacket.IConnackPacket).returnCode === 0;
  });
  socket.on('data', (d) => parser.parse(d));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => (state.closed = true));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 60, username: id, password: Buffer.from(TEST_SECRETS[id]!) }));
  await waitFor(() => state.connacked, `CONNACK for flooder ${id}`);
  return {
    get sent() {
      return state.sent;
    },
    get acked() {
      return state.acked;
    },
    async flood(ms: number, max: number): Promise<void> {
      const until = performance.now() + ms;
      while (!state.closed && state.sent < max && performance.now() < until) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 50 && state.sent < max; i++) {
          state.sent++;
          const payload = Buffer.from(JSON.stringify({ type: 'access.granted', cardNo: '1001', seq: state.sent }));
          batch.push(mqttPacket.generate({ cmd: 'publish', topic: `devices/${id}/events`, payload, qos: 1, messageId: (state.sent % 65_535) + 1, retain: false, dup: false }));
        }
        // Write as fast as TCP takes it: wait only when the kernel buffer is full.
        if (!socket.write(Buffer.concat(batch))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(t);
              socket.off('drain', done);
              resolve();
            };
            const t = setTimeout(done, 100);
            socket.once('drain', done);
          });
        }
      }
    },
    kill(): void {
      socket.destroy();
    },
  };
}

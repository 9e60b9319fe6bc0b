import { z } from 'zod';
import type { TimerHandle } from '../../core/clock.ts';
import { defineRule } from '../rule-types.ts';

/**
 * 设备离线: a device stopped sending heartbeats or its connection dropped and did not come back
 * within `graceSeconds` (a reboot is not an outage). When `gatewayAlertAt` or more devices go
 * offline within `burstSeconds` of each other, the cause is upstream (the gateway's network, power
 * or broker), so one gateway-level alert is raised and the per-device alerts are suppressed.
 *
 * The grace timers are deliberately not durable: after a gateway restart the device monitor gives
 * every device a fresh grace period and re-announces the ones that stay away.
 */
export const deviceOffline = defineRule({
  type: 'device-offline',
  title: '设备离线',
  params: z
    .object({
      graceSeconds: z.number().int().min(0).max(86_400).default(60),
      gatewayAlertAt: z.number().int().min(2).max(10_000).default(5).describe('Devices offline together that make one gateway-level alert'),
      burstSeconds: z.number().int().min(1).max(3600).default(120),
    })
    .strict(),
  defaults: { severity: 'low', category: 'property', cooldownSeconds: 3600 },
  create(rule, ctx) {
    const { graceSeconds, gatewayAlertAt, burstSeconds } = rule.params;
    const pending = new Map<string, TimerHandle>();
    /** Devices currently offline, with the time they went offline. */
    const offlineSince = new Map<string, { atMs: number; reason: string }>();

    const burstAround = (atMs: number) =>
      [...offlineSince.entries()].filter(([, o]) => Math.abs(o.atMs - atMs) <= burstSeconds * 1000).map(([id]) => id);

    const raiseGateway = (deviceIds: string[]) => {
      const { place, codes } = { place: { label: ctx.site.config.site.communityName }, codes: ctx.site.placeOf('').codes };
      const names = deviceIds.map((id) => ctx.site.device(id)?.name ?? id);
      ctx.raise({
        severity: 'high',
        message: `网关下 ${deviceIds.length} 台设备同时离线 (${names.slice(0, 5).join('、')}${names.length > 5 ? ' 等' : ''}), 疑似网络/供电故障`,
        details: { thresholds: { gatewayAlertAt, burstSeconds, graceSeconds }, devices: deviceIds, gatewayId: ctx.site.gatewayId },
        mergeKey: '__gateway',
        evidence: [],
        deviceId: null,
        place,
        codes: { ...codes, addressCode: ctx.site.config.site.addressCode ?? null },
        subject: null,
      });
    };

    const raiseDevice = (deviceId: string, reason: string) => {
      const device = ctx.site.device(deviceId);
      if (!device) return;
      const { place, codes } = ctx.site.placeOf(device.id);
      if (!ctx.inScope({ deviceId: device.id, place }) || !ctx.inSchedule(ctx.clock.now())) return;
      ctx.raise({
        message: `设备 ${device.name ?? device.id} (${place.label}) 离线: ${reason}`,
        details: { reason, heartbeatSeconds: device.heartbeatSeconds, thresholds: { graceSeconds } },
        mergeKey: device.id,
        evidence: [],
        deviceId: device.id,
        place,
        codes,
        subject: null,
      });
    };

    const judge = (deviceId: string) => {
      const offline = offlineSince.get(deviceId);
      if (!offline) return;
      const burst = burstAround(offline.atMs);
      if (burst.length >= gatewayAlertAt) raiseGateway(burst);
      else raiseDevice(deviceId, offline.reason);
    };

    return {
      eventTypes: new Set(),
      onDeviceStatus(status) {
        const timer = pending.get(status.deviceId);
        if (status.online) {
          if (timer) ctx.clock.clearTimeout(timer);
          pending.delete(status.deviceId);
          offlineSince.delete(status.deviceId);
          return;
        }
        if (timer) return;
        offlineSince.set(status.deviceId, { atMs: Date.parse(status.at), reason: status.reason });
        if (graceSeconds === 0) return judge(status.deviceId);
        pending.set(
          status.deviceId,
          ctx.clock.setTimeout(() => {
            pending.delete(status.deviceId);
            judge(status.deviceId);
          }, graceSeconds * 1000),
        );
      },
      stop() {
        for (const t of pending.values()) ctx.clock.clearTimeout(t);
        pending.clear();
      },
    };
  },
});

import { z } from 'zod';
import type { TimerHandle } from '../../core/clock.ts';
import { defineRule } from '../rule-types.ts';

/**
 * 设备离线: a device stopped sending heartbeats or its connection dropped and did not come back
 * within `graceSeconds` (a reboot is not an outage). The device monitor judges devices only after
 * a grace period from gateway start, so a gateway restart does not raise one alert per device.
 */
export const deviceOffline = defineRule({
  type: 'device-offline',
  title: '设备离线',
  params: z.object({ graceSeconds: z.number().int().min(0).max(86_400).default(60) }).strict(),
  defaults: { severity: 'low', category: 'property', cooldownSeconds: 3600 },
  create(rule, ctx) {
    const pending = new Map<string, TimerHandle>();
    const raise = (deviceId: string, reason: string) => {
      const device = ctx.site.device(deviceId);
      if (!device) return;
      const { place, codes } = ctx.site.placeOf(device.id);
      if (!ctx.inScope({ deviceId: device.id, place }) || !ctx.inSchedule(ctx.clock.now())) return;
      ctx.raise({
        message: `设备 ${device.name ?? device.id} (${place.label}) 离线: ${reason}`,
        details: { reason, heartbeatSeconds: device.heartbeatSeconds, graceSeconds: rule.params.graceSeconds },
        mergeKey: device.id,
        evidence: [],
        deviceId: device.id,
        place,
        codes,
        subject: null,
      });
    };
    return {
      onDeviceStatus(status) {
        const timer = pending.get(status.deviceId);
        if (status.online) {
          if (timer) ctx.clock.clearTimeout(timer);
          pending.delete(status.deviceId);
          return;
        }
        if (timer) return;
        if (rule.params.graceSeconds === 0) return raise(status.deviceId, status.reason);
        pending.set(
          status.deviceId,
          ctx.clock.setTimeout(() => {
            pending.delete(status.deviceId);
            raise(status.deviceId, status.reason);
          }, rule.params.graceSeconds * 1000),
        );
      },
      stop() {
        for (const t of pending.values()) ctx.clock.clearTimeout(t);
        pending.clear();
      },
    };
  },
});

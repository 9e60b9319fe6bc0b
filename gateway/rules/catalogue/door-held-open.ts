import { z } from 'zod';
import type { TimerHandle } from '../../core/clock.ts';
import type { DeviceEvent } from '../../core/model.ts';
import { defineRule } from '../rule-types.ts';

/**
 * 门长时间未关: a door reported held open by its controller, or opened and not closed within
 * `seconds` (the gateway times it from door.opened / door.closed).
 */
export const doorHeldOpen = defineRule({
  type: 'door-held-open',
  title: '门长时间未关',
  params: z.object({ seconds: z.number().int().min(5).max(86_400).default(60) }).strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 600 },
  create(rule, ctx) {
    const timers = new Map<string, TimerHandle>();
    const raise = (event: DeviceEvent, seconds: number) =>
      ctx.raise({
        message: `${event.place.label} 门未关超过 ${seconds} 秒`,
        details: { thresholdSeconds: rule.params.seconds, openSeconds: seconds },
        mergeKey: event.deviceId,
        evidence: [event.id],
        deviceId: event.deviceId,
        place: event.place,
        codes: event.codes,
        subject: null,
      });
    const cancel = (deviceId: string) => {
      const t = timers.get(deviceId);
      if (t) ctx.clock.clearTimeout(t);
      timers.delete(deviceId);
    };
    return {
      onEvent(event) {
        if (event.type === 'door.held-open') {
          const reported = Number(event.payload.seconds);
          raise(event, Number.isFinite(reported) && reported > 0 ? reported : rule.params.seconds);
        } else if (event.type === 'door.opened') {
          cancel(event.deviceId);
          timers.set(
            event.deviceId,
            ctx.clock.setTimeout(() => {
              timers.delete(event.deviceId);
              if (ctx.inSchedule(ctx.clock.now())) raise(event, rule.params.seconds);
            }, rule.params.seconds * 1000),
          );
        } else if (event.type === 'door.closed') {
          cancel(event.deviceId);
        }
      },
      stop() {
        for (const id of [...timers.keys()]) cancel(id);
      },
    };
  },
});

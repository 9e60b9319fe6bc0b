import { z } from 'zod';
import type { DeviceEvent } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs } from '../subjects.ts';

interface Open {
  eventId: string;
  openedMs: number;
}

/**
 * 门长时间未关: a door reported held open by its controller, or opened and not closed within
 * `seconds` (the gateway times it from door.opened / door.closed with a durable timer). Opening
 * and closing are tracked at all hours; the schedule gates the alert.
 */
export const doorHeldOpen = defineRule({
  type: 'door-held-open',
  title: '门长时间未关',
  params: z.object({ seconds: z.number().int().min(5).max(86_400).default(60) }).strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 600 },
  filter: 'alerts',
  create(rule, ctx) {
    const { seconds } = rule.params;
    const raise = (deviceId: string, place: DeviceEvent['place'], codes: DeviceEvent['codes'], eventId: string, openSeconds: number, at: number) =>
      ctx.raise({
        message: `${place.label} 门未关超过 ${openSeconds} 秒 (${hhmm(at)} 打开, 阈值 ${seconds} 秒)`,
        details: { thresholds: { seconds }, openSeconds },
        mergeKey: deviceId,
        evidence: [eventId],
        deviceId,
        place,
        codes,
        subject: null,
      });
    return {
      eventTypes: new Set(['door.held-open', 'door.opened', 'door.closed'] as const),
      onEvent(event) {
        if (!ctx.inScope(event)) return;
        if (event.type === 'door.held-open') {
          const reported = Number(event.payload.seconds);
          const openSeconds = Number.isFinite(reported) && reported > 0 ? reported : seconds;
          raise(event.deviceId, event.place, event.codes, event.id, openSeconds, eventMs(event) - openSeconds * 1000);
        } else if (event.type === 'door.opened') {
          const openedMs = eventMs(event);
          ctx.timers.at(event.deviceId, openedMs + seconds * 1000, { eventId: event.id, openedMs } satisfies Open);
        } else if (event.type === 'door.closed') {
          ctx.timers.cancel(event.deviceId);
        }
      },
      onTimer(deviceId, data, lateMs) {
        // Fell due while the gateway was down: the door.closed may have been missed, so stay quiet.
        if (lateMs > 30_000) {
          ctx.log.info({ deviceId, lateMs }, 'door-held-open check that fell due during downtime dropped');
          return;
        }
        const open = data as Open;
        const { place, codes } = ctx.site.placeOf(deviceId);
        raise(deviceId, place, codes, open.eventId, Math.round((ctx.clock.now() - open.openedMs) / 1000), open.openedMs);
      },
    };
  },
});

import { z } from 'zod';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';

/** 门被强行打开: the controller reports the door opened without a valid release. */
export const doorForced = defineRule({
  type: 'door-forced',
  title: '门被强行打开',
  params: z.object({}).strict(),
  defaults: { severity: 'high', category: 'property', cooldownSeconds: 300 },
  create(_rule, ctx) {
    return {
      eventTypes: new Set(['door.forced'] as const),
      onEvent(event) {
        if (event.type !== 'door.forced') return;
        ctx.raise({
          message: `${event.place.label} 门被强行打开 (${hhmm(eventMs(event))})`,
          details: {},
          mergeKey: event.deviceId,
          evidence: [event.id],
          ...whereOf(event),
          subject: null,
        });
      },
    };
  },
});

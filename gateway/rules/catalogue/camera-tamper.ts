import { z } from 'zod';
import { hhmm } from '../circle.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs, whereOf } from '../subjects.ts';

const KINDS: Record<string, string> = { occlusion: '视频遮挡', moved: '镜头移位', defocus: '画面虚焦', signal: '视频信号丢失', scene: '场景变更' };

/** 摄像机遮挡/破坏: a camera reports occlusion, moving, defocus or loss of signal. Merged per camera. */
export const cameraTamper = defineRule({
  type: 'camera-tamper',
  title: '摄像机遮挡/破坏',
  params: z.object({}).strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 1800 },
  create(_rule, ctx) {
    return {
      eventTypes: new Set(['camera.tamper'] as const),
      onEvent(event) {
        if (event.type !== 'camera.tamper') return;
        const kind = typeof event.payload.kind === 'string' ? event.payload.kind : 'occlusion';
        const device = ctx.site.device(event.deviceId);
        ctx.raise({
          message: `摄像机 ${device?.name ?? event.deviceId} (${event.place.label}) ${KINDS[kind] ?? `异常 (${kind})`} (${hhmm(eventMs(event))})`,
          details: { kind },
          mergeKey: event.deviceId,
          evidence: [event.id],
          ...whereOf(event),
          subject: null,
        });
      },
    };
  },
});

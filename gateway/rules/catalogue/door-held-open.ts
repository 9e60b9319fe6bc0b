import { z } from 'zod';
import type { DeviceEvent } from '../../core/model.ts';
import { hhmm } from '../circle.ts';
import { KEPT_PREFIX } from '../rule-state.ts';
import { defineRule } from '../rule-types.ts';
import { eventMs } from '../subjects.ts';

/** A check that fell due longer ago than this while the gateway was down is dropped: the door.closed may have been missed. */
const LATE_MS = 30_000;

/**
 * 门长时间未关: a door reported held open by its controller, or opened and not closed within
 * `seconds`. Opening and closing are tracked at all hours; the schedule gates the alert.
 *
 * Which doors are open since when is rebuilt from the door events of the last `seconds` + 30 s
 * (event-sourced): doors open and close on nearly every passage, and a durable timer per
 * opening cost a state write each. What the events cannot tell, that a door's opening was
 * already checked, is kept under `k:<device>` until the door closes.
 */
export const doorHeldOpen = defineRule({
  type: 'door-held-open',
  title: '门长时间未关',
  params: z.object({ seconds: z.number().int().min(5).max(86_400).default(60) }).strict(),
  defaults: { severity: 'medium', category: 'property', cooldownSeconds: 600 },
  filter: 'alerts',
  rebuildLookbackMs: (p) => p.seconds * 1000 + LATE_MS,
  create(rule, ctx) {
    const { seconds } = rule.params;
    const holdMs = seconds * 1000;
    /**
     * Doors → the event that opened them (the latest, for a door opened again without a close),
     * or null while closed. A closed door keeps its entry: deleting and re-adding a key on every
     * passage made V8 rebuild the small table over and over (22 of the 480 MB the rules benchmark's
     * B allocated in a run).
     */
    const doors = new Map<string, DeviceEvent | null>();
    /** Doors whose current opening was checked (device → opening event id), as kept on disk. */
    const checked = new Map<string, string>();
    for (const [key, eventId] of ctx.state.entries<string>(KEPT_PREFIX)) checked.set(key.slice(KEPT_PREFIX.length), eventId);
    let live = false;

    const forgetCheck = (deviceId: string) => {
      if (checked.delete(deviceId)) ctx.state.delete(KEPT_PREFIX + deviceId);
    };
    const raise = (event: DeviceEvent, openSeconds: number, at: number) =>
      ctx.raise({
        message: `${event.place.label} 门未关超过 ${openSeconds} 秒 (${hhmm(at)} 打开, 阈值 ${seconds} 秒)`,
        details: { thresholds: { seconds }, openSeconds },
        mergeKey: event.deviceId,
        evidence: [event.id],
        deviceId: event.deviceId,
        place: event.place,
        codes: event.codes,
        subject: null,
      });

    return {
      eventTypes: new Set(['door.held-open', 'door.opened', 'door.closed'] as const),
      start() {
        live = true;
        // Openings rebuilt by the replay are checked now: due, late, or armed for later.
        if ([...doors.values()].some((opening) => opening !== null)) ctx.wakeup.arm(ctx.clock.now());
      },
      stop() {
        live = false;
      },
      onEvent(event) {
        if (!ctx.inScope(event)) return;
        const deviceId = event.deviceId;
        if (event.type === 'door.opened') {
          doors.set(deviceId, event);
          if (checked.size !== 0 && checked.get(deviceId) !== event.id) forgetCheck(deviceId);
          if (live) ctx.wakeup.arm(eventMs(event) + holdMs);
        } else if (event.type === 'door.closed') {
          if (doors.get(deviceId)) doors.set(deviceId, null);
          if (checked.size !== 0) forgetCheck(deviceId);
        } else if (event.type === 'door.held-open') {
          const reported = Number(event.payload.seconds);
          const openSeconds = Number.isFinite(reported) && reported > 0 ? reported : seconds;
          raise(event, openSeconds, eventMs(event) - openSeconds * 1000);
        }
      },
      onWake() {
        const now = ctx.clock.now();
        let next = Infinity;
        // A wake-up comes only when an opening falls due: looking at every door (a few hundred at most) costs little.
        for (const [deviceId, opening] of doors) {
          if (opening === null) continue;
          const openedMs = eventMs(opening);
          const due = openedMs + holdMs;
          if (due > now) {
            next = Math.min(next, due);
            continue;
          }
          doors.set(deviceId, null);
          // Checked before a restart (the replay rebuilt the opening): once per opening.
          if (checked.get(deviceId) === opening.id) continue;
          checked.set(deviceId, opening.id);
          ctx.state.set(KEPT_PREFIX + deviceId, opening.id);
          if (now - due > LATE_MS) {
            ctx.log.info({ deviceId, lateMs: now - due }, 'door-held-open check that fell due during downtime dropped');
            continue;
          }
          raise(opening, Math.round((now - openedMs) / 1000), openedMs);
        }
        if (next !== Infinity) ctx.wakeup.arm(next);
      },
    };
  },
});

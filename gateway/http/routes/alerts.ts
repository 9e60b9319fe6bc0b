import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AlertError, type AlertService } from '../../alerts/alert-service.ts';
import type { EventBus } from '../../core/bus.ts';
import { ALERT_STATUSES, CATEGORIES, SEVERITIES } from '../../core/model.ts';
import type { Store } from '../../store/store.ts';

const csv = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(values)))
    .optional();

const ListQuery = z.object({
  status: csv(ALERT_STATUSES),
  severity: csv(SEVERITIES),
  category: csv(CATEGORIES),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  before: z.string().max(64).optional(),
});

const TransitionBody = z
  .object({
    to: z.enum(ALERT_STATUSES),
    /** Optional and checked: the actor is always the logged-in user. */
    by: z.string().min(1).max(64).optional(),
    note: z.string().max(2000).optional(),
  })
  .strict();

/** Alerts: list, detail, live stream (SSE with Last-Event-ID resume) and status transitions. */
export function alertRoutes(deps: { store: Store; alerts: AlertService; bus: EventBus; heartbeatMs?: number }) {
  return (app: FastifyInstance) => {
    app.get('/api/alerts', { config: { access: 'alerts' } }, async (request, reply) => {
      const q = ListQuery.safeParse(request.query);
      if (!q.success) return reply.status(400).send({ error: `bad query: ${q.error.issues[0]!.path.join('.')}: ${q.error.issues[0]!.message}` });
      return { alerts: deps.store.alerts.list(q.data) };
    });

    app.get('/api/alerts/stream', { config: { access: 'alerts' } }, (request, reply) => {
      const header = request.headers['last-event-id'];
      const fromQuery = (request.query as { lastEventId?: string }).lastEventId;
      const parsed = Number(Array.isArray(header) ? header[0] : (header ?? fromQuery));
      // Without Last-Event-ID a new client starts from now; with it, from where it left off.
      let lastSent = Number.isFinite(parsed) && parsed >= 0 && (header !== undefined || fromQuery !== undefined) ? parsed : deps.store.alerts.lastSeq();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 2000\n\n`);
      let busy = false;
      const flush = () => {
        if (busy || res.destroyed) return;
        busy = true;
        try {
          for (;;) {
            const entries = deps.store.alerts.logSince(lastSent, 200);
            for (const e of entries) {
              res.write(`id: ${e.seq}\nevent: alert\ndata: ${JSON.stringify({ change: e.change, alert: e.alert })}\n\n`);
              lastSent = e.seq;
            }
            if (entries.length < 200) break;
          }
        } finally {
          busy = false;
        }
      };
      const offRaised = deps.bus.on('alert.raised', flush);
      const offUpdated = deps.bus.on('alert.updated', flush);
      // A stream outlives its request: when the session behind it ends (logout, user disabled,
      // expiry), the next heartbeat ends the stream too, and the browser's retry gets a 401.
      const heartbeat = setInterval(() => {
        if (request.stillAuthorized && !request.stillAuthorized()) res.end();
        else res.write(`: keep-alive\n\n`);
      }, deps.heartbeatMs ?? 15_000);
      const close = () => {
        offRaised();
        offUpdated();
        clearInterval(heartbeat);
      };
      request.raw.on('close', close);
      res.on('close', close);
      flush();
    });

    app.get('/api/alerts/:id', { config: { access: 'alerts' } }, async (request, reply) => {
      const alert = deps.alerts.get((request.params as { id: string }).id);
      if (!alert) return reply.status(404).send({ error: 'no such alert' });
      // A subject (a person, their card or plate) is personal data: on record before it is shown.
      if (alert.subject && request.principal) {
        const identity = alert.subject.identity;
        const target = identity?.personId ? `person:${identity.personId}` : identity?.watch ? `watch:${identity.watch.entryId}` : `alert:${alert.id}`;
        await app.audit?.record({ actor: request.principal.username, role: request.principal.role, action: 'view.alert-subject', target, reason: `alert ${alert.id}`, ip: request.ip });
      }
      const evidence = alert.evidence.map((id) => deps.store.events.get(id)).filter(Boolean);
      return { alert, evidence };
    });

    app.post('/api/alerts/:id/transition', { config: { access: 'alerts' } }, async (request, reply) => {
      const body = TransitionBody.safeParse(request.body);
      if (!body.success) return reply.status(400).send({ error: `bad request: ${body.error.issues[0]!.path.join('.')}: ${body.error.issues[0]!.message}` });
      const by = request.principal?.username;
      if (!by) return reply.status(401).send({ error: 'login required' });
      if (body.data.by !== undefined && body.data.by !== by) return reply.status(400).send({ error: `bad request: by must be the logged-in user (${by})` });
      try {
        const alert = await deps.alerts.transition((request.params as { id: string }).id, body.data.to, { by, note: body.data.note ?? null, source: 'local' });
        return { alert };
      } catch (error) {
        if (error instanceof AlertError) return reply.status(error.code === 'not-found' ? 404 : 409).send({ error: error.message, code: error.code });
        throw error;
      }
    });
  };
}

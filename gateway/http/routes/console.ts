import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { GatewayConfig } from '../../../config/schema/index.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { ImageSources } from '../../console/images.ts';
import type { DeviceEvent } from '../../core/model.ts';
import type { SiteModel } from '../../site/site-model.ts';
import type { Store } from '../../store/store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The audit log, for route modules that show personal data (set by the console module). */
    audit?: AuditLog;
  }
}

export const CONSOLE_ROOT = fileURLToPath(new URL('../../console/public/', import.meta.url));

const Why = z.string().trim().max(200).optional();
const ExportQuery = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  device: z.string().max(64).optional(),
  type: z.string().max(64).optional(),
  subject: z.string().max(80).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  reason: z.string().trim().min(2, 'an export needs a reason').max(200),
});
const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  before: z.coerce.number().int().min(1).optional(),
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
});

const SECRET_KEYS = new Set(['secretHash', 'passwordHash', 'password', 'key', 'privateKey', 'token']);

/** The config as an admin may see it: secrets out, personal data reduced to counts. */
export function redactedConfig(config: GatewayConfig): Record<string, unknown> {
  const scrub = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(scrub);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) ? '[redacted]' : scrub(v)]));
    }
    return value;
  };
  const { registry, watchlist, ...rest } = config;
  return {
    ...(scrub(rest) as Record<string, unknown>),
    registry: { residents: registry.residents.length, visitors: registry.visitors.length },
    watchlist: watchlist.length,
  };
}

function csvCell(value: unknown): string {
  const s = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // A leading = + - @ would run as a formula in a spreadsheet.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function eventsCsv(events: DeviceEvent[]): string {
  const header = ['id', 'receivedAt', 'deviceTime', 'deviceId', 'type', 'place', 'addressCode', 'communityGridCode', 'policeGridCode', 'identity', 'name', 'subjects'];
  const lines = [header.join(',')];
  for (const e of events) {
    lines.push(
      [e.id, e.receivedAt, e.deviceTime, e.deviceId, e.type, e.place.label, e.codes.addressCode, e.codes.communityGridCode, e.codes.policeGridCode, e.identity?.kind, e.identity?.name, e.subjects]
        .map(csvCell)
        .join(','),
    );
  }
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

/**
 * The console: its static files, the people pages, evidence images, event export, the config
 * view and the audit log. Every view of personal data is on record before it is sent.
 */
export function consoleRoutes(deps: { store: Store; site: SiteModel; config: GatewayConfig; audit: AuditLog; images: ImageSources; language: 'zh-CN' | 'en' }) {
  return async (app: FastifyInstance) => {
    app.decorate('audit', deps.audit);
    const actor = (request: FastifyRequest) => ({ actor: request.principal!.username, role: request.principal!.role, ip: request.ip });

    // wildcard: false lists the files once at start, so /api/* paths that do not exist stay 404s.
    await app.register(fastifyStatic, {
      root: CONSOLE_ROOT,
      prefix: '/',
      wildcard: false,
      index: 'index.html',
      cacheControl: true,
      maxAge: 0,
      setHeaders: (res) => {
        res.header('x-content-type-options', 'nosniff');
        res.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
      },
    });

    app.get('/api/console/site', { config: { access: 'session' } }, async () => {
      const s = deps.config.site;
      return {
        gatewayId: s.gatewayId,
        communityName: s.communityName,
        codes: { communityGridCode: s.communityGridCode, policeGridCode: s.policeGridCode },
        language: deps.language,
        // Alert messages are written in China Standard Time (gateway/core/time.ts); the console shows times the same way.
        timeZone: 'Asia/Shanghai',
        gates: s.gates.map((g) => ({ id: g.id, name: g.name })),
        buildings: s.buildings.map((b) => ({ id: b.id, name: b.name, units: b.units.map((u) => ({ id: u.id, name: u.name })) })),
      };
    });

    app.get('/api/people/watchlist', { config: { access: 'people' } }, async (request) => {
      const why = Why.safeParse((request.query as { why?: string }).why);
      const entries = deps.store.registry.watchlist();
      await deps.audit.record({ ...actor(request), action: 'view.watchlist', target: 'watchlist', reason: why.success ? (why.data ?? null) : null, details: { entries: entries.length } });
      return { watchlist: entries };
    });

    app.get('/api/people/care', { config: { access: 'people' } }, async (request) => {
      const why = Why.safeParse((request.query as { why?: string }).why);
      const people = deps.store.registry
        .persons()
        .filter((p) => p.care)
        .map((p) => ({ id: p.id, name: p.name, kind: p.kind, relation: p.relation ?? null, houses: p.houses.map((h) => ({ id: h, label: houseLabel(deps.site, h), addressCode: deps.site.houses.get(h)?.addressCode ?? null })) }));
      await deps.audit.record({ ...actor(request), action: 'view.care-list', target: 'care-list', reason: why.success ? (why.data ?? null) : null, details: { people: people.length } });
      return { people };
    });

    app.get('/api/people/:id', { config: { access: 'people' } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const why = Why.safeParse((request.query as { why?: string }).why);
      const person = deps.store.registry.persons().find((p) => p.id === id);
      if (!person) return reply.status(404).send({ error: `no person with id ${id}` });
      await deps.audit.record({ ...actor(request), action: 'view.person', target: id, reason: why.success ? (why.data ?? null) : null });
      return { person: { ...person, houses: person.houses.map((h) => ({ id: h, label: houseLabel(deps.site, h), addressCode: deps.site.houses.get(h)?.addressCode ?? null })) } };
    });

    app.get('/api/images/:id', { config: { access: 'alerts' } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const why = Why.safeParse((request.query as { why?: string }).why);
      const image = await deps.images.get(id);
      if (!image) return reply.status(404).send({ error: `no image with id ${id}` });
      await deps.audit.record({ ...actor(request), action: 'view.image', target: id, reason: why.success ? (why.data ?? null) : null });
      return reply.header('content-type', image.contentType).header('cache-control', 'private, no-store').send(image.data);
    });

    // The board's evidence thumbnail: the newest evidence event that carries an image. The
    // browser may keep it an hour (private), so a board redrawn on every alert does not re-fetch it.
    app.get('/api/alerts/:id/thumbnail', { config: { access: 'alerts' } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const alert = deps.store.alerts.get(id);
      if (!alert) return reply.status(404).send({ error: `no alert with id ${id}` });
      for (const eventId of [...alert.evidence].reverse()) {
        const imageId = deps.store.events.get(eventId)?.payload.imageId;
        if (typeof imageId !== 'string') continue;
        const image = await deps.images.get(imageId);
        if (!image) continue;
        await deps.audit.record({ ...actor(request), action: 'view.image', target: imageId, reason: `alert ${id}` });
        return reply.header('content-type', image.contentType).header('cache-control', 'private, max-age=3600').send(image.data);
      }
      return reply.status(404).send({ error: `alert ${id} has no evidence image` });
    });

    app.get('/api/events/export', { config: { access: 'events' } }, async (request, reply) => {
      const q = ExportQuery.safeParse(request.query);
      if (!q.success) return reply.status(400).send({ error: `bad query: ${q.error.issues[0]!.path.join('.')}: ${q.error.issues[0]!.message}` });
      const events = deps.store.events.query({
        ...(q.data.from ? { fromMs: Date.parse(q.data.from) } : {}),
        ...(q.data.to ? { toMs: Date.parse(q.data.to) } : {}),
        ...(q.data.device ? { deviceId: q.data.device } : {}),
        ...(q.data.type ? { type: q.data.type } : {}),
        ...(q.data.subject ? { subjectKey: q.data.subject } : {}),
        limit: Math.min(q.data.limit ?? 1000, 1000),
      });
      const { reason, ...filters } = q.data;
      await deps.audit.record({ ...actor(request), action: 'export.events', target: 'events', reason, details: { filters, rows: events.length } });
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="events-${new Date().toISOString().slice(0, 10)}.csv"`)
        .header('cache-control', 'no-store')
        .send(eventsCsv(events));
    });

    app.get('/api/config', { config: { access: 'config' } }, async () => ({ config: redactedConfig(deps.config) }));

    app.get('/api/audit', { config: { access: 'audit' } }, async (request, reply) => {
      const q = AuditQuery.safeParse(request.query);
      if (!q.success) return reply.status(400).send({ error: `bad query: ${q.error.issues[0]!.message}` });
      return { entries: deps.audit.list(q.data), chain: deps.audit.verify() };
    });
  };
}

function houseLabel(site: SiteModel, houseId: string): string {
  const h = site.houses.get(houseId);
  if (!h) return houseId;
  const b = site.config.site.buildings.find((x) => x.id === h.building);
  const u = b?.units.find((x) => x.id === h.unit);
  return `${b?.name ?? ''}${u?.name ?? ''}${h.name ?? h.id}`;
}

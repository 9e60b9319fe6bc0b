import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeviceConfig } from '../../../config/schema/devices.ts';
import type { DeviceDriver } from '../../../device-drivers/driver.ts';
import { newId } from '../../core/ids.ts';
import type { DeviceMonitor } from '../../devices/device-monitor.ts';
import type { SiteModel } from '../../site/site-model.ts';
import type { Store } from '../../store/store.ts';

const CommandBody = z.object({ type: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).optional() }).strict();

const EventsQuery = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  device: z.string().max(64).optional(),
  type: z.string().max(64).optional(),
  subject: z.string().max(80).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  before: z.string().max(64).optional(),
});

/**
 * The link a device hangs on, as its driver keys health(): its own MQTT connection, its serial bus
 * (`serial:<bus id>`), or its OPC-UA server session (server id).
 */
export function linkIdOf(device: DeviceConfig): string {
  if (device.transport === 'serial' && device.serial) return `serial:${device.serial.bus}`;
  if (device.transport === 'opcua' && device.opcua) return device.opcua.server;
  return device.id;
}

/** Devices with live state, commands to a device, and event search. */
export function deviceRoutes(deps: { site: SiteModel; monitor: DeviceMonitor; drivers: () => DeviceDriver[]; store: Store }) {
  return (app: FastifyInstance) => {
    app.get('/api/devices', { config: { access: 'devices' } }, async () => {
      const health = Object.assign({}, ...deps.drivers().map((d) => d.health()));
      return {
        devices: deps.site.allDevices().map((d) => {
          const state = deps.monitor.get(d.id);
          return {
            id: d.id,
            name: d.name ?? d.id,
            kind: d.kind,
            transport: d.transport,
            place: deps.site.placeOf(d.id).place,
            online: state?.online ?? false,
            lastSeen: state?.lastSeenMs ? new Date(state.lastSeenMs).toISOString() : null,
            info: state?.info ?? {},
            link: health[linkIdOf(d)] ?? null,
          };
        }),
      };
    });

    app.post('/api/devices/:id/commands', { config: { access: 'commands' } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const body = CommandBody.safeParse(request.body);
      if (!body.success) return reply.status(400).send({ error: `bad request: ${body.error.issues[0]!.message}` });
      const driver = deps.drivers().find((d) => d.handles(id));
      if (!driver) return reply.status(404).send({ error: `no driver reaches device ${id}` });
      const result = await driver.sendCommand(id, { id: newId(), type: body.data.type, ...(body.data.params ? { params: body.data.params } : {}) });
      return reply.status(result.ok ? 200 : 502).send(result);
    });

    app.get('/api/events', { config: { access: 'events' } }, async (request, reply) => {
      const q = EventsQuery.safeParse(request.query);
      if (!q.success) return reply.status(400).send({ error: `bad query: ${q.error.issues[0]!.message}` });
      // Following one subject through the events is looking at a person: on record.
      if (q.data.subject && request.principal) {
        await app.audit?.record({ actor: request.principal.username, role: request.principal.role, action: 'view.events', target: q.data.subject, reason: null, ip: request.ip, details: { from: q.data.from, to: q.data.to } });
      }
      const toMs = (s?: string) => (s ? Date.parse(s) : undefined);
      const events = deps.store.events.query({
        ...(q.data.from ? { fromMs: toMs(q.data.from)! } : {}),
        ...(q.data.to ? { toMs: toMs(q.data.to)! } : {}),
        ...(q.data.device ? { deviceId: q.data.device } : {}),
        ...(q.data.type ? { type: q.data.type } : {}),
        ...(q.data.subject ? { subjectKey: q.data.subject } : {}),
        ...(q.data.limit ? { limit: q.data.limit } : {}),
        ...(q.data.before ? { before: q.data.before } : {}),
      });
      return { events, next: events.length ? events[events.length - 1]!.id : null };
    });
  };
}

import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { Logger } from '../../gateway/core/logger.ts';
import type { Metrics } from '../../gateway/core/metrics.ts';
import { verifySecret } from '../../gateway/core/secrets.ts';
import type { RouteModule } from '../../gateway/http/server.ts';
import { IntakeError, type CameraDriver } from './camera-driver.ts';

const MAX_JSON_PART = 64 * 1024;

export interface CameraRoutesDeps {
  driver: CameraDriver;
  devices: DeviceConfig[];
  maxSnapshotBytes: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * POST /api/cameras/{id}/snapshots: alarm pictures pushed by IP cameras, multipart/form-data
 * with a JSON part ("event", optional) and a picture part ("picture", JPEG). The camera
 * authenticates with HTTP Basic: its device id and the same secret it uses on MQTT. The reply
 * (202) comes once the camera's event is stored and the picture queued, not analysed: a camera
 * never waits for inference.
 */
export function cameraRoutes(deps: CameraRoutesDeps): RouteModule {
  const byId = new Map(deps.devices.map((d) => [d.id, d]));
  return async (app: FastifyInstance) => {
    await app.register(async (scope) => {
      // Registered inside this scope only: no other route accepts multipart bodies.
      await scope.register(multipart, { limits: { fileSize: deps.maxSnapshotBytes, files: 2, fields: 4, parts: 6, fieldSize: MAX_JSON_PART } });
      scope.post<{ Params: { id: string } }>('/api/cameras/:id/snapshots', { config: { access: 'public' } }, async (request, reply) => {
        const id = request.params.id;
        const refuse = (status: number, reason: string, message: string) => {
          deps.metrics.rejected.inc({ source: 'http', reason });
          deps.log.warn({ deviceId: id, reason, ip: request.ip }, `POST /api/cameras/${id}/snapshots: ${message}`);
          return reply.status(status).send({ error: message });
        };
        const device = byId.get(id);
        if (!device || device.kind !== 'camera') return refuse(404, 'unknown-camera', `no camera "${id}"`);
        if (!(await authorised(request, device))) return refuse(401, 'camera-auth', 'camera credentials required (HTTP Basic: device id and secret)');
        if (!request.isMultipart()) return refuse(415, 'not-multipart', 'expected multipart/form-data with a "picture" part');
        let picture: Buffer | null = null;
        let event: Record<string, unknown> | undefined;
        try {
          for await (const part of request.parts()) {
            if (part.type === 'file') {
              const bytes = await part.toBuffer();
              if (part.fieldname === 'event' || part.mimetype === 'application/json') event = parseEventPart(bytes.toString('utf8'));
              else if (!picture) picture = bytes;
            } else if (part.fieldname === 'event') {
              event = parseEventPart(String(part.value));
            }
          }
        } catch (error) {
          if (error instanceof IntakeError) return refuse(400, error.reason, error.message);
          const code = (error as { code?: string }).code ?? '';
          if (code === 'FST_REQ_FILE_TOO_LARGE') return refuse(413, 'oversized-snapshot', `picture exceeds ${deps.maxSnapshotBytes} bytes`);
          return refuse(400, 'bad-multipart', `unreadable multipart body: ${(error as Error).message}`);
        }
        if (!picture) return refuse(400, 'no-picture', 'no picture part');
        if (event && !deps.driver.isCameraEventType(event.type)) return refuse(400, 'invalid-event', `event.type must be one of intrusion.detected, camera.tamper, person.passed, face.captured, plate.captured, device.fault`);
        const ts = event?.ts;
        const capturedMs = typeof ts === 'number' ? ts : typeof ts === 'string' ? Date.parse(ts) : undefined;
        const at = capturedMs !== undefined && Number.isFinite(capturedMs) ? capturedMs : undefined;
        try {
          // The camera's event is stored before the reply; the picture is then analysed like any snapshot.
          if (event) await deps.driver.reportCameraEvent(id, picture, event, at);
          deps.driver.enqueue(id, picture, 'http-push', at);
        } catch (error) {
          if (error instanceof IntakeError) return refuse(error.reason === 'oversized-snapshot' ? 413 : 400, error.reason, error.message);
          throw error;
        }
        return reply.status(202).send({ queued: true });
      });
    });
  };
}

function parseEventPart(text: string): Record<string, unknown> {
  if (text.length > MAX_JSON_PART) throw new IntakeError('oversized-event', 'event part too large');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new IntakeError('malformed-json', `event part is not JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new IntakeError('invalid-event', 'event part must be a JSON object');
  return value as Record<string, unknown>;
}

async function authorised(request: FastifyRequest, device: DeviceConfig): Promise<boolean> {
  const header = request.headers.authorization;
  if (!header?.startsWith('Basic ') || !device.secretHash) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(0, colon) !== device.id) return false;
  return verifySecret(decoded.slice(colon + 1), device.secretHash);
}


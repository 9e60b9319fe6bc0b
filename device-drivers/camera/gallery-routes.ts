import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../gateway/core/clock.ts';
import type { Logger } from '../../gateway/core/logger.ts';
import type { Metrics } from '../../gateway/core/metrics.ts';
import type { RouteModule } from '../../gateway/http/server.ts';
import { IntakeError, type CameraDriver } from './camera-driver.ts';

const FACE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Face gallery enrolment (permission "biometrics", admin only):
 *   PUT    /api/faces/gallery/{faceId}   multipart "photo" (JPEG of one person) or JSON {"feature": [...]}
 *   DELETE /api/faces/gallery/{faceId}
 * The face id is what a watch entry of type "face" or a resident's face credential names.
 * Photos are used to compute the vector and are not kept.
 */
export function galleryRoutes(deps: { driver: CameraDriver; maxPhotoBytes: number; clock: Clock; metrics: Metrics; log: Logger }): RouteModule {
  return async (app: FastifyInstance) => {
    await app.register(async (scope) => {
      await scope.register(multipart, { limits: { fileSize: deps.maxPhotoBytes, files: 1, fields: 2, parts: 3 } });
      scope.put<{ Params: { faceId: string } }>('/api/faces/gallery/:faceId', { config: { access: 'biometrics' } }, async (request, reply) => {
        const { faceId } = request.params;
        const refuse = (status: number, reason: string, message: string) => {
          deps.metrics.rejected.inc({ source: 'http', reason });
          deps.log.warn({ faceId, reason }, `PUT /api/faces/gallery/${faceId}: ${message}`);
          return reply.status(status).send({ error: message });
        };
        const gallery = deps.driver.gallery;
        if (!gallery) return refuse(409, 'no-embedding-model', 'no face-embedding model is configured (camera.models.embedding)');
        if (!FACE_ID.test(faceId)) return refuse(400, 'invalid-face-id', 'face id must be 1–64 letters, digits, "_", ".", ":" or "-"');
        let vector: ArrayLike<number>;
        let quality: number | null = null;
        let model = 'camera';
        try {
          if (request.isMultipart()) {
            const part = await request.file();
            if (!part) return refuse(400, 'no-photo', 'no photo part');
            const result = await deps.driver.enrolmentVector(await part.toBuffer());
            ({ vector, quality, model } = result);
          } else {
            const feature = (request.body as { feature?: unknown } | undefined)?.feature;
            if (!Array.isArray(feature) || feature.length < 32 || feature.length > 2048 || !feature.every((v) => typeof v === 'number' && Number.isFinite(v)))
              return refuse(400, 'invalid-feature', 'feature must be 32–2048 finite numbers');
            vector = feature as number[];
          }
          await gallery.enroll(faceId, vector, model, deps.clock.now());
        } catch (error) {
          if (error instanceof IntakeError) return refuse(error.reason === 'no-embedding-model' ? 409 : 422, error.reason, error.message);
          if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') return refuse(413, 'oversized-photo', `photo exceeds ${deps.maxPhotoBytes} bytes`);
          if (/dimensions/.test((error as Error).message)) return refuse(422, 'feature-dimensions', (error as Error).message);
          throw error;
        }
        deps.log.info({ faceId, by: request.principal?.username ?? null, model }, `face ${faceId} enrolled in the gallery`);
        return reply.status(201).send({ faceId, dims: vector.length, ...(quality !== null ? { quality: Math.round(quality * 1000) / 1000 } : {}) });
      });

      scope.delete<{ Params: { faceId: string } }>('/api/faces/gallery/:faceId', { config: { access: 'biometrics' } }, async (request, reply) => {
        const gallery = deps.driver.gallery;
        if (!gallery) return reply.status(409).send({ error: 'no face-embedding model is configured' });
        await gallery.remove(request.params.faceId);
        deps.log.info({ faceId: request.params.faceId, by: request.principal?.username ?? null }, `face ${request.params.faceId} removed from the gallery`);
        return reply.status(204).send();
      });
    });
  };
}

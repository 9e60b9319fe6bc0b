import { dirname } from 'node:path';
import type { LoadedConfig } from '../../config/load.ts';
import type { FaceMatcher } from '../../gateway/identify/identifier.ts';
import type { Store } from '../../gateway/store/store.ts';
import type { RouteModule } from '../../gateway/http/server.ts';
import { FaceGallery } from '../../models/embedding.ts';
import { MediaStore } from '../../models/media-store.ts';
import type { DriverContext } from '../driver.ts';
import type { MqttDriver } from '../mqtt/mqtt-driver.ts';
import { CameraDriver } from './camera-driver.ts';
import { galleryRoutes } from './gallery-routes.ts';
import { cameraRoutes } from './http-intake.ts';
import { snapshotTopicHandler } from './mqtt-snapshots.ts';

/** What the console's image source needs: a picture by the id events carry (payload.imageId). */
export interface ImageLookup {
  get(id: string): Promise<{ contentType: string; data: Buffer } | null>;
}

/**
 * Builds the camera intake for the composition root: the driver, its MQTT snapshot topic, its
 * HTTP push and gallery enrolment routes, and the image lookup the console serves evidence through (audit-logged there).
 */
export function createCameraIntake(deps: { ctx: DriverContext; loaded: LoadedConfig; dataDir: string; store: Store; mqttDriver: MqttDriver }): {
  driver: CameraDriver;
  routes: RouteModule;
  images: ImageLookup;
  media: MediaStore;
  /** Matches camera-side feature vectors (MQTT events' subjects.feature) against the gallery; null without an embedding model. */
  faceMatcher: FaceMatcher | null;
} {
  const { config } = deps.loaded;
  const section = config.camera;
  const media = new MediaStore({ store: deps.store, dataDir: deps.dataDir, policy: section.privacy, clock: deps.ctx.clock, log: deps.ctx.log });
  const gallery = section.models.embedding ? new FaceGallery(deps.store) : null;
  const driver = new CameraDriver(deps.ctx, {
    section,
    media,
    gallery,
    baseDir: dirname(deps.loaded.file),
    siteZones: new Set(config.site.zones.map((z) => z.id)),
  });
  deps.mqttDriver.registerTopic('snapshot', snapshotTopicHandler(driver));
  const pushRoutes = cameraRoutes({ driver, devices: deps.ctx.devices, maxSnapshotBytes: section.intake.maxSnapshotBytes, metrics: deps.ctx.metrics, log: deps.ctx.log });
  const enrolRoutes = galleryRoutes({ driver, maxPhotoBytes: section.intake.maxSnapshotBytes, clock: deps.ctx.clock, metrics: deps.ctx.metrics, log: deps.ctx.log });
  const routes: RouteModule = async (app) => {
    await pushRoutes(app);
    await enrolRoutes(app);
  };
  const images: ImageLookup = {
    async get(id) {
      const record = media.get(id);
      if (!record) return null;
      try {
        return { contentType: 'image/jpeg', data: media.read(record) };
      } catch {
        return null; // expired and swept between the lookup and the read
      }
    },
  };
  // Same gallery and threshold as the intake's own embeddings and the HTTP push path.
  const threshold = section.models.embedding?.matchThreshold;
  const faceMatcher: FaceMatcher | null = gallery && threshold !== undefined ? (feature) => gallery.match(feature, threshold)?.faceId ?? null : null;
  return { driver, routes, images, media, faceMatcher };
}

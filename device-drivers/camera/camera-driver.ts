import { Counter, Histogram } from 'prom-client';
import type { CameraSection, PlateRegion } from '../../config/schema/camera.ts';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { TimerHandle } from '../../gateway/core/clock.ts';
import type { EventType, SubjectRefs } from '../../gateway/core/model.ts';
import { encodeJpeg, type Box } from '../../models/image.ts';
import { ImageDecodeError } from '../../models/image.ts';
import type { FaceGallery } from '../../models/embedding.ts';
import type { MediaStore } from '../../models/media-store.ts';
import { ModelRegistry } from '../../models/registry.ts';
import { IouTracker, PassageMerger, type Appearance } from '../../models/tracker.ts';
import { zoneFacts, type CameraZone } from '../../models/zones.ts';
import type { CommandResult, DeviceCommand, DeviceDriver, DriverContext, LinkHealth } from '../driver.ts';
import { FrameAnalyzer, manifestsFor, type LocatedFace } from './analyzer.ts';
import { FrameQueue, type Frame } from './frame-queue.ts';

/** A snapshot or camera message refused at intake, with the reason counted in metrics. */
export class IntakeError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A face seen in one frame, as the tracker keeps it: where (at the frame's working size, width ×
 * height), when, and the frame's JPEG, from which the best sighting of an appearance is cropped.
 */
interface Sighting extends LocatedFace {
  capturedMs: number;
  width: number;
  height: number;
  jpeg: Buffer;
}

interface Camera {
  device: DeviceConfig;
  detect: string[];
  faceModel: 'front' | 'back';
  /** The camera's own working size, when it sets one (else the gateway's rule: analyzer.workingSize). */
  maxSide: number | undefined;
  /** Where plates are searched (config plateRegion); the whole frame when undefined. */
  plateRegion: PlateRegion | undefined;
  /** Size the last frame was analysed at, shown with the intake link so an installer can check it. */
  lastWorkingSize: string | null;
  zones: CameraZone[];
  queue: FrameQueue;
  busy: boolean;
  tracker: IouTracker<Sighting>;
  passages: PassageMerger;
  expireTimer: TimerHandle | null;
  pollTimer: TimerHandle | null;
  health: LinkHealth;
  analysed: number;
}

export interface CameraDriverDeps {
  section: CameraSection;
  media: MediaStore;
  gallery: FaceGallery | null;
  /** Folder relative installer model files resolve against (the site file's). */
  baseDir?: string;
  /** Site zones: a camera zone with a site zone's id places its events there. */
  siteZones?: Set<string>;
}

const EVENT_TYPES_FROM_CAMERA = new Set<EventType>(['intrusion.detected', 'camera.tamper', 'person.passed', 'face.captured', 'plate.captured', 'device.fault']);

/**
 * Camera intake: snapshots by MQTT (devices/{id}/snapshot), by HTTP push (multipart alarm
 * pictures) and by polling a snapshot URL. Each camera has a bounded queue; frames of all
 * cameras share `concurrency` analysis slots, taken round-robin, so a busy camera delays no
 * other device. Faces are tracked per camera and reported once per appearance; plates once
 * per passage.
 */
export class CameraDriver implements DeviceDriver {
  readonly name = 'camera-driver';
  readonly transport = 'camera' as const;
  private cameras = new Map<string, Camera>();
  private order: string[] = [];
  private cursor = 0;
  private active = 0;
  private registry: ModelRegistry | null = null;
  private analyzer: FrameAnalyzer | null = null;
  private running = false;
  private idle: (() => void)[] = [];
  private counters: { frames: Counter<'device' | 'outcome'>; seconds: Histogram<'step'> } | null = null;

  constructor(
    private readonly ctx: DriverContext,
    private readonly deps: CameraDriverDeps,
  ) {}

  async start(): Promise<void> {
    const { section } = this.deps;
    const analysed = this.ctx.devices.filter((d) => d.kind === 'camera' && d.camera);
    for (const device of analysed) {
      const c = device.camera!;
      this.cameras.set(device.id, {
        device,
        detect: c.detect,
        faceModel: c.faceModel,
        maxSide: c.maxSide,
        plateRegion: c.plateRegion,
        lastWorkingSize: null,
        zones: c.zones,
        queue: new FrameQueue(section.intake.queueDepth),
        busy: false,
        tracker: new IouTracker({ minIou: section.faces.trackIou, lostAfterMs: section.faces.lostAfterSeconds * 1000 }),
        passages: new PassageMerger(section.plates.mergeSeconds * 1000),
        expireTimer: null,
        pollTimer: null,
        health: { connected: false, lastFrameAt: null, framesOk: 0, framesBad: 0, reconnects: 0, detail: 'no snapshot yet' },
        analysed: 0,
      });
      this.order.push(device.id);
    }
    this.counters = {
      frames: new Counter({ name: 'gridguard_camera_frames_total', help: 'Camera snapshots by outcome (analysed, dropped when the queue was full, failed)', labelNames: ['device', 'outcome'], registers: [this.ctx.metrics.registry] }),
      seconds: new Histogram({ name: 'gridguard_camera_analysis_seconds', help: 'Time per snapshot analysis step', labelNames: ['step'], buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2], registers: [this.ctx.metrics.registry] }),
    };
    // Loaded even when no camera is analysed here: cameras that send their own feature vectors are matched against it.
    this.deps.gallery?.load();
    if (this.cameras.size === 0) return;
    const cameraConfigs = [...this.cameras.values()].map((c) => ({ detect: c.detect, faceModel: c.faceModel }));
    // Models first: a missing or malformed model stops start-up before anything else is running.
    this.registry = new ModelRegistry({ manifests: manifestsFor(section, cameraConfigs), intraOpThreads: section.models.intraOpThreads, baseDir: this.deps.baseDir, log: this.ctx.log });
    await this.registry.start();
    await this.deps.media.start();
    this.analyzer = new FrameAnalyzer(this.registry, section);
    this.running = true;
    for (const camera of this.cameras.values()) if (camera.device.camera?.snapshotUrl) this.schedulePoll(camera, 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const camera of this.cameras.values()) {
      if (camera.pollTimer) this.ctx.clock.clearTimeout(camera.pollTimer);
      if (camera.expireTimer) this.ctx.clock.clearTimeout(camera.expireTimer);
      camera.queue.clear();
    }
    await this.whenIdle();
    for (const camera of this.cameras.values()) await this.reportFaces(camera, camera.tracker.flush()).catch(() => {});
    await this.registry?.stop();
    this.deps.media.stop();
  }

  /** The face gallery (residents and watchlist faces), when an embedding model is configured. */
  get gallery(): FaceGallery | null {
    return this.deps.gallery;
  }

  /** The loaded embedding model, if any: enrolment computes vectors with the same model. */
  get embedder(): FrameAnalyzer['embedder'] {
    return this.analyzer?.embedder ?? null;
  }

  /**
   * The embedding of the one clear face in an enrolment photo, with the same detector, alignment
   * and model as live frames. Throws IntakeError when there is no model or not exactly one face.
   */
  async enrolmentVector(photo: Buffer): Promise<{ vector: Float32Array; quality: number; model: string }> {
    const analyzer = this.analyzer;
    const embedder = analyzer?.embedder;
    const faceModel = analyzer?.anyFaceModel();
    if (!analyzer || !embedder || !faceModel) throw new IntakeError('no-embedding-model', 'no face-embedding model is configured (camera.models.embedding)');
    let image;
    try {
      image = await analyzer.decode(photo);
    } catch (error) {
      throw new IntakeError('undecodable-photo', (error as Error).message);
    }
    const faces = (await analyzer.faces(image, faceModel)).sort((a, b) => b.quality.score - a.quality.score);
    if (faces.length === 0) throw new IntakeError('no-face', 'no face found in the photo');
    if (faces.length > 1 && faces[1]!.quality.score > faces[0]!.quality.score * 0.5) throw new IntakeError('several-faces', `${faces.length} faces in the photo: enrol from a photo of one person`);
    const best = faces[0]!;
    return { vector: await embedder.embed(best.aligned112!), quality: best.quality.score, model: embedder.modelId };
  }

  handles(deviceId: string): boolean {
    return this.cameras.has(deviceId);
  }

  async sendCommand(_deviceId: string, command: DeviceCommand): Promise<CommandResult> {
    return { id: command.id, ok: false, error: 'camera intake takes no commands (commands go over the camera\'s MQTT link)' };
  }

  health(): Record<string, LinkHealth> {
    return Object.fromEntries([...this.cameras].map(([id, c]) => [`${id}/intake`, { ...c.health, detail: `queued ${c.queue.length}, analysed ${c.analysed}, dropped ${c.queue.dropped}${c.lastWorkingSize ? `, last frame analysed at ${c.lastWorkingSize}` : ''}` }]));
  }

  /** Frames dropped per camera because analysis fell behind. */
  dropped(deviceId: string): number {
    return this.cameras.get(deviceId)?.queue.dropped ?? 0;
  }

  /** Resolves when no frame is queued or being analysed (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (this.active === 0 && [...this.cameras.values()].every((c) => c.queue.length === 0 || !this.running)) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** MQTT: devices/{id}/snapshot[/{epochMs}], payload = the JPEG bytes (docs/models.md). */
  async onMqttSnapshot(deviceId: string, subtopic: string, payload: Buffer): Promise<void> {
    const parts = subtopic.split('/');
    if (parts.length > 2) throw new IntakeError('invalid-topic', `snapshot topic takes at most one level after "snapshot" (capture time in epoch ms), got "${subtopic}"`);
    let capturedMs: number | undefined;
    if (parts[1] !== undefined) {
      capturedMs = Number(parts[1]);
      if (!/^\d{10,15}$/.test(parts[1]) || !Number.isSafeInteger(capturedMs)) throw new IntakeError('invalid-topic', `capture time "${parts[1]}" is not epoch milliseconds`);
    }
    this.enqueue(deviceId, payload, 'mqtt', capturedMs);
  }

  /** Hands a snapshot to the camera's queue; throws IntakeError for what cannot be a snapshot. */
  enqueue(deviceId: string, jpeg: Buffer, via: Frame['via'], capturedMs?: number): void {
    const camera = this.checkSnapshot(deviceId, jpeg);
    const now = this.ctx.clock.now();
    const frame: Frame = { deviceId, jpeg, capturedMs: capturedMs ?? now, receivedMs: now, via };
    const dropped = camera.queue.push(frame);
    if (dropped) {
      this.counters?.frames.inc({ device: deviceId, outcome: 'dropped' });
      this.ctx.log.debug({ deviceId, queued: camera.queue.length }, `camera ${deviceId}: analysis behind, oldest snapshot dropped`);
    }
    camera.health.connected = true;
    camera.health.lastFrameAt = new Date(now).toISOString();
    void this.ctx.deviceSeen(deviceId).catch(() => {});
    this.pump();
  }

  private checkSnapshot(deviceId: string, jpeg: Buffer): Camera {
    const camera = this.cameras.get(deviceId);
    if (!camera) throw new IntakeError('camera-not-analysed', `device ${deviceId} has no camera section: the gateway does not analyse its snapshots`);
    if (!this.running) throw new IntakeError('not-running', 'camera intake is stopping');
    if (jpeg.length === 0) throw new IntakeError('empty-snapshot', 'empty snapshot');
    if (jpeg.length > this.deps.section.intake.maxSnapshotBytes) throw new IntakeError('oversized-snapshot', `snapshot of ${jpeg.length} bytes exceeds ${this.deps.section.intake.maxSnapshotBytes}`);
    const isJpeg = jpeg[0] === 0xff && jpeg[1] === 0xd8;
    const isPng = jpeg[0] === 0x89 && jpeg[1] === 0x50;
    if (!isJpeg && !isPng) throw new IntakeError('not-an-image', 'snapshot is not a JPEG (no FF D8 start marker)');
    return camera;
  }

  /** Fills free analysis slots round-robin over cameras with frames and no frame in flight. */
  private pump(): void {
    const limit = this.deps.section.intake.concurrency;
    let scanned = 0;
    while (this.active < limit && scanned < this.order.length && this.running) {
      const id = this.order[this.cursor % this.order.length]!;
      this.cursor = (this.cursor + 1) % this.order.length;
      const camera = this.cameras.get(id)!;
      if (camera.busy || camera.queue.length === 0) {
        scanned++;
        continue;
      }
      scanned = 0;
      const frame = camera.queue.shift()!;
      camera.busy = true;
      this.active++;
      this.process(camera, frame)
        .catch((error) => {
          camera.health.framesBad++;
          const reason = error instanceof ImageDecodeError ? 'undecodable-snapshot' : 'analysis-failed';
          this.ctx.metrics.rejected.inc({ source: 'camera', reason });
          this.counters?.frames.inc({ device: camera.device.id, outcome: 'failed' });
          this.ctx.log.warn({ deviceId: camera.device.id, via: frame.via, err: error }, `camera ${camera.device.id} (${frame.via}): ${(error as Error).message}`);
        })
        .finally(() => {
          camera.busy = false;
          this.active--;
          this.pump();
          if (this.active === 0 && [...this.cameras.values()].every((c) => c.queue.length === 0)) for (const resolve of this.idle.splice(0)) resolve();
        });
    }
  }

  private async process(camera: Camera, frame: Frame): Promise<void> {
    const analyzer = this.analyzer!;
    const started = process.hrtime.bigint();
    const wantsFaces = camera.detect.includes('face');
    // A plate camera needs the frame at its working size; faces alone are found on a small decode
    // (analyzer.decodeForFaces) and cropped once per appearance from the best frame.
    const image = camera.detect.includes('plate') ? await analyzer.decode(frame.jpeg, camera.maxSide) : null;
    const forFaces = wantsFaces && !image ? await analyzer.decodeForFaces(frame.jpeg, camera.faceModel, camera.maxSide) : null;
    const width = image?.width ?? forFaces!.width;
    const height = image?.height ?? forFaces!.height;
    camera.lastWorkingSize = `${width}×${height}`;
    const decoded = process.hrtime.bigint();
    this.counters?.seconds.observe({ step: 'decode' }, Number(decoded - started) / 1e9);
    const nowMs = this.ctx.clock.now();
    const [located, plate] = await Promise.all([
      wantsFaces ? analyzer.locateFaces(image ?? forFaces!.image, camera.faceModel, width, height) : Promise.resolve([]),
      image ? analyzer.plate(image, camera.plateRegion) : Promise.resolve(null),
    ]);
    this.counters?.seconds.observe({ step: 'analyse' }, Number(process.hrtime.bigint() - decoded) / 1e9);
    camera.analysed++;
    camera.health.framesOk++;
    this.counters?.frames.inc({ device: camera.device.id, outcome: 'analysed' });

    if (wantsFaces) {
      const sightings = located
        .filter((f) => f.quality.score >= this.deps.section.faces.minQuality)
        .map((f) => ({ box: f.detection.box, quality: f.quality.score, item: { ...f, capturedMs: frame.capturedMs, width, height, jpeg: frame.jpeg } }));
      // Frame time, not analysis time: a backlog must not split one appearance into several.
      const ended = camera.tracker.update(frame.receivedMs, sightings);
      const due = camera.tracker.takeDue(frame.receivedMs, this.deps.section.faces.reportAfterSeconds * 1000);
      await this.reportFaces(camera, [...ended, ...due]);
      this.armExpiry(camera);
    }
    if (plate && camera.passages.accept(plate.plate, frame.capturedMs)) {
      const crop = await this.deps.media.save(camera.device.id, 'plate-crop', await encodeJpeg(plate.crop));
      const facts = zoneFacts(plate.box, width, height, camera.zones, nowMs, this.deps.section.timeZone);
      const event = await this.ctx.ingest({
        deviceId: camera.device.id,
        type: 'plate.captured',
        ts: frame.capturedMs,
        subjects: { plate: plate.plate },
        ...this.zoneOverride(facts.armedZones),
        payload: {
          source: 'gateway',
          model: 'ppocr-v4',
          confidence: round(plate.confidence),
          plateKind: plate.kind,
          box: normBox(plate.box, width, height),
          ...facts,
          imageId: crop.id,
          via: frame.via,
        },
      });
      await this.deps.media.linkEvent([crop.id], event.id);
    }
  }

  /** Ends tracks when frames stop coming: a face that walked away is reported without waiting for the next snapshot. */
  private armExpiry(camera: Camera): void {
    if (camera.expireTimer) this.ctx.clock.clearTimeout(camera.expireTimer);
    camera.expireTimer = null;
    if (camera.tracker.open === 0) return;
    camera.expireTimer = this.ctx.clock.setTimeout(() => {
      camera.expireTimer = null;
      // Frames still waiting may continue the open tracks: judge them first.
      if (camera.busy || camera.queue.length > 0) return this.armExpiry(camera);
      const ended = camera.tracker.expire(this.ctx.clock.now());
      this.reportFaces(camera, ended)
        .catch((error) => this.ctx.log.error({ err: error, deviceId: camera.device.id }, 'face report failed'))
        .finally(() => this.armExpiry(camera));
    }, this.deps.section.faces.lostAfterSeconds * 1000);
  }

  private async reportFaces(camera: Camera, ended: Appearance<Sighting>[]): Promise<void> {
    for (const appearance of ended) {
      const best = appearance.best.item;
      // The part of the best frame its crops sample, decoded again at the working size: the only crop it costs.
      const { crop: aligned, aligned112 } = await this.analyzer!.cropFace(best.jpeg, best, best);
      const crop = await this.deps.media.save(camera.device.id, 'face-crop', await encodeJpeg(aligned, 90));
      const subjects: SubjectRefs = {};
      let match: { faceId: string; similarity: number } | null = null;
      const embedder = this.analyzer?.embedder;
      if (embedder && aligned112 && this.deps.gallery) {
        const vector = await embedder.embed(aligned112);
        match = this.deps.gallery.match(vector, this.deps.section.models.embedding!.matchThreshold);
        if (match) subjects.faceId = match.faceId;
      }
      const facts = zoneFacts(best.detection.box, best.width, best.height, camera.zones, this.ctx.clock.now(), this.deps.section.timeZone);
      const event = await this.ctx.ingest({
        deviceId: camera.device.id,
        type: 'face.captured',
        ts: best.capturedMs,
        subjects,
        ...this.zoneOverride(facts.armedZones),
        payload: {
          source: 'gateway',
          model: camera.faceModel === 'front' ? 'blazeface-front' : 'blazeface-back',
          trackId: appearance.trackId,
          frames: appearance.frames,
          firstSeen: new Date(appearance.firstSeenMs).toISOString(),
          lastSeen: new Date(appearance.lastSeenMs).toISOString(),
          score: round(best.quality.confidence),
          quality: round(best.quality.score),
          frontal: round(best.quality.frontal),
          box: normBox(best.detection.box, best.width, best.height),
          ...facts,
          identified: match !== null,
          ...(match ? { similarity: round(match.similarity) } : {}),
          imageId: crop.id,
        },
      });
      await this.deps.media.linkEvent([crop.id], event.id);
    }
  }

  /**
   * An alarm picture's own event (HTTP push), stored at once with the picture and the zones of
   * its box: it never waits in, or is dropped from, the analysis queue.
   */
  async reportCameraEvent(deviceId: string, jpeg: Buffer, msg: Record<string, unknown>, capturedMs?: number): Promise<void> {
    const camera = this.checkSnapshot(deviceId, jpeg);
    const picture = await this.deps.media.save(deviceId, 'frame', jpeg);
    const box = parseBox(msg.box);
    const nowMs = this.ctx.clock.now();
    const facts = box ? zoneFacts({ xmin: box[0], ymin: box[1], xmax: box[2], ymax: box[3] }, 1, 1, camera.zones, nowMs, this.deps.section.timeZone) : { zones: [], armedZones: [] };
    const subjects: SubjectRefs = {};
    if (typeof msg.plate === 'string') subjects.plate = msg.plate;
    if (typeof msg.faceId === 'string') subjects.faceId = msg.faceId;
    if (Array.isArray(msg.feature) && this.deps.gallery && this.deps.section.models.embedding) {
      // Camera-side feature vectors are matched like ours: same gallery, same threshold.
      const m = this.deps.gallery.match(msg.feature as number[], this.deps.section.models.embedding.matchThreshold);
      if (m) subjects.faceId = m.faceId;
    }
    const { type, ts: _ts, box: _b, feature: _f, plate: _p, faceId: _fi, ...rest } = msg;
    const event = await this.ctx.ingest({
      deviceId,
      type: type as EventType,
      ts: capturedMs ?? nowMs,
      subjects,
      ...this.zoneOverride(facts.armedZones),
      payload: { ...rest, source: 'camera', ...(box ? { box } : {}), ...facts, imageId: picture.id, via: 'http-push' },
    });
    await this.deps.media.linkEvent([picture.id], event.id);
  }

  /**
   * Places the event in the first armed camera zone that is also a site zone: the rules (e.g.
   * armed-zone-intrusion) see a zone only while the camera zone is armed. The zone lists stay
   * in the payload either way.
   */
  private zoneOverride(zones: string[]): { zone?: string } {
    const siteZone = zones.find((z) => this.deps.siteZones?.has(z));
    return siteZone ? { zone: siteZone } : {};
  }

  private schedulePoll(camera: Camera, delayMs: number): void {
    camera.pollTimer = this.ctx.clock.setTimeout(() => {
      void this.pollOnce(camera).finally(() => {
        if (this.running) this.schedulePoll(camera, (camera.device.camera?.pollSeconds ?? 1) * 1000);
      });
    }, delayMs);
  }

  /** One GET of the snapshot URL; a failure is counted and logged, and polling goes on. */
  async pollOnce(camera: Camera): Promise<void> {
    const url = camera.device.camera!.snapshotUrl!;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new IntakeError('poll-http-status', `GET ${redactUrl(url)} answered ${response.status}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      this.enqueue(camera.device.id, bytes, 'http-poll');
    } catch (error) {
      const reason = error instanceof IntakeError ? error.reason : 'poll-failed';
      camera.health.framesBad++;
      this.ctx.metrics.rejected.inc({ source: 'camera', reason });
      this.ctx.log.warn({ deviceId: camera.device.id, reason }, `camera ${camera.device.id} poll ${redactUrl(url)}: ${(error as Error).message}`);
    }
  }

  /** Test hook for polling without timers. */
  pollNow(deviceId: string): Promise<void> {
    const camera = this.cameras.get(deviceId);
    if (!camera) throw new Error(`no analysed camera ${deviceId}`);
    return this.pollOnce(camera);
  }

  isCameraEventType(type: unknown): type is EventType {
    return typeof type === 'string' && EVENT_TYPES_FROM_CAMERA.has(type as EventType);
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function normBox(box: Box, width: number, height: number): [number, number, number, number] {
  return [round(box.xmin / width), round(box.ymin / height), round(box.xmax / width), round(box.ymax / height)];
}

function parseBox(value: unknown): [number, number, number, number] | null {
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) return null;
  return value as [number, number, number, number];
}

/** Snapshot URLs often carry credentials (http://user:pass@cam/...): never log them. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    u.search = u.search ? '?…' : '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

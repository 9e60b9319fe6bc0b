import type { CameraSection, PlateRegion } from '../../config/schema/camera.ts';
import { alignedCropArea, alignFace, BlazeFaceDetector, faceQuality, scaleDetection, type FaceDetection, type FaceQuality } from '../../models/blazeface.ts';
import { FaceEmbedder } from '../../models/embedding.ts';
import { AS_DECODED_UP_TO, cropBox, decodeImage, decodeRegion, imageSize, workingDimensions, type Box, type RgbImage, type WorkingSize } from '../../models/image.ts';
import { BLAZEFACE_BACK, BLAZEFACE_FRONT, embeddingManifest, PPOCR_DET, PPOCR_REC, type ModelManifest } from '../../models/manifest.ts';
import { pickPlate, type PlateReading } from '../../models/plates.ts';
import { PaddleOcr, type TextBox } from '../../models/ppocr.ts';
import type { ModelRegistry } from '../../models/registry.ts';

export interface AnalyzedFace {
  detection: FaceDetection;
  quality: FaceQuality;
  /** Aligned crop (ArcFace template at cropSize); encoded to JPEG only for the best of an appearance. */
  crop: RgbImage;
  /** The 112×112 aligned face for the embedding model, when one is configured. */
  aligned112: RgbImage | null;
}

/** A face found in a frame: where, in the pixels of the frame at its working size, and how good. Its crops come later (cropFace). */
export interface LocatedFace {
  detection: FaceDetection;
  quality: FaceQuality;
}

export interface FrameAnalysis {
  width: number;
  height: number;
  faces: AnalyzedFace[];
  plate: (PlateReading & { crop: RgbImage; box: Box }) | null;
}

export type FaceModelChoice = 'front' | 'back';

/**
 * A single-row plate's characters read as one line 2–8 times as long as high (a blue plate's
 * text is about 5.5:1, a green one's about 6:1), with some room for perspective.
 */
export function plateShaped(points: [number, number][]): boolean {
  const [tl, tr, , bl] = points as [[number, number], [number, number], [number, number], [number, number]];
  const width = Math.hypot(tr[0] - tl[0], tr[1] - tl[1]);
  const height = Math.hypot(bl[0] - tl[0], bl[1] - tl[1]);
  if (height < 8) return false;
  const ratio = width / height;
  return ratio >= 2 && ratio <= 8;
}

/**
 * A plate region in the pixels of a decoded frame: edges rounded outwards, so that a plate on
 * the line the installer drew is kept, and at least one pixel each way.
 */
export function regionPixels(region: PlateRegion, width: number, height: number): Box {
  const xmin = Math.min(width - 1, Math.max(0, Math.floor(region.left * width)));
  const ymin = Math.min(height - 1, Math.max(0, Math.floor(region.top * height)));
  const xmax = Math.max(xmin + 1, Math.min(width, Math.ceil(region.right * width)));
  const ymax = Math.max(ymin + 1, Math.min(height, Math.ceil(region.bottom * height)));
  return { xmin, ymin, xmax, ymax };
}

/**
 * That region of the decoded frame, sharing its pixels when it spans the full width (its rows are
 * then one contiguous run of the buffer) and copying rows otherwise. Never a second decode.
 */
export function regionOf(image: RgbImage, area: Box): RgbImage {
  if (area.xmin === 0 && area.xmax === image.width) {
    const row = image.width * 3;
    return { data: image.data.subarray(area.ymin * row, area.ymax * row), width: image.width, height: area.ymax - area.ymin, channels: 3 };
  }
  return cropBox(image, area);
}

/** Which manifests the configured cameras need: nothing is loaded for a model no camera uses. */
export function manifestsFor(section: CameraSection, cameras: { detect: string[]; faceModel: FaceModelChoice }[]): ModelManifest[] {
  const out: ModelManifest[] = [];
  const withFaces = cameras.filter((c) => c.detect.includes('face'));
  if (withFaces.some((c) => c.faceModel === 'front')) out.push(BLAZEFACE_FRONT);
  if (withFaces.some((c) => c.faceModel === 'back')) out.push(BLAZEFACE_BACK);
  if (cameras.some((c) => c.detect.includes('plate'))) out.push(PPOCR_DET, PPOCR_REC);
  const e = section.models.embedding;
  if (e && withFaces.length) out.push(embeddingManifest({ path: e.file, sha256: e.sha256, inputName: e.inputName, outputName: e.outputName, licence: e.licence, threshold: e.matchThreshold }));
  return out;
}

/**
 * The analysis of one snapshot, shared by every camera: decode once (shrink-on-load), detect
 * faces with the camera's BlazeFace, align their crops, read a plate. Stateless per frame;
 * tracking and merging across frames belong to the driver.
 */
export class FrameAnalyzer {
  private detectors = new Map<FaceModelChoice, BlazeFaceDetector>();
  private ocr: PaddleOcr | null = null;
  readonly embedder: FaceEmbedder | null;

  constructor(
    registry: ModelRegistry,
    private readonly section: CameraSection,
    /** Bench only: PaddleOCR's 320 px recognition floor and the former lanczos3 detector resample, as same-run baselines. */
    tuning: { minRecWidth?: number; detResizeKernel?: 'bilinear' | 'lanczos3' | 'linear' } = {},
  ) {
    const faceOptions = { minScore: section.models.faceMinScore, nmsIou: 0.3, maxDetections: 64 };
    if (registry.has(BLAZEFACE_FRONT.id)) this.detectors.set('front', new BlazeFaceDetector(registry.get(BLAZEFACE_FRONT.id), faceOptions));
    if (registry.has(BLAZEFACE_BACK.id)) this.detectors.set('back', new BlazeFaceDetector(registry.get(BLAZEFACE_BACK.id), faceOptions));
    if (registry.has(PPOCR_DET.id) && registry.has(PPOCR_REC.id)) {
      const t = PPOCR_DET.thresholds;
      this.ocr = new PaddleOcr(registry.get(PPOCR_DET.id), registry.get(PPOCR_REC.id), {
        bitmap: t.bitmap!,
        boxScore: t.boxScore!,
        unclipRatio: t.unclipRatio!,
        minSize: t.minSize!,
        maxCandidates: t.maxCandidates!,
        maxSide: section.plates.detMaxSide,
        minLineScore: PPOCR_REC.thresholds.minLineScore!,
        // Plates are short lines: no 320 px floor (docs/models.md, Figures).
        minRecWidth: tuning.minRecWidth ?? 96,
        ...(tuning.detResizeKernel ? { detResizeKernel: tuning.detResizeKernel } : {}),
      });
    }
    this.embedder = registry.has('face-embedding') ? new FaceEmbedder(registry.get('face-embedding')) : null;
  }

  /** A loaded face model, the near one first (enrolment photos are close-ups). */
  anyFaceModel(): FaceModelChoice | null {
    return this.detectors.has('front') ? 'front' : this.detectors.has('back') ? 'back' : null;
  }

  /**
   * The working size of a camera: its own `maxSide` when it sets one (frames always fit inside
   * it); otherwise frames up to 720p are kept as decoded and larger ones fit `intake.maxSide`.
   */
  workingSize(cameraMaxSide?: number): WorkingSize {
    return cameraMaxSide ? { maxSide: cameraMaxSide } : { maxSide: this.section.intake.maxSide, asDecodedUpTo: AS_DECODED_UP_TO };
  }

  decode(jpeg: Buffer, cameraMaxSide?: number): Promise<RgbImage> {
    return decodeImage(jpeg, this.workingSize(cameraMaxSide));
  }

  /**
   * A snapshot decoded for face detection alone: the detector sees its input size (128 or 256 px)
   * whatever it is given, so the JPEG is decoded at 1.5× that (libjpeg's DCT scaling does most of
   * the shrinking) rather than at the working size. `width`/`height` are the frame's working size,
   * where boxes are reported, quality judged and crops later taken (Frigate's split of a small
   * detect stream and a full-size record).
   */
  async decodeForFaces(jpeg: Buffer, model: FaceModelChoice, cameraMaxSide?: number): Promise<{ image: RgbImage; width: number; height: number }> {
    const detector = this.detector(model);
    const source = await imageSize(jpeg);
    const { width, height } = workingDimensions(source.width, source.height, this.workingSize(cameraMaxSide));
    const image = await decodeImage(jpeg, Math.min(Math.max(width, height), Math.round(detector.inputSize * 1.5)));
    return { image, width, height };
  }

  /** The faces in `image`, boxes and keypoints scaled to width×height (the frame's working size); no crops. */
  async locateFaces(image: RgbImage, model: FaceModelChoice, width = image.width, height = image.height): Promise<LocatedFace[]> {
    const kx = width / image.width, ky = height / image.height;
    return (await this.detector(model).detect(image)).map((found) => {
      const detection = kx === 1 && ky === 1 ? found : scaleDetection(found, kx, ky);
      return { detection, quality: faceQuality(detection) };
    });
  }

  /**
   * The aligned crops of a located face (the best of an appearance), from its frame at the working
   * size `at`: one decode per appearance instead of crops from every frame, and of the part of
   * the frame the crops sample only (decodeRegion), not of the whole frame.
   */
  async cropFace(jpeg: Buffer, face: LocatedFace, at: { width: number; height: number }): Promise<{ crop: RgbImage; aligned112: RgbImage | null }> {
    const areas = this.cropSizes().map((size) => alignedCropArea(face.detection, size));
    const area = { xmin: Math.min(...areas.map((a) => a.xmin)), ymin: Math.min(...areas.map((a) => a.ymin)), xmax: Math.max(...areas.map((a) => a.xmax)), ymax: Math.max(...areas.map((a) => a.ymax)) };
    const { image, toRegion } = await decodeRegion(jpeg, area, at);
    return this.align(image, scaleDetection(face.detection, toRegion.kx, toRegion.ky, toRegion.ox, toRegion.oy));
  }

  /** The sizes a face is aligned at: the configured crop, and 112 for the embedding model when that differs. */
  private cropSizes(): number[] {
    const size = this.section.faces.cropSize;
    return this.embedder && size !== 112 ? [size, 112] : [size];
  }

  /** The aligned crop, and the 112×112 one the embedding model takes (the same image when the crop is 112). */
  private align(image: RgbImage, detection: FaceDetection): { crop: RgbImage; aligned112: RgbImage | null } {
    const size = this.section.faces.cropSize;
    const crop = alignFace(image, detection, size);
    return { crop, aligned112: this.embedder ? (size === 112 ? crop : alignFace(image, detection, 112)) : null };
  }

  private detector(model: FaceModelChoice): BlazeFaceDetector {
    const detector = this.detectors.get(model);
    if (!detector) throw new Error(`face model "${model}" is not loaded`);
    return detector;
  }

  /** Faces with their crops at once (enrolment photos, where the one face is the point). */
  async faces(image: RgbImage, model: FaceModelChoice): Promise<AnalyzedFace[]> {
    const detections = await this.detector(model).detect(image);
    return detections.map((detection) => ({ detection, quality: faceQuality(detection), ...this.align(image, detection) }));
  }

  /**
   * Reads the plate of a frame: text detection over the camera's plate region only (the whole
   * frame when it has none), then recognition of the plate-shaped boxes found there. Boxes come
   * back in the frame's pixels whatever the region, so zones, passages and events do not change.
   */
  async plate(image: RgbImage, region?: PlateRegion): Promise<FrameAnalysis['plate']> {
    if (!this.ocr) throw new Error('plate models are not loaded');
    const area = region ? regionPixels(region, image.width, image.height) : null;
    const searched = area ? regionOf(image, area) : image;
    // The region is searched at the scale the whole frame would be (detMaxSide over the frame's
    // longer side): the smallest plate found stays the same, and the cost follows the region's area.
    const frameScale = Math.min(1, this.section.plates.detMaxSide / Math.max(image.width, image.height));
    const detMaxSide = Math.max(32, Math.round(Math.max(searched.width, searched.height) * frameScale));
    const shift = (b: TextBox): TextBox =>
      area ? { score: b.score, points: b.points.map(([x, y]) => [x + area.xmin, y + area.ymin]) as TextBox['points'] } : b;
    // Recognition costs per box: read only plate-shaped regions, the most confident first.
    const boxes = (await this.ocr.detect(searched, detMaxSide))
      .filter((b) => plateShaped(b.points))
      .sort((a, b) => b.score - a.score)
      .slice(0, this.section.plates.maxCandidates)
      .map(shift);
    // Read from the whole frame at the shifted boxes: a plate on the region's edge keeps the few pixels the unclip adds beyond it.
    const lines = (await this.ocr.recognize(image, boxes)).filter((l) => l.score >= PPOCR_REC.thresholds.minLineScore!);
    const reading = pickPlate(lines, this.section.plates.minConfidence);
    if (!reading) return null;
    const xs = reading.line.box.points.map((p) => p[0]);
    const ys = reading.line.box.points.map((p) => p[1]);
    const w = Math.max(...xs) - Math.min(...xs), h = Math.max(...ys) - Math.min(...ys);
    const box = { xmin: Math.min(...xs), ymin: Math.min(...ys), xmax: Math.max(...xs), ymax: Math.max(...ys) };
    const crop = cropBox(image, { xmin: box.xmin - w * 0.1, ymin: box.ymin - h * 0.3, xmax: box.xmax + w * 0.1, ymax: box.ymax + h * 0.3 });
    return { ...reading, crop, box };
  }

  async analyze(jpeg: Buffer, options: { detect: string[]; faceModel: FaceModelChoice; maxSide?: number; plateRegion?: PlateRegion }): Promise<FrameAnalysis> {
    const image = await this.decode(jpeg, options.maxSide);
    const [faces, plate] = await Promise.all([
      options.detect.includes('face') ? this.faces(image, options.faceModel) : Promise.resolve([]),
      options.detect.includes('plate') ? this.plate(image, options.plateRegion) : Promise.resolve(null),
    ]);
    return { width: image.width, height: image.height, faces, plate };
  }
}

import ort from './onnxruntime.ts';
import { invertAffine, letterboxInto, letterboxShrink, similarityTransform, warpAffine, type Affine, type Box, type Point, type RgbImage } from './image.ts';
import type { LoadedModel } from './registry.ts';

/** MediaPipe SSD anchor options of the two BlazeFace graphs (edge-models.md §1.3). */
export interface AnchorOptions {
  inputSize: number;
  numLayers: number;
  strides: number[];
  anchorOffset: number;
}

export const FRONT_ANCHORS: AnchorOptions = { inputSize: 128, numLayers: 4, strides: [8, 16, 16, 16], anchorOffset: 0.5 };
export const BACK_ANCHORS: AnchorOptions = { inputSize: 256, numLayers: 4, strides: [16, 32, 32, 32], anchorOffset: 0.5 };

/**
 * SSD anchors as MediaPipe's SsdAnchorsCalculator makes them with aspect ratio 1.0,
 * interpolated scale aspect ratio 1.0 and fixed anchor size: two anchors per cell and layer,
 * layers with equal strides sharing one grid. Only centres matter (w = h = 1).
 */
export function generateAnchors(options: AnchorOptions): Float32Array {
  const centres: number[] = [];
  let layer = 0;
  while (layer < options.numLayers) {
    let last = layer;
    let anchorsPerCell = 0;
    while (last < options.numLayers && options.strides[last] === options.strides[layer]) {
      anchorsPerCell += 2;
      last++;
    }
    const fm = Math.ceil(options.inputSize / options.strides[layer]!);
    for (let y = 0; y < fm; y++) {
      for (let x = 0; x < fm; x++) {
        for (let k = 0; k < anchorsPerCell; k++) centres.push((x + options.anchorOffset) / fm, (y + options.anchorOffset) / fm);
      }
    }
    layer = last;
  }
  return Float32Array.from(centres);
}

/** A face in source-image pixels. Keypoints: eye (image left), eye (image right), nose, mouth, ear, ear. */
export interface FaceDetection {
  box: Box;
  score: number;
  keypoints: Point[];
}

/** A detection in the letterboxed square, normalised to [0, 1]. */
interface RawDetection {
  box: Box;
  score: number;
  keypoints: Point[];
}

export function sigmoid(x: number): number {
  const c = Math.max(-100, Math.min(100, x));
  return 1 / (1 + Math.exp(-c));
}

/** Decodes the two output groups (512 + 384 anchors) into normalised detections above minScore. */
export function decodeDetections(scores: Float32Array, regressors: Float32Array, anchors: Float32Array, inputSize: number, minScore: number): RawDetection[] {
  const out: RawDetection[] = [];
  const count = anchors.length / 2;
  for (let i = 0; i < count; i++) {
    const score = sigmoid(scores[i]!);
    if (score < minScore) continue;
    const r = i * 16;
    const acx = anchors[i * 2]!, acy = anchors[i * 2 + 1]!;
    const cx = regressors[r]! / inputSize + acx;
    const cy = regressors[r + 1]! / inputSize + acy;
    const w = regressors[r + 2]! / inputSize;
    const h = regressors[r + 3]! / inputSize;
    const keypoints: Point[] = [];
    for (let k = 0; k < 6; k++) keypoints.push([regressors[r + 4 + 2 * k]! / inputSize + acx, regressors[r + 5 + 2 * k]! / inputSize + acy]);
    out.push({ score, box: { xmin: cx - w / 2, ymin: cy - h / 2, xmax: cx + w / 2, ymax: cy + h / 2 }, keypoints });
  }
  return out;
}

function boxIou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const iy = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const inter = ix * iy;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * MediaPipe's WEIGHTED non-max suppression: each cluster (IoU > threshold with the best
 * remaining box, itself included) becomes one detection whose box and keypoints are the
 * score-weighted mean of the cluster and whose score is the best one's.
 */
export function weightedNms(detections: RawDetection[], iouThreshold: number, maxDetections: number): RawDetection[] {
  let remaining = [...detections].sort((a, b) => b.score - a.score);
  const out: RawDetection[] = [];
  while (remaining.length > 0 && out.length < maxDetections) {
    const top = remaining[0]!;
    const cluster: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const d of remaining) (boxIou(top.box, d.box) > iouThreshold || d === top ? cluster : rest).push(d);
    let total = 0;
    const box = { xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
    const keypoints: Point[] = top.keypoints.map(() => [0, 0]);
    for (const d of cluster) {
      total += d.score;
      box.xmin += d.box.xmin * d.score;
      box.ymin += d.box.ymin * d.score;
      box.xmax += d.box.xmax * d.score;
      box.ymax += d.box.ymax * d.score;
      d.keypoints.forEach((k, i) => {
        keypoints[i]![0] += k[0] * d.score;
        keypoints[i]![1] += k[1] * d.score;
      });
    }
    out.push({
      score: top.score,
      box: { xmin: box.xmin / total, ymin: box.ymin / total, xmax: box.xmax / total, ymax: box.ymax / total },
      keypoints: keypoints.map(([x, y]) => [x / total, y / total] as Point),
    });
    remaining = rest;
  }
  return out;
}

/** Where the image sits inside the letterboxed square, so that results map back. */
export interface Letterbox {
  size: number;
  scale: number;
  offsetX: number;
  offsetY: number;
}

/** RGB → [-1, 1] NHWC in a square; the pad stays 0 in tensor space (mid grey), as MediaPipe pads. */
export function letterboxTensor(resized: RgbImage, size: number, into?: Float32Array): { tensor: Float32Array; offsetX: number; offsetY: number } {
  const tensor = letterboxInto(size, into);
  const offsetX = Math.floor((size - resized.width) / 2);
  const offsetY = Math.floor((size - resized.height) / 2);
  const { data, width, height } = resized;
  for (let y = 0; y < height; y++) {
    let o = ((y + offsetY) * size + offsetX) * 3;
    let s = y * width * 3;
    for (let x = 0; x < width * 3; x++) tensor[o++] = (data[s++]! / 255) * 2 - 1;
  }
  return { tensor, offsetX, offsetY };
}

export interface FaceDetectorOptions {
  minScore: number;
  nmsIou: number;
  maxDetections: number;
}

/** BlazeFace on onnxruntime: letterbox, run, decode, weighted NMS, map back to source pixels. */
export class BlazeFaceDetector {
  private readonly anchors: Float32Array;
  readonly inputSize: number;

  constructor(
    private readonly model: LoadedModel,
    private readonly options: FaceDetectorOptions,
  ) {
    this.inputSize = model.manifest.inputs[0]!.shape[1]!;
    this.anchors = generateAnchors(this.inputSize === 128 ? FRONT_ANCHORS : BACK_ANCHORS);
  }

  /** Builds the input tensor (exposed so the benchmark can time session.run alone). */
  async prepare(image: RgbImage): Promise<{ feeds: Record<string, ort.Tensor>; letterbox: Letterbox }> {
    const size = this.inputSize;
    // A buffer the model's thread moved back after the last frame, when there is one (cleared for the pad).
    const into = this.model.session.inputBuffer(size * size * 3);
    const { tensor, scale, offsetX, offsetY } = image.width > size || image.height > size ? letterboxShrink(image, size, into) : { ...letterboxTensor(image, size, into), scale: 1 };
    const feeds = { [this.model.manifest.inputs[0]!.name]: new ort.Tensor('float32', tensor, [1, size, size, 3]) };
    return { feeds, letterbox: { size, scale, offsetX, offsetY } };
  }

  /** `transferInputs`: the feeds were made for this run alone (see WorkerSession.run). */
  async run(feeds: Record<string, ort.Tensor>, options: { transferInputs?: boolean } = {}): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.model.session.run(feeds, options);
  }

  async detect(image: RgbImage): Promise<FaceDetection[]> {
    const { feeds, letterbox } = await this.prepare(image);
    const outputs = await this.run(feeds, { transferInputs: true });
    return this.postprocess(outputs, letterbox, image);
  }

  postprocess(outputs: ort.InferenceSession.OnnxValueMapType, letterbox: Letterbox, image: RgbImage): FaceDetection[] {
    const [s1, s2, r1, r2] = this.model.manifest.outputs.map((o) => outputs[o.name]!.data as Float32Array);
    // Group order matters: 512 anchors of the 16×16 grid, then 384 of the 8×8 grid.
    const scores = new Float32Array(s1!.length + s2!.length);
    scores.set(s1!);
    scores.set(s2!, s1!.length);
    const regressors = new Float32Array(r1!.length + r2!.length);
    regressors.set(r1!);
    regressors.set(r2!, r1!.length);
    const raw = decodeDetections(scores, regressors, this.anchors, letterbox.size, this.options.minScore);
    const kept = weightedNms(raw, this.options.nmsIou, this.options.maxDetections);
    const toX = (v: number) => Math.min(image.width, Math.max(0, (v * letterbox.size - letterbox.offsetX) / letterbox.scale));
    const toY = (v: number) => Math.min(image.height, Math.max(0, (v * letterbox.size - letterbox.offsetY) / letterbox.scale));
    return kept
      .map((d) => ({
        score: d.score,
        box: { xmin: toX(d.box.xmin), ymin: toY(d.box.ymin), xmax: toX(d.box.xmax), ymax: toY(d.box.ymax) },
        keypoints: d.keypoints.map(([x, y]) => [toX(x), toY(y)] as Point),
      }))
      .filter((d) => d.box.xmax - d.box.xmin >= 2 && d.box.ymax - d.box.ymin >= 2);
  }
}

/** A detection in the pixels of the same image at another scale (kx, ky), shifted by (ox, oy) after scaling. */
export function scaleDetection(d: FaceDetection, kx: number, ky = kx, ox = 0, oy = 0): FaceDetection {
  return {
    score: d.score,
    box: { xmin: d.box.xmin * kx - ox, ymin: d.box.ymin * ky - oy, xmax: d.box.xmax * kx - ox, ymax: d.box.ymax * ky - oy },
    keypoints: d.keypoints.map(([x, y]) => [x * kx - ox, y * ky - oy] as Point),
  };
}

/** ArcFace's 112×112 template: eyes, nose tip, and the mouth centre (mean of its two corners). */
const ARCFACE_TEMPLATE: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [(41.5493 + 70.7299) / 2, (92.3655 + 92.2041) / 2],
];

/**
 * An aligned face crop: the eyes, nose and mouth are warped onto the ArcFace template, scaled
 * to size×size, so embeddings and human review see the face upright and centred.
 */
export function alignFace(image: RgbImage, face: FaceDetection, size = 112): RgbImage {
  return warpAffine(image, alignment(face, size), size, size);
}

/** The transform from the aligned crop's pixels to the source's. */
function alignment(face: FaceDetection, size: number): Affine {
  const k = size / 112;
  const dst = ARCFACE_TEMPLATE.map(([x, y]) => [x * k, y * k] as Point);
  return invertAffine(similarityTransform(face.keypoints.slice(0, 4), dst));
}

/**
 * The part of the source that alignFace(…, size) samples, with the pixel bilinear sampling
 * reads beyond it: decoding this much of a frame is enough for the crop.
 */
export function alignedCropArea(face: FaceDetection, size = 112): Box {
  const [a, b, tx, c, d, ty] = alignment(face, size);
  const xs: number[] = [], ys: number[] = [];
  for (const [x, y] of [[0, 0], [size, 0], [0, size], [size, size]] as const) {
    xs.push(a * x + b * y + tx);
    ys.push(c * x + d * y + ty);
  }
  return { xmin: Math.min(...xs) - 1, ymin: Math.min(...ys) - 1, xmax: Math.max(...xs) + 1, ymax: Math.max(...ys) + 1 };
}

export interface FaceQuality {
  /** 0..1: overall, used to pick the best crop of an appearance. */
  score: number;
  /** Face width in source pixels. */
  widthPx: number;
  /** 0..1: 1 when the nose sits midway between the eyes and the eye line is level. */
  frontal: number;
  confidence: number;
}

/**
 * A cheap quality score from what the detector already gives: size (an 80 px face is enough
 * for review and embeddings), confidence, and frontalness from the keypoints (nose offset from
 * the eye midpoint for yaw, eye-line slope for roll).
 */
export function faceQuality(face: FaceDetection, goodWidthPx = 80): FaceQuality {
  const widthPx = face.box.xmax - face.box.xmin;
  const [le, re, nose] = face.keypoints as [Point, Point, Point];
  const eyeDx = re[0] - le[0];
  const eyeDy = re[1] - le[1];
  const eyeDist = Math.hypot(eyeDx, eyeDy);
  const yaw = eyeDist > 0 ? Math.abs(nose[0] - (le[0] + re[0]) / 2) / (eyeDist / 2) : 1;
  const roll = Math.abs(Math.atan2(eyeDy, Math.max(1e-6, Math.abs(eyeDx)))) / (Math.PI / 2);
  const frontal = Math.max(0, 1 - Math.min(1, yaw)) * Math.max(0, 1 - roll);
  const size = Math.min(1, widthPx / goodWidthPx);
  const score = face.score * size * (0.5 + 0.5 * frontal);
  return { score, widthPx, frontal, confidence: face.score };
}

import ClipperLib from 'clipper-lib';
import ort from './onnxruntime.ts';
import { resizeExact, type Affine, type Point, type RgbImage } from './image.ts';
import type { LoadedModel } from './registry.ts';

export const DICTIONARY_ENTRIES = 6623;

/**
 * The recognition classes: blank, the 6623 dictionary entries, then a space. Split on "\n"
 * only and never trim: entry 5709 is U+3000 (ideographic space) and trimming it would shift
 * every later class by one (edge-models.md §2.5).
 */
export function loadDictionary(text: string, source = 'ppocr_keys_v1.txt'): string[] {
  const keys = text.split('\n');
  if (keys.length === DICTIONARY_ENTRIES + 1 && keys[DICTIONARY_ENTRIES] === '') keys.pop();
  if (keys.length !== DICTIONARY_ENTRIES) throw new Error(`${source}: expected ${DICTIONARY_ENTRIES} entries, found ${keys.length}`);
  return ['', ...keys, ' '];
}

export interface DbOptions {
  bitmap: number;
  boxScore: number;
  unclipRatio: number;
  minSize: number;
  maxCandidates: number;
}

/** A detected text region: four corners (tl, tr, br, bl) in source pixels and its mean probability. */
export interface TextBox {
  points: [Point, Point, Point, Point];
  score: number;
}

/** Convex hull (Andrew's monotone chain), counter-clockwise. */
function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * The minimum-area rectangle around points (rotating calipers over the hull edges), ordered
 * tl, tr, br, bl as PaddleOCR's get_mini_boxes orders them; with its shorter side.
 */
export function minAreaRect(points: Point[]): { box: [Point, Point, Point, Point]; shortSide: number } {
  const hull = convexHull(points);
  let best: { area: number; corners: Point[]; w: number; h: number } | null = null;
  const edges = hull.length < 2 ? 1 : hull.length;
  for (let i = 0; i < edges; i++) {
    const a = hull[i]!, b = hull[(i + 1) % hull.length]!;
    let ux = b[0] - a[0], uy = b[1] - a[1];
    const len = Math.hypot(ux, uy);
    if (len === 0) {
      ux = 1; uy = 0;
    } else {
      ux /= len; uy /= len;
    }
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy, v = -p[0] * uy + p[1] * ux;
      minU = Math.min(minU, u); maxU = Math.max(maxU, u); minV = Math.min(minV, v); maxV = Math.max(maxV, v);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (!best || area < best.area) {
      const corner = (u: number, v: number): Point => [u * ux - v * uy, u * uy + v * ux];
      best = { area, corners: [corner(minU, minV), corner(maxU, minV), corner(maxU, maxV), corner(minU, maxV)], w: maxU - minU, h: maxV - minV };
    }
  }
  const corners = best!.corners.sort((p, q) => p[0] - q[0]);
  // get_mini_boxes: the two leftmost give tl/bl by y, the two rightmost tr/br by y.
  const [l1, l2, r1, r2] = corners as [Point, Point, Point, Point];
  const [tl, bl] = l1[1] <= l2[1] ? [l1, l2] : [l2, l1];
  const [tr, br] = r1[1] <= r2[1] ? [r1, r2] : [r2, r1];
  return { box: [tl, tr, br, bl], shortSide: Math.min(best!.w, best!.h) };
}

function polygonArea(p: Point[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!, b = p[(i + 1) % p.length]!;
    s += a[0] * b[1] - b[0] * a[1];
  }
  return Math.abs(s) / 2;
}

function polygonPerimeter(p: Point[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!, b = p[(i + 1) % p.length]!;
    s += Math.hypot(b[0] - a[0], b[1] - a[1]);
  }
  return s;
}

function insidePolygon(x: number, y: number, poly: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!, [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** PaddleOCR's box_score_fast: mean probability inside the box polygon. */
function boxScore(pred: Float32Array, width: number, height: number, box: Point[]): number {
  const xs = box.map((p) => p[0]), ys = box.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0, n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!insidePolygon(x + 0.5, y + 0.5, box)) continue;
      sum += pred[y * width + x]!;
      n++;
    }
  }
  return n ? sum / n : 0;
}

/** Expands a box by area·ratio/perimeter with round joins (pyclipper in PaddleOCR, clipper-lib here). */
export function unclip(box: Point[], ratio: number): Point[] {
  const distance = (polygonArea(box) * ratio) / polygonPerimeter(box);
  const scale = 100; // clipper works on integers
  const offset = new ClipperLib.ClipperOffset();
  offset.AddPath(
    box.map(([x, y]) => ({ X: Math.round(x * scale), Y: Math.round(y * scale) })),
    ClipperLib.JoinType.jtRound,
    ClipperLib.EndType.etClosedPolygon,
  );
  const solution: { X: number; Y: number }[][] = [];
  offset.Execute(solution, distance * scale);
  const biggest = solution.sort((a, b) => b.length - a.length)[0] ?? [];
  return biggest.map((p) => [p.X / scale, p.Y / scale] as Point);
}

let scratch: { labels: Int32Array; stack: Int32Array } | null = null;

/**
 * The labelling arrays, kept from one call to the next (dbPostprocess is synchronous, so one set
 * serves every caller): 1 MB of fresh arrays per plate read was a sixth of what a read made V8
 * collect. Labels are cleared here; the stack needs no clearing (read only below its top).
 */
function dbScratch(size: number): { labels: Int32Array; stack: Int32Array } {
  if (!scratch || scratch.labels.length < size) scratch = { labels: new Int32Array(size), stack: new Int32Array(size) };
  else scratch.labels.fill(0, 0, size);
  return scratch;
}

/**
 * The next pixel at or after `from` above the threshold and not yet in a region, or -1. A loop of
 * its own: inside dbPostprocess's big body V8 boxed every probability it read (a young-generation
 * collection per call, 0.5 ms of a 1.1 ms call for a 480×256 map).
 */
function nextSeed(pred: Float32Array, labels: Int32Array, from: number, size: number, bitmap: number): number {
  for (let i = from; i < size; i++) if (pred[i]! > bitmap && labels[i] === 0) return i;
  return -1;
}

/**
 * DB post-processing: threshold the probability map, take each connected region (8-connected,
 * standing in for cv2.findContours' outer contours), its minimum-area box, score it, unclip it
 * and map it back to the source image.
 */
export function dbPostprocess(pred: Float32Array, width: number, height: number, options: DbOptions, scaleX: number, scaleY: number, destW: number, destH: number): TextBox[] {
  const size = width * height;
  const { labels, stack } = dbScratch(size);
  const { bitmap, maxCandidates } = options;
  const boxes: TextBox[] = [];
  let label = 0;
  for (let start = nextSeed(pred, labels, 0, size, bitmap); start >= 0 && label < maxCandidates; start = nextSeed(pred, labels, start + 1, size, bitmap)) {
    label++;
    const region: Point[] = [];
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const idx = stack[--top]!;
      const x = idx % width, y = (idx - x) / width;
      region.push([x, y]);
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const n = yy * width + xx;
          if (labels[n] === 0 && pred[n]! > bitmap) {
            labels[n] = label;
            stack[top++] = n;
          }
        }
      }
    }
    if (region.length < 4) continue;
    const { box, shortSide } = minAreaRect(region);
    if (shortSide < options.minSize) continue;
    const score = boxScore(pred, width, height, box);
    if (score < options.boxScore) continue;
    const expanded = unclip(box, options.unclipRatio);
    if (expanded.length < 3) continue;
    const grown = minAreaRect(expanded);
    if (grown.shortSide < options.minSize + 2) continue;
    const clampX = (v: number) => Math.min(destW, Math.max(0, Math.round(v * scaleX)));
    const clampY = (v: number) => Math.min(destH, Math.max(0, Math.round(v * scaleY)));
    boxes.push({ points: grown.box.map(([x, y]) => [clampX(x), clampY(y)] as Point) as TextBox['points'], score });
  }
  return boxes;
}

const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];

/**
 * PaddleOCR's det input in one pass over the working image: resized to width×height as
 * cv2.resize's INTER_LINEAR does (half-pixel centres, 2×2 taps, no antialiasing: exactly what
 * PaddleOCR's DetResizeForTest feeds the model), BGR, ImageNet mean/std applied to the BGR
 * channels as they are, CHW. One pass instead of a libvips resize and a second pass to normalise
 * (≈ 3.3 against ≈ 2.1 ms for a 720p frame). At the image's own size it only normalises.
 */
export function detInput(image: RgbImage, width: number, height: number, out = new Float32Array(3 * width * height)): Float32Array {
  const { data, width: sw, height: sh } = image;
  const plane = width * height;
  if (out.length !== 3 * plane) throw new Error(`detInput: the output holds ${out.length} floats, not 3 × ${width} × ${height}`);
  const xA = new Int32Array(width), xB = new Int32Array(width), xW = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.max(0, (x + 0.5) * (sw / width) - 0.5);
    const x0 = Math.min(Math.floor(fx), sw - 1);
    xA[x] = x0 * 3;
    xB[x] = Math.min(x0 + 1, sw - 1) * 3;
    xW[x] = fx - x0;
  }
  // v/255 - mean) / std as v × k - o, per output plane (B, G, R).
  const kB = 1 / (255 * DET_STD[0]!), oB = DET_MEAN[0]! / DET_STD[0]!;
  const kG = 1 / (255 * DET_STD[1]!), oG = DET_MEAN[1]! / DET_STD[1]!;
  const kR = 1 / (255 * DET_STD[2]!), oR = DET_MEAN[2]! / DET_STD[2]!;
  for (let y = 0; y < height; y++) {
    const fy = Math.max(0, (y + 0.5) * (sh / height) - 0.5);
    const y0 = Math.min(Math.floor(fy), sh - 1);
    const wy = fy - y0;
    const row0 = y0 * sw * 3, row1 = Math.min(y0 + 1, sh - 1) * sw * 3;
    let o = y * width;
    for (let x = 0; x < width; x++, o++) {
      const a = row0 + xA[x]!, b = row0 + xB[x]!, c = row1 + xA[x]!, d = row1 + xB[x]!;
      const wx = xW[x]!;
      let top = data[a]! + (data[b]! - data[a]!) * wx;
      const r = top + (data[c]! + (data[d]! - data[c]!) * wx - top) * wy;
      top = data[a + 1]! + (data[b + 1]! - data[a + 1]!) * wx;
      const g = top + (data[c + 1]! + (data[d + 1]! - data[c + 1]!) * wx - top) * wy;
      top = data[a + 2]! + (data[b + 2]! - data[a + 2]!) * wx;
      const bl = top + (data[c + 2]! + (data[d + 2]! - data[c + 2]!) * wx - top) * wy;
      out[o] = bl * kB - oB;
      out[plane + o] = g * kG - oG;
      out[2 * plane + o] = r * kR - oR;
    }
  }
  return out;
}

/** A recognised line: text, mean CTC confidence, and where it was found. */
export interface TextLine {
  text: string;
  score: number;
  box: TextBox;
}

/** Greedy CTC: argmax per step, drop blanks and repeats, score = mean of the kept maxima. */
export function ctcDecode(probs: Float32Array, steps: number, classes: number, offset: number, dictionary: string[]): { text: string; score: number } {
  let text = '';
  let sum = 0, kept = 0, previous = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0, bestP = -Infinity;
    for (let c = 0; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += dictionary[best] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, score: kept ? sum / kept : 0 };
}

export interface OcrOptions extends DbOptions {
  maxSide: number;
  minLineScore: number;
  /** Narrowest recognition input (PaddleOCR: 320); default 320. */
  minRecWidth?: number;
  /**
   * Detector input resample: 'bilinear' (default) in one pass in JS as PaddleOCR's cv2.resize;
   * 'linear' and 'lanczos3' through libvips (the bench's baselines).
   */
  detResizeKernel?: 'bilinear' | 'lanczos3' | 'linear';
}

/** PP-OCRv4: text detection (DB) then recognition (CTC) of each region, in one batch. */
export class PaddleOcr {
  private readonly dictionary: string[];

  constructor(
    private readonly det: LoadedModel,
    private readonly rec: LoadedModel,
    private readonly options: OcrOptions,
  ) {
    const dict = rec.assets.dictionary;
    if (!dict) throw new Error(`model ${rec.manifest.id}: no dictionary asset`);
    this.dictionary = loadDictionary(dict.toString('utf8'));
  }

  /** Text regions of an image; `maxSide` overrides the configured detector input cap (a frame's part keeps the frame's scale). */
  async detect(image: RgbImage, maxSide = this.options.maxSide): Promise<TextBox[]> {
    // One resample straight to the network's multiple-of-32 size.
    const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
    const w = Math.max(32, Math.round((image.width * scale) / 32) * 32);
    const h = Math.max(32, Math.round((image.height * scale) / 32) * 32);
    const kernel = this.options.detResizeKernel ?? 'bilinear';
    // The libvips kernels (bench baselines) resize first; at the input's own size detInput only normalises.
    const source = kernel === 'bilinear' || (w === image.width && h === image.height) ? image : await resizeExact(image, w, h, kernel);
    // Every element is written: a buffer the model's thread moved back after the last read will do.
    const tensor = detInput(source, w, h, this.det.session.inputBuffer(3 * w * h));
    const out = await this.det.session.run({ [this.det.manifest.inputs[0]!.name]: new ort.Tensor('float32', tensor, [1, 3, h, w]) }, { transferInputs: true });
    const pred = out[this.det.manifest.outputs[0]!.name]!.data as Float32Array;
    return dbPostprocess(pred, w, h, this.options, image.width / w, image.height / h, image.width, image.height);
  }

  async recognize(image: RgbImage, boxes: TextBox[]): Promise<TextLine[]> {
    if (boxes.length === 0) return [];
    const height = 48;
    const crops = boxes.map((box) => cropGeometry(box));
    const maxRatio = Math.max(...crops.map((c) => c.width / c.height));
    // PaddleOCR pads every line to at least 320 px; the CTC model takes any width, and the pad
    // only adds blank steps. Lines are padded to a multiple of 8 of their own width instead
    // (a plate's line is ~220 px): recognition time is about proportional to the width.
    const batchW = Math.max(this.options.minRecWidth ?? 320, Math.ceil((height * maxRatio) / 8) * 8 + 8);
    const plane = height * batchW;
    // The right pad must be 0, and a reused buffer holds the last batch.
    const tensor = this.rec.session.inputBuffer(boxes.length * 3 * plane).fill(0);
    crops.forEach((crop, n) => {
      const resizedW = Math.min(batchW, Math.max(1, Math.ceil((height * crop.width) / crop.height)));
      const line = warpToLine(image, crop, resizedW, height);
      const base = n * 3 * plane;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < resizedW; x++) {
          const s = (y * resizedW + x) * 3;
          const o = y * batchW + x;
          // BGR, (v/255 - 0.5)/0.5; the right pad stays 0.
          tensor[base + o] = line[s + 2]! / 127.5 - 1;
          tensor[base + plane + o] = line[s + 1]! / 127.5 - 1;
          tensor[base + 2 * plane + o] = line[s]! / 127.5 - 1;
        }
      }
    });
    const feeds = { [this.rec.manifest.inputs[0]!.name]: new ort.Tensor('float32', tensor, [boxes.length, 3, height, batchW]) };
    const out = await this.rec.session.run(feeds, { transferInputs: true });
    const probs = out[this.rec.manifest.outputs[0]!.name]!;
    const [, steps, classes] = probs.dims as [number, number, number];
    const data = probs.data as Float32Array;
    return boxes.map((box, n) => ({ ...ctcDecode(data, steps, classes, n * steps * classes, this.dictionary), box }));
  }

  async read(image: RgbImage): Promise<TextLine[]> {
    const boxes = await this.detect(image);
    const lines = await this.recognize(image, boxes);
    return lines.filter((l) => l.score >= this.options.minLineScore);
  }
}

interface CropGeometry {
  origin: Point;
  /** Unit vectors along the line and across it, in source pixels. */
  along: Point;
  across: Point;
  width: number;
  height: number;
}

/** get_rotate_crop_image's geometry: width and height of the box; tall boxes are read rotated by 90°. */
function cropGeometry(box: TextBox): CropGeometry {
  const [tl, tr, br, bl] = box.points;
  const width = Math.max(Math.hypot(tr[0] - tl[0], tr[1] - tl[1]), Math.hypot(br[0] - bl[0], br[1] - bl[1]), 1);
  const height = Math.max(Math.hypot(bl[0] - tl[0], bl[1] - tl[1]), Math.hypot(br[0] - tr[0], br[1] - tr[1]), 1);
  const along: Point = [(tr[0] - tl[0]) / width, (tr[1] - tl[1]) / width];
  const across: Point = [(bl[0] - tl[0]) / height, (bl[1] - tl[1]) / height];
  if (height / width >= 1.5) {
    // Rotate 90° so that the text runs along the long side (PaddleOCR rotates counter-clockwise).
    return { origin: tr, along: across, across: [-along[0], -along[1]], width: height, height: width };
  }
  return { origin: tl, along, across, width, height };
}

/** Samples the rotated box straight into a (w × h) line image: crop and resize in one bilinear pass. */
function warpToLine(image: RgbImage, crop: CropGeometry, w: number, h: number): Buffer {
  const sx = crop.width / w, sy = crop.height / h;
  const outToSrc: Affine = [crop.along[0] * sx, crop.across[0] * sy, crop.origin[0], crop.along[1] * sx, crop.across[1] * sy, crop.origin[1]];
  return warpPixels(image, outToSrc, w, h);
}

function warpPixels(src: RgbImage, m: Affine, width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  const [a, b, tx, c, d, ty] = m;
  const { data, width: sw, height: sh } = src;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const fx = Math.min(sw - 1, Math.max(0, a * (x + 0.5) + b * (y + 0.5) + tx - 0.5));
      const fy = Math.min(sh - 1, Math.max(0, c * (x + 0.5) + d * (y + 0.5) + ty - 0.5));
      const x0 = Math.floor(fx), y0 = Math.floor(fy);
      const x1 = Math.min(sw - 1, x0 + 1), y1 = Math.min(sh - 1, y0 + 1);
      const wx = fx - x0, wy = fy - y0;
      const o = (y * width + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[(y0 * sw + x0) * 3 + ch]! * (1 - wx) + data[(y0 * sw + x1) * 3 + ch]! * wx;
        const bottom = data[(y1 * sw + x0) * 3 + ch]! * (1 - wx) + data[(y1 * sw + x1) * 3 + ch]! * wx;
        out[o + ch] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

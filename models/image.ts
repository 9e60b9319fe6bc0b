import { imageSize as probeSize } from 'image-size';
import sharp, { type Sharp } from 'sharp';

/** Interleaved 8-bit pixels, top-left origin, as sharp's raw() gives them. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

/** An axis-aligned box in pixels of some image. */
export interface Box {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export type Point = [number, number];

export class ImageDecodeError extends Error {}

/**
 * Frames whose longer side is at most this are analysed as decoded when the camera sets no
 * working size of its own. Shrinking them costs more than it saves: sharp's JPEG shrink-on-load
 * only starts at a 3× reduction, so a 720p JPEG fitted into 960 is decoded at full size and then
 * resampled (8.5 ms against 4.9 ms as decoded, docs/models.md), and plates keep their detail.
 */
export const AS_DECODED_UP_TO = 1280;

/**
 * How large a snapshot is analysed: `maxSide` bounds the longer side; frames whose longer side
 * is at most `asDecodedUpTo` are used as decoded (no resample) even when larger than `maxSide`.
 */
export interface WorkingSize {
  maxSide: number;
  asDecodedUpTo?: number;
}

/**
 * Decodes a JPEG (or PNG) once into RGB at a working size; everything downstream (detector
 * input, crops, OCR) reads this one buffer. JPEG shrink-on-load (libjpeg DCT scaling) is on, but
 * sharp only uses it when the reduction leaves a factor above the DCT scale (a 1080p frame
 * decodes at 1/2 for a working size ≤ 640, at full size for 960): docs/models.md has the figures.
 */
export async function decodeImage(input: Buffer, size: number | WorkingSize): Promise<RgbImage> {
  const working = workingSize(size);
  const { maxSide } = working;
  return toRgb(async () => {
    const pipeline = openImage(input).rotate();
    // The header only (read in JavaScript: microseconds), and only when a frame could be kept as decoded.
    const keepAsDecoded = working.asDecodedUpTo > maxSide && keptAsDecoded(await frameLongerSide(input), working);
    if (!keepAsDecoded) pipeline.resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true });
    return pipeline;
  });
}

const openImage = (input: Buffer) => sharp(input, { failOn: 'error', limitInputPixels: 50_000_000 });

/** Runs a decode to interleaved RGB; whatever libvips refuses becomes an ImageDecodeError. */
async function toRgb(build: () => Sharp | Promise<Sharp>): Promise<RgbImage> {
  try {
    const { data, info } = await (await build()).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageDecodeError(`expected 3 channels, got ${info.channels}`);
    return { data, width: info.width, height: info.height, channels: 3 };
  } catch (error) {
    throw asDecodeError(error);
  }
}

const asDecodeError = (error: unknown) => (error instanceof ImageDecodeError ? error : new ImageDecodeError(`not a decodable image: ${(error as Error).message}`));

/** decodeImage auto-rotates: EXIF orientations 5–8 swap the sides. */
const upright = (width: number, height: number, orientation?: number) => (orientation && orientation >= 5 ? { width: height, height: width } : { width, height });

const workingSize = (size: number | WorkingSize): Required<WorkingSize> => (typeof size === 'number' ? { maxSide: size, asDecodedUpTo: 0 } : { asDecodedUpTo: 0, ...size });

/** Frames up to asDecodedUpTo are used as decoded, without a resample, even when larger than maxSide. */
const keptAsDecoded = (longer: number, { maxSide, asDecodedUpTo }: Required<WorkingSize>) => asDecodedUpTo > maxSide && longer <= asDecodedUpTo;

/** The size decodeImage gives a frame of srcWidth×srcHeight at `size` (the same rule, without decoding). */
export function workingDimensions(srcWidth: number, srcHeight: number, size: number | WorkingSize): { width: number; height: number } {
  const working = workingSize(size);
  const longer = Math.max(srcWidth, srcHeight);
  if (keptAsDecoded(longer, working) || longer <= working.maxSide) return { width: srcWidth, height: srcHeight };
  const scale = working.maxSide / longer;
  return { width: Math.max(1, Math.round(srcWidth * scale)), height: Math.max(1, Math.round(srcHeight * scale)) };
}

/**
 * A JPEG's (or PNG's) pixel size from its header alone, as decodeImage will orient it. Read in
 * JavaScript by image-size (≈ 3 µs); asking libvips cost ≈ 0.7 ms a frame, a tenth of the small
 * decode faces need. libvips answers for what image-size cannot read.
 */
export async function imageSize(input: Buffer): Promise<{ width: number; height: number }> {
  try {
    const { width, height, orientation } = probeSize(input);
    if (width && height) return upright(width, height, orientation);
  } catch {
    // Not a header image-size knows: libvips below gives the error or the answer.
  }
  try {
    const { width, height, orientation } = await openImage(input).metadata();
    if (!width || !height) throw new ImageDecodeError('the image header has no size');
    return upright(width, height, orientation);
  } catch (error) {
    throw asDecodeError(error);
  }
}

/**
 * A part of a frame, decoded at the frame's working size: `area` is in the pixels of the frame
 * scaled to `at` (width×height). Only that part is extracted from the full-size decode and
 * resampled, instead of resampling the whole frame, which costs more than the decode itself
 * (1080p fitted into 960: 16.6 ms against 10.8 ms decoded as is, docs/models.md). `toRegion`
 * maps a point of the working-size frame into the returned image.
 */
export async function decodeRegion(
  input: Buffer,
  area: Box,
  at: { width: number; height: number },
): Promise<{ image: RgbImage; toRegion: { kx: number; ky: number; ox: number; oy: number } }> {
  const source = await imageSize(input);
  const sx = source.width / at.width, sy = source.height / at.height;
  // Whole pixels of the working-size frame, at least one, inside it.
  const wx0 = Math.min(at.width - 1, Math.max(0, Math.floor(area.xmin)));
  const wy0 = Math.min(at.height - 1, Math.max(0, Math.floor(area.ymin)));
  const wx1 = Math.max(wx0 + 1, Math.min(at.width, Math.ceil(area.xmax)));
  const wy1 = Math.max(wy0 + 1, Math.min(at.height, Math.ceil(area.ymax)));
  const left = Math.floor(wx0 * sx), top = Math.floor(wy0 * sy);
  const width = Math.max(1, Math.min(source.width, Math.ceil(wx1 * sx)) - left);
  const height = Math.max(1, Math.min(source.height, Math.ceil(wy1 * sy)) - top);
  const outWidth = Math.max(1, Math.round(width / sx)), outHeight = Math.max(1, Math.round(height / sy));
  const image = await toRgb(() => {
    const pipeline = openImage(input).rotate().extract({ left, top, width, height });
    return outWidth !== width || outHeight !== height ? pipeline.resize({ width: outWidth, height: outHeight, fit: 'fill' }) : pipeline;
  });
  const kx = image.width / width, ky = image.height / height;
  return { image, toRegion: { kx: sx * kx, ky: sy * ky, ox: left * kx, oy: top * ky } };
}

async function frameLongerSide(input: Buffer): Promise<number> {
  const { width, height } = await imageSize(input);
  return Math.max(width, height);
}

/** Resizes a raw image so that it fits inside width×height, keeping the aspect ratio. */
export async function resizeInside(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({ width, height, fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

/** Resizes a raw image to exactly width×height (aspect not kept). */
export async function resizeExact(image: RgbImage, width: number, height: number, kernel: 'lanczos3' | 'linear' = 'lanczos3'): Promise<RgbImage> {
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({ width, height, fit: 'fill', kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

export function encodeJpeg(image: RgbImage, quality = 85): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const iy = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const inter = ix * iy;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

/** A 2×3 affine matrix [a, b, tx, c, d, ty]: x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export type Affine = [number, number, number, number, number, number];

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) taking src points
 * onto dst points (Umeyama, 2D). Used to align a face onto a template.
 */
export function similarityTransform(src: Point[], dst: Point[]): Affine {
  const n = src.length;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0]; sy += src[i]![1]; dx += dst[i]![0]; dy += dst[i]![1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  let num1 = 0, num2 = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const ax = src[i]![0] - sx, ay = src[i]![1] - sy;
    const bx = dst[i]![0] - dx, by = dst[i]![1] - dy;
    num1 += ax * bx + ay * by;
    num2 += ax * by - ay * bx;
    den += ax * ax + ay * ay;
  }
  const a = den > 0 ? num1 / den : 1;
  const b = den > 0 ? num2 / den : 0;
  // [a -b; b a] is scale·rotation.
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

export function invertAffine([a, b, tx, c, d, ty]: Affine): Affine {
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-12) throw new Error('singular transform');
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/**
 * Samples an output image through a transform from output to source pixels (bilinear,
 * border pixels outside the source are black). Small outputs only: crops of faces and text lines.
 */
export function warpAffine(src: RgbImage, outToSrc: Affine, width: number, height: number): RgbImage {
  const out = Buffer.alloc(width * height * 3);
  const [a, b, tx, c, d, ty] = outToSrc;
  const { data, width: sw, height: sh } = src;
  const stride = sw * 3;
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      const fx = a * (x + 0.5) + b * (y + 0.5) + tx - 0.5;
      const fy = c * (x + 0.5) + d * (y + 0.5) + ty - 0.5;
      const x0 = Math.floor(fx), y0 = Math.floor(fy);
      if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh) continue; // wholly outside: black
      const wx = fx - x0, wy = fy - y0;
      // Neighbours outside the source count as black, as in the slow path this replaces.
      const w00 = x0 >= 0 && y0 >= 0 ? (1 - wx) * (1 - wy) : 0;
      const w10 = x0 + 1 < sw && y0 >= 0 ? wx * (1 - wy) : 0;
      const w01 = x0 >= 0 && y0 + 1 < sh ? (1 - wx) * wy : 0;
      const w11 = x0 + 1 < sw && y0 + 1 < sh ? wx * wy : 0;
      const i00 = y0 * stride + x0 * 3;
      const i10 = i00 + 3, i01 = i00 + stride, i11 = i01 + 3;
      for (let ch = 0; ch < 3; ch++) {
        let acc = 0;
        if (w00) acc += data[i00 + ch]! * w00;
        if (w10) acc += data[i10 + ch]! * w10;
        if (w01) acc += data[i01 + ch]! * w01;
        if (w11) acc += data[i11 + ch]! * w11;
        out[o + ch] = Math.round(acc);
      }
    }
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * Shrinks an image into a square float tensor (letterboxed, NHWC, RGB mapped to [-1, 1], pad 0)
 * by averaging samples of each output pixel's footprint. A round trip through libvips for a
 * 128×128 input cost more than the inference itself (2.7 ms against 2.1 ms for BlazeFace 128).
 */
export function letterboxShrink(src: RgbImage, size: number, into?: Float32Array): { tensor: Float32Array; scale: number; offsetX: number; offsetY: number } {
  const scale = Math.min(1, size / Math.max(src.width, src.height));
  const w = Math.max(1, Math.round(src.width * scale)), h = Math.max(1, Math.round(src.height * scale));
  const offsetX = Math.floor((size - w) / 2), offsetY = Math.floor((size - h) / 2);
  const tensor = letterboxInto(size, into);
  const { data, width: sw, height: sh } = src;
  // About 3×3 samples per output pixel: enough against aliasing at the 4–15× reductions
  // BlazeFace inputs need, for a fraction of a full box filter's cost on the event loop.
  const xStep = Math.max(1, Math.floor(sw / w / 3)), yStep = Math.max(1, Math.floor(sh / h / 3));
  const xStart = new Int32Array(w + 1);
  for (let x = 0; x <= w; x++) xStart[x] = Math.min(sw, Math.round((x * sw) / w));
  for (let y = 0; y < h; y++) {
    const y0 = Math.round((y * sh) / h), y1 = Math.max(y0 + 1, Math.round(((y + 1) * sh) / h));
    let o = ((y + offsetY) * size + offsetX) * 3;
    for (let x = 0; x < w; x++, o += 3) {
      const x0 = xStart[x]!, x1 = Math.max(x0 + 1, xStart[x + 1]!);
      let r = 0, g = 0, b = 0, n = 0;
      for (let yy = y0; yy < y1; yy += yStep) {
        let i = (yy * sw + x0) * 3;
        for (let xx = x0; xx < x1; xx += xStep, i += xStep * 3) {
          r += data[i]!;
          g += data[i + 1]!;
          b += data[i + 2]!;
          n++;
        }
      }
      const k = 2 / (255 * n);
      tensor[o] = r * k - 1;
      tensor[o + 1] = g * k - 1;
      tensor[o + 2] = b * k - 1;
    }
  }
  return { tensor, scale: w / src.width, offsetX, offsetY };
}

/** The square NHWC tensor a letterbox is drawn into: `into` (a reused buffer) cleared, since the pad must read 0, or a new one. */
export function letterboxInto(size: number, into?: Float32Array): Float32Array {
  if (!into) return new Float32Array(size * size * 3);
  if (into.length !== size * size * 3) throw new Error(`letterbox: the buffer holds ${into.length} floats, not ${size} × ${size} × 3`);
  return into.fill(0);
}

/** Crops an axis-aligned region (clamped to the image). */
export function cropBox(src: RgbImage, box: Box): RgbImage {
  const x0 = Math.max(0, Math.floor(box.xmin)), y0 = Math.max(0, Math.floor(box.ymin));
  const x1 = Math.min(src.width, Math.ceil(box.xmax)), y1 = Math.min(src.height, Math.ceil(box.ymax));
  const w = Math.max(1, x1 - x0), h = Math.max(1, y1 - y0);
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    const row = Math.min(src.height - 1, y0 + y);
    src.data.copy(out, y * w * 3, (row * src.width + x0) * 3, (row * src.width + x0 + w) * 3);
  }
  return { data: out, width: w, height: h, channels: 3 };
}

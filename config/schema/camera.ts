import { z } from 'zod';
import { Clock, FilePath, Id } from './common.ts';

const Unit = z.number().min(0).max(1);

const ArmedWindowSchema = z
  .object({
    days: z.array(z.number().int().min(1).max(7)).min(1).optional().describe('ISO weekdays (1 = Monday); every day when omitted'),
    from: Clock,
    to: Clock.describe('May be earlier than "from" for a window past midnight'),
  })
  .strict();

export const CameraZoneSchema = z
  .object({
    id: Id.describe('Zone id; when it is also a site zone id, events are placed in that zone'),
    polygon: z.array(z.tuple([Unit, Unit])).min(3).describe('Corners in normalised frame coordinates (0..1, origin top-left)'),
    armed: z.array(ArmedWindowSchema).optional().describe('When the zone is armed (site time zone); always when omitted'),
  })
  .strict();

/**
 * The part of the frame where plates are searched: the lane an LPR installer draws. Edges are
 * fractions of the frame's width (left, right) and height (top, bottom) from its top-left corner,
 * as zone polygons are, so the same numbers work at any snapshot size.
 */
export const PlateRegionSchema = z
  .object({
    left: Unit.describe('Left edge, fraction of the frame width (0 = left border)'),
    top: Unit.describe('Top edge, fraction of the frame height (0 = top border)'),
    right: Unit.describe('Right edge, fraction of the frame width (1 = right border); more than left'),
    bottom: Unit.describe('Bottom edge, fraction of the frame height (1 = bottom border); more than top'),
  })
  .strict()
  .superRefine((r, ctx) => {
    // An edge already refused for being outside 0..1 is not compared again.
    const inFrame = (v: number) => v >= 0 && v <= 1;
    if (inFrame(r.left) && inFrame(r.right) && r.right <= r.left) ctx.addIssue({ code: 'custom', path: ['right'], message: `must be more than left (${r.left}): the region would be empty` });
    if (inFrame(r.top) && inFrame(r.bottom) && r.bottom <= r.top) ctx.addIssue({ code: 'custom', path: ['bottom'], message: `must be more than top (${r.top}): the region would be empty` });
  })
  .describe(
    'Where plates are searched: a rectangle around the lane, in fractions of the frame (0..1, origin top-left). Only this part of each snapshot goes through text detection and recognition (faster, and no plates of cars on the road behind); plate boxes, zones and events stay in whole-frame coordinates. Whole frame when omitted (docs/models.md, Plate region)',
  );

export type PlateRegion = z.infer<typeof PlateRegionSchema>;

/** Per-device options of a camera whose snapshots the gateway analyses. */
export const CameraDeviceSchema = z
  .object({
    detect: z.array(z.enum(['face', 'plate'])).min(1).default(['face', 'plate']),
    faceModel: z.enum(['front', 'back']).default('back').describe('front: BlazeFace 128 for near cameras; back: BlazeFace 256 for far ones'),
    snapshotUrl: z.url({ protocol: /^https?$/ }).optional().describe('Polled at pollSeconds when set (HTTP GET returning a JPEG)'),
    pollSeconds: z.number().min(0.2).max(3600).default(1),
    maxSide: z
      .number()
      .int()
      .min(320)
      .max(4096)
      .optional()
      .describe(
        'This camera\'s working size: plates are read and face crops taken from snapshots decoded to fit inside it (faces alone are detected on a smaller decode). When omitted, snapshots up to 1280 px (720p) are used as decoded and larger ones fit inside intake.maxSide (docs/models.md, Decoding)',
      ),
    plateRegion: PlateRegionSchema.optional(),
    zones: z.array(CameraZoneSchema).default([]),
  })
  .strict()
  .describe('Set to have the gateway analyse this camera\'s snapshots (faces, plates, zones); see docs/models.md');

export type CameraDeviceConfig = z.infer<typeof CameraDeviceSchema>;

/** Gateway-wide model, intake and privacy settings for camera analysis. */
export const CameraSectionSchema = z
  .object({
    models: z
      .object({
        intraOpThreads: z.number().int().min(1).max(16).default(1).describe('Threads per model session'),
        faceMinScore: z.number().min(0.1).max(0.99).default(0.75).describe('BlazeFace score threshold (0.5 MediaPipe short range, 0.65 back desktop, 0.75 keijiro)'),
        embedding: z
          .object({
            file: FilePath.describe('ONNX file the installer provides (ArcFace-style, input [1,3,112,112])'),
            sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the 64-hex-digit sha256 of the file'),
            inputName: z.string().default('input'),
            outputName: z.string().default('output'),
            licence: z.string().min(1).describe('Licence of the weights, shown in /api/models'),
            matchThreshold: z.number().min(-1).max(1).default(0.5).describe('Cosine similarity for a 1:N match'),
          })
          .strict()
          .optional()
          .describe('Optional face-embedding model; without it faces stay unidentified'),
      })
      .strict()
      .default({ intraOpThreads: 1, faceMinScore: 0.75 }),
    faces: z
      .object({
        trackIou: z.number().min(0.01).max(1).default(0.3).describe('Overlap that continues a face track across frames'),
        lostAfterSeconds: z.number().min(0.1).max(600).default(3).describe('A track unseen this long ends: one face.captured per appearance'),
        reportAfterSeconds: z.number().min(0.1).max(3600).default(5).describe('A face still in view this long is reported then (best crop so far), not only when it leaves'),
        minQuality: z.number().min(0).max(1).default(0.2),
        cropSize: z.number().int().min(64).max(512).default(112),
      })
      .strict()
      .default({ trackIou: 0.3, lostAfterSeconds: 3, reportAfterSeconds: 5, minQuality: 0.2, cropSize: 112 }),
    plates: z
      .object({
        minConfidence: z.number().min(0).max(1).default(0.9).describe('Mean CTC confidence a plate reading needs'),
        mergeSeconds: z.number().min(0).max(3600).default(10).describe('Repeats of a plate within this time are one passage'),
        detMaxSide: z.number().int().min(160).max(1920).default(480).describe('Longer side of the text-detection input (PaddleOCR uses 960; 480 finds plates ≥ ~140 px wide in a 720p frame)'),
        maxCandidates: z.number().int().min(1).max(50).default(4).describe('Plate-shaped text regions recognised per frame, most confident first'),
      })
      .strict()
      .default({ minConfidence: 0.9, mergeSeconds: 10, detMaxSide: 480, maxCandidates: 4 }),
    intake: z
      .object({
        queueDepth: z.number().int().min(1).max(100).default(4).describe('Frames waiting per camera; the oldest is dropped beyond'),
        concurrency: z.number().int().min(1).max(16).default(2).describe('Frames analysed at once over all cameras'),
        maxSide: z.number().int().min(320).max(4096).default(960).describe('Working size for snapshots larger than 1280 px (720p) of cameras that set no maxSide of their own: plates are read and face crops taken at this size (≤ 640 lets a 1080p JPEG decode at 1/2 scale; larger keeps detail for crops and plates)'),
        maxSnapshotBytes: z.number().int().min(1024).max(32 * 1024 * 1024).default(4 * 1024 * 1024),
      })
      .strict()
      .default({ queueDepth: 4, concurrency: 2, maxSide: 960, maxSnapshotBytes: 4 * 1024 * 1024 }),
    privacy: z
      .object({
        retentionHours: z.number().min(0.01).max(24 * 365).default(72).describe('Crops and frames are deleted after this'),
        sweepMinutes: z.number().min(0.01).max(1440).default(10),
        evidenceUpstream: z.enum(['never', 'alert-evidence']).default('alert-evidence').describe('Images go upstream only as alert evidence, or never'),
        keepFrames: z.boolean().default(false).describe('Keep whole frames as well as crops'),
      })
      .strict()
      .default({ retentionHours: 72, sweepMinutes: 10, evidenceUpstream: 'alert-evidence', keepFrames: false }),
    timeZone: z.string().default('Asia/Shanghai').describe('For zone armed schedules'),
  })
  .strict();

export type CameraSection = z.infer<typeof CameraSectionSchema>;

import { z } from 'zod';

/** Ids appear in MQTT topics and file names: keep them to a safe alphabet. */
export const Id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, "_", "-" or "." and start with a letter or digit');

/** Codes are set by the local platform and kept opaque: digits and letters, no spaces. */
export const Code = z.string().regex(/^[A-Za-z0-9-]{4,40}$/, 'must be 4–40 letters, digits or "-"');

export const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day HH:MM');

export const IsoTime = z.iso.datetime({ offset: true, local: true, message: 'must be an ISO 8601 date-time' });

/** A file path; relative paths are resolved against the site file's folder. */
export const FilePath = z.string().min(1);

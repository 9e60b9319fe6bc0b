import { localParts } from '../gateway/core/time.ts';
import type { Box, Point } from './image.ts';

export interface ArmedWindow {
  /** ISO weekdays, 1 = Monday; all days when omitted. */
  days?: number[];
  from: string;
  to: string;
}

export interface CameraZone {
  id: string;
  /** Normalised 0..1 coordinates of the frame, at least three points. */
  polygon: Point[];
  /** When the zone is armed; always armed when omitted. A window may pass midnight (22:00–06:00). */
  armed?: ArmedWindow[];
}

/** Point in polygon, counting points on an edge as inside (Frigate's rule). */
export function pointInPolygon([x, y]: Point, polygon: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!, [xj, yj] = polygon[j]!;
    // On the segment: collinear and within its bounding box.
    const cross = (x - xi) * (yj - yi) - (y - yi) * (xj - xi);
    if (Math.abs(cross) < 1e-9 && x >= Math.min(xi, xj) - 1e-9 && x <= Math.max(xi, xj) + 1e-9 && y >= Math.min(yi, yj) - 1e-9 && y <= Math.max(yi, yj) + 1e-9) return true;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Frigate's rule: an object is in a zone when the bottom-centre of its box is. */
export function anchorPoint(box: Box, frameWidth: number, frameHeight: number): Point {
  return [(box.xmin + box.xmax) / 2 / frameWidth, box.ymax / frameHeight];
}

export function zonesOf(box: Box, frameWidth: number, frameHeight: number, zones: CameraZone[]): string[] {
  const point = anchorPoint(box, frameWidth, frameHeight);
  return zones.filter((z) => pointInPolygon(point, z.polygon)).map((z) => z.id);
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function isArmed(zone: CameraZone, nowMs: number, timeZone = 'Asia/Shanghai'): boolean {
  if (!zone.armed || zone.armed.length === 0) return true;
  const { weekday, minutes } = localParts(nowMs, timeZone);
  return zone.armed.some((w) => {
    const from = minutesOf(w.from), to = minutesOf(w.to);
    if (from <= to) return (!w.days || w.days.includes(weekday)) && minutes >= from && minutes < to;
    // Past midnight: the evening part belongs to the listed day, the morning part to the next.
    const yesterday = weekday === 1 ? 7 : weekday - 1;
    return (minutes >= from && (!w.days || w.days.includes(weekday))) || (minutes < to && (!w.days || w.days.includes(yesterday)));
  });
}

/** The zones a box is in and which of them are armed now: what every detection event carries. */
export function zoneFacts(box: Box, frameWidth: number, frameHeight: number, zones: CameraZone[], nowMs: number, timeZone?: string): { zones: string[]; armedZones: string[] } {
  const inside = zonesOf(box, frameWidth, frameHeight, zones);
  const armed = inside.filter((id) => isArmed(zones.find((z) => z.id === id)!, nowMs, timeZone));
  return { zones: inside, armedZones: armed };
}

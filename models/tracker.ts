import { iou, type Box } from './image.ts';

export interface Sighting<T> {
  box: Box;
  quality: number;
  item: T;
}

export interface Appearance<T> {
  trackId: number;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
  /** Where it was last seen: matching follows a moving face, not where its best crop was. */
  lastBox: Box;
  best: Sighting<T>;
  /** Already reported while still in view (a face that stays): its end is not reported again. */
  reported: boolean;
}

/**
 * Follows objects across the consecutive frames of one camera by box overlap (greedy IoU
 * matching) so that a face standing in front of a door station is one appearance, not one
 * per frame. An appearance is reported once, with its best-quality sighting: when its track has
 * not been matched for lostAfterMs, or earlier through takeDue() when it stays in view.
 */
export class IouTracker<T> {
  private tracks: Appearance<T>[] = [];
  private nextId = 1;

  constructor(private readonly options: { minIou: number; lostAfterMs: number }) {}

  /** Feeds one frame's sightings; returns the appearances that ended (lost) as of this frame. */
  update(nowMs: number, sightings: Sighting<T>[]): Appearance<T>[] {
    const candidates: { t: number; s: number; overlap: number }[] = [];
    this.tracks.forEach((track, t) =>
      sightings.forEach((s, si) => {
        const overlap = iou(track.lastBox, s.box);
        if (overlap >= this.options.minIou) candidates.push({ t, s: si, overlap });
      }),
    );
    candidates.sort((a, b) => b.overlap - a.overlap);
    const usedTracks = new Set<number>();
    const usedSightings = new Set<number>();
    for (const c of candidates) {
      if (usedTracks.has(c.t) || usedSightings.has(c.s)) continue;
      usedTracks.add(c.t);
      usedSightings.add(c.s);
      const track = this.tracks[c.t]!;
      const s = sightings[c.s]!;
      track.lastSeenMs = nowMs;
      track.frames++;
      track.lastBox = s.box;
      if (s.quality > track.best.quality) track.best = s;
    }
    sightings.forEach((s, si) => {
      if (usedSightings.has(si)) return;
      this.tracks.push({ trackId: this.nextId++, firstSeenMs: nowMs, lastSeenMs: nowMs, frames: 1, lastBox: s.box, best: s, reported: false });
    });
    return this.expire(nowMs);
  }

  /** Ends the tracks not seen for lostAfterMs (also called on a timer when frames stop coming). */
  expire(nowMs: number): Appearance<T>[] {
    const ended = this.tracks.filter((t) => nowMs - t.lastSeenMs >= this.options.lostAfterMs);
    if (ended.length) this.tracks = this.tracks.filter((t) => !ended.includes(t));
    return ended.filter((t) => !t.reported);
  }

  /**
   * Appearances in view for at least afterMs and not yet reported: someone who stays in front
   * of a camera is reported once, with the best sighting so far, instead of only when they leave.
   */
  takeDue(nowMs: number, afterMs: number): Appearance<T>[] {
    const due = this.tracks.filter((t) => !t.reported && nowMs - t.firstSeenMs >= afterMs);
    for (const t of due) t.reported = true;
    return due;
  }

  /** Ends every open track (camera stopping). */
  flush(): Appearance<T>[] {
    const all = this.tracks;
    this.tracks = [];
    return all.filter((t) => !t.reported);
  }

  get open(): number {
    return this.tracks.length;
  }
}

/**
 * One plate.captured per vehicle passage: the same plate read again within the merge window
 * (a car waiting at the barrier is read on every frame) extends the passage instead of
 * reporting again.
 */
export class PassageMerger {
  private lastSeen = new Map<string, number>();

  constructor(private readonly mergeMs: number) {}

  /** True when this reading starts a new passage. */
  accept(plate: string, nowMs: number): boolean {
    const last = this.lastSeen.get(plate);
    this.lastSeen.set(plate, nowMs);
    for (const [p, at] of this.lastSeen) if (nowMs - at > this.mergeMs) this.lastSeen.delete(p);
    return last === undefined || nowMs - last > this.mergeMs;
  }
}

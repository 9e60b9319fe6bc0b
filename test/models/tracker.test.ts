import { describe, expect, it } from 'vitest';
import { IouTracker, PassageMerger } from '../../models/tracker.ts';

const box = (x: number, y = 0, size = 100) => ({ xmin: x, ymin: y, xmax: x + size, ymax: y + size });

describe('IoU tracker: one appearance per face', () => {
  it('follows a moving face and reports it once, with its best sighting, after it is lost', () => {
    const tracker = new IouTracker<string>({ minIou: 0.3, lostAfterMs: 1000 });
    expect(tracker.update(0, [{ box: box(0), quality: 0.4, item: 'f0' }])).toEqual([]);
    expect(tracker.update(200, [{ box: box(20), quality: 0.9, item: 'f1' }])).toEqual([]);
    expect(tracker.update(400, [{ box: box(40), quality: 0.5, item: 'f2' }])).toEqual([]);
    // Follows the last box, not the best one: box 75 overlaps box 40 (IoU 0.48) but not box 20 (0.29).
    expect(tracker.update(600, [{ box: box(75), quality: 0.1, item: 'f3' }])).toEqual([]);
    expect(tracker.open).toBe(1);
    expect(tracker.update(1500, [])).toEqual([]);
    const [ended] = tracker.update(1600, []);
    expect(ended).toMatchObject({ frames: 4, firstSeenMs: 0, lastSeenMs: 600, best: { item: 'f1', quality: 0.9 } });
    expect(tracker.open).toBe(0);
  });

  it('keeps two faces apart and starts a new appearance for a face that jumps', () => {
    const tracker = new IouTracker<string>({ minIou: 0.3, lostAfterMs: 500 });
    tracker.update(0, [{ box: box(0), quality: 1, item: 'a' }, { box: box(500), quality: 1, item: 'b' }]);
    tracker.update(100, [{ box: box(510), quality: 1, item: 'b2' }, { box: box(5), quality: 1, item: 'a2' }]);
    tracker.update(200, [{ box: box(900), quality: 1, item: 'c' }]);
    const ended = tracker.update(700, []);
    expect(ended.map((a) => [a.best.item, a.frames])).toEqual([['a', 2], ['b', 2], ['c', 1]]);
  });

  it('reports a face that stays in view once, after afterMs, and not again when it leaves', () => {
    const tracker = new IouTracker<string>({ minIou: 0.3, lostAfterMs: 500 });
    tracker.update(0, [{ box: box(0), quality: 0.5, item: 'a' }]);
    expect(tracker.takeDue(100, 1000)).toEqual([]);
    tracker.update(1000, [{ box: box(2), quality: 0.7, item: 'b' }]);
    const [due] = tracker.takeDue(1000, 1000);
    expect(due).toMatchObject({ frames: 2, best: { item: 'b' } });
    tracker.update(1200, [{ box: box(4), quality: 0.9, item: 'c' }]);
    expect(tracker.takeDue(1300, 1000)).toEqual([]);
    expect(tracker.update(2000, [])).toEqual([]); // ended, already reported
    expect(tracker.open).toBe(0);
  });

  it('flush ends every open appearance', () => {
    const tracker = new IouTracker<number>({ minIou: 0.3, lostAfterMs: 500 });
    tracker.update(0, [{ box: box(0), quality: 1, item: 1 }]);
    expect(tracker.flush()).toHaveLength(1);
    expect(tracker.open).toBe(0);
  });
});

describe('plate passages', () => {
  it('merges repeats of a plate within the window and starts a new passage after it', () => {
    const merger = new PassageMerger(10_000);
    expect(merger.accept('闽A·12345', 0)).toBe(true);
    expect(merger.accept('闽A·12345', 4_000)).toBe(false);
    expect(merger.accept('闽A·12345', 13_000)).toBe(false); // still waiting: the window slides
    expect(merger.accept('闽A·88888', 13_500)).toBe(true);
    expect(merger.accept('闽A·12345', 23_001)).toBe(true); // left and came back
  });
});

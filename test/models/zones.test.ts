import { describe, expect, it } from 'vitest';
import { anchorPoint, isArmed, pointInPolygon, zoneFacts, zonesOf, type CameraZone } from '../../models/zones.ts';

const lowerLeft: CameraZone = { id: 'lawn', polygon: [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]] };
const triangle: CameraZone = { id: 'wall', polygon: [[0.5, 0], [1, 0], [1, 0.5]] };

describe('zones: the Frigate bottom-centre rule', () => {
  it('uses the bottom-centre of the box, not its overlap', () => {
    // A tall box mostly outside the lawn whose feet stand in it.
    const box = { xmin: 100, ymin: 0, xmax: 300, ymax: 700 };
    expect(anchorPoint(box, 1000, 1000)).toEqual([0.2, 0.7]);
    expect(zonesOf(box, 1000, 1000, [lowerLeft, triangle])).toEqual(['lawn']);
    // A box overlapping the lawn whose feet are outside it.
    expect(zonesOf({ xmin: 400, ymin: 500, xmax: 900, ymax: 600 }, 1000, 1000, [lowerLeft])).toEqual([]);
  });

  it('counts a point on an edge or a corner as inside', () => {
    expect(pointInPolygon([0.5, 0.75], lowerLeft.polygon)).toBe(true);
    expect(pointInPolygon([0.5, 0.5], lowerLeft.polygon)).toBe(true);
    expect(pointInPolygon([0.75, 0.25], triangle.polygon)).toBe(true);
    expect(pointInPolygon([0.6, 0.4], triangle.polygon)).toBe(false);
  });

  it('arms a zone on schedule in the site time zone, windows past midnight included', () => {
    const night: CameraZone = { ...lowerLeft, armed: [{ from: '22:00', to: '06:00', days: [1, 2, 3, 4, 5] }] };
    const at = (iso: string) => Date.parse(iso);
    expect(isArmed(night, at('2026-11-02T23:30:00+08:00'))).toBe(true); // Monday evening
    expect(isArmed(night, at('2026-11-03T05:59:00+08:00'))).toBe(true); // Tuesday morning, Monday's window
    expect(isArmed(night, at('2026-11-03T06:00:00+08:00'))).toBe(false);
    expect(isArmed(night, at('2026-11-07T23:30:00+08:00'))).toBe(false); // Saturday evening
    expect(isArmed(night, at('2026-11-08T02:00:00+08:00'))).toBe(false); // Sunday morning, Saturday's window
    expect(isArmed(night, at('2026-11-10T02:00:00+08:00'))).toBe(true); // Tuesday morning after Monday
    expect(isArmed(lowerLeft, 0)).toBe(true); // no schedule: always armed
    // The same instant in UTC is 15:30: not armed.
    expect(isArmed(night, at('2026-11-02T23:30:00+08:00'), 'UTC')).toBe(false);
  });

  it('reports the zones and the armed ones together', () => {
    const day: CameraZone = { ...triangle, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], armed: [{ from: '08:00', to: '18:00' }] };
    const facts = zoneFacts({ xmin: 100, ymin: 100, xmax: 200, ymax: 800 }, 1000, 1000, [lowerLeft, day], Date.parse('2026-11-02T20:00:00+08:00'));
    expect(facts).toEqual({ zones: ['lawn', 'wall'], armedZones: ['lawn'] });
  });
});

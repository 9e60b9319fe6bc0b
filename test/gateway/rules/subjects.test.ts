import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReceivedAt } from '../../../gateway/rules/subjects.ts';

describe('parseReceivedAt', () => {
  it('agrees with Date.parse on toISOString stamps, in and out of time order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 20 }), (instants) => {
        for (const ms of instants) expect(parseReceivedAt(new Date(ms).toISOString())).toBe(ms);
      }),
    );
    const base = Date.parse('2026-11-02T00:41:00.000Z');
    for (let ms = base - 1500; ms < base + 61_500; ms += 7) expect(parseReceivedAt(new Date(ms).toISOString())).toBe(ms);
  });

  it('anything else is left to Date.parse, including near-misses of the format', () => {
    parseReceivedAt('2026-11-02T00:41:07.123Z'); // primes the minute
    for (const text of [
      '2026-11-02T00:41:0a.123Z',
      '2026-11-02T00:41:07.12xZ',
      '2026-11-02T00:41:67.123Z',
      '2026-11-02T08:41:07.123+08:00',
      '2026-11-02T00:41:07Z',
      'nonsense',
      '',
      // The primed minute's digits with other separators, or a non-digit among them.
      '2026-11-02 00:41:07.123Z',
      '2026/11/02T00:41:07.123Z',
      '2026-11-02T00-41:07.123Z',
      '2026-11-0aT00:41:07.123Z',
      '2026-13-02T00:41:07.123Z',
      '2026-11-02T24:41:07.123Z',
    ])
      expect(parseReceivedAt(text)).toEqual(Date.parse(text));
  });
});

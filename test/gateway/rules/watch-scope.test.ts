import { afterEach, describe, expect, it } from 'vitest';
import { identityForAccess } from '../../../gateway/rules/watch-scope.ts';
import { SiteModel } from '../../../gateway/site/site-model.ts';
import type { WatchRecord } from '../../../gateway/store/registry.ts';
import { RulesHarness } from './harness.ts';

/** What a card reader at a device decides on, for watch entries with and without a circle. */
describe('identity for an access decision (watch entries with a circle scope)', () => {
  let h: RulesHarness;
  afterEach(async () => h?.stop());

  async function setUp(entries: (WatchRecord & { scope?: Record<string, string[]> })[]) {
    h = await new RulesHarness([]).start();
    h.store.db.transaction(() => {
      for (const entry of entries) h.identifier.upsertWatch(entry);
    })();
    const site = new SiteModel(h.config);
    return (cardNo: string, deviceId: string) => identityForAccess(h.identifier, site, { cardNo }, deviceId, h.clock.now());
  }
  const entry = (id: string, card: string, level: WatchRecord['level'], scope?: Record<string, string[]>) => ({
    id,
    subjectType: 'card' as const,
    subjectValue: card,
    level,
    reason: id,
    validFromMs: null,
    validToMs: null,
    ...(scope ? { scope } : {}),
  });

  it('a resident watched only at gate 1 is watchlisted at gate 1 and a resident at their building door', async () => {
    const at = await setUp([entry('w-gate1', '1001', 'high', { gates: ['gate-1'] })]);
    expect(at('1001', 'ac-1')).toMatchObject({ kind: 'watchlisted', personId: 'p1', watch: { entryId: 'w-gate1' } });
    expect(at('1001', 'ac-b1')).toMatchObject({ kind: 'resident', personId: 'p1', name: '张三' });
    expect(at('1001', 'ac-b1')?.watch).toBeUndefined();
  });

  it('an entry without a circle applies at every door', async () => {
    const at = await setUp([]);
    expect(at('6666', 'ac-1')).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w1' } });
    expect(at('6666', 'ac-b2')).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w1' } });
  });

  it('outside the circle of the highest entry, a lower entry whose circle applies is the one acted on', async () => {
    const at = await setUp([entry('w-b1', '2001', 'critical', { buildings: ['b1'] }), entry('w-all', '2001', 'low')]);
    expect(at('2001', 'ac-b1')).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w-b1', level: 'critical' } });
    expect(at('2001', 'ac-b2')).toMatchObject({ kind: 'watchlisted', watch: { entryId: 'w-all', level: 'low' } });
  });

  it('an unregistered card watched elsewhere is simply unknown here', async () => {
    const at = await setUp([entry('w-gate3', '9999', 'medium', { gates: ['gate-3'] })]);
    expect(at('9999', 'ac-3')).toMatchObject({ kind: 'watchlisted' });
    expect(at('9999', 'ac-1')).toEqual({ kind: 'unknown' });
  });
});

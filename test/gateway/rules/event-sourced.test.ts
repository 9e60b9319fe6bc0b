import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../../gateway/core/model.ts';
import { newId } from '../../../gateway/core/ids.ts';
import { Store } from '../../../gateway/store/store.ts';
import { HOUR, MIN, RulesHarness } from './harness.ts';

/**
 * Rules whose windows are rebuilt from the stored events (group-rental, frequent-stranger,
 * access-denied-repeat): no rule_state row per event, nothing lost by a crash, replays that
 * neither miss nor double-count an event.
 */
let h: RulesHarness | undefined;
const others: RulesHarness[] = [];
afterEach(async () => {
  await h?.stop();
  h = undefined;
  for (const o of others.splice(0)) await o.stop();
});

const rowsOf = (store: Store, ruleId: string) => [...store.ruleState.all(ruleId).keys()].sort();

/** What the pipeline does before it publishes an event: the event is stored, not yet on the bus. */
async function storeUnpublished(h: RulesHarness, like: DeviceEvent): Promise<DeviceEvent> {
  const event: DeviceEvent = { ...like, id: newId(), receivedAt: new Date(h.clock.now()).toISOString() };
  await h.store.writes.write(() => h.store.events.insert(event));
  return event;
}
/** A hot swap of the repeated-denial rule (a longer window): its window is replayed from the store. */
const swapDenied = (h: RulesHarness) => h.engine.updateRules([{ id: 'denied', type: 'access-denied-repeat', params: { count: 3, windowMinutes: 3 } }] as never);
const deniedWindow = (h: RulesHarness) => h.engine['states'].get('denied')!.get<unknown[]>('w:ac-1|card:9999');
/** The swap replays the two delivered attempts only; the third, published after it, then raises. */
async function swapWhileOnItsWay(h: RulesHarness, third: DeviceEvent): Promise<void> {
  expect(swapDenied(h)).toEqual([]);
  expect(deniedWindow(h)).toHaveLength(2);
  h.bus.emit('event.stored', third);
  await h.settle();
  expect(h.raised).toHaveLength(1);
}

describe('event-sourced rule state', () => {
  it('windows and counters write no rule_state rows; only durable timers are stored', async () => {
    h = await new RulesHarness([
      { id: 'rental', type: 'group-rental', params: { distinctCount: 50 } },
      { id: 'stranger', type: 'frequent-stranger', params: { minGapMinutes: 0 } },
      { id: 'denied', type: 'access-denied-repeat', params: { count: 5 } },
    ]).start();
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'c1' } });
    await h.ingest({ deviceId: 'ac-b1', type: 'access.granted', subjects: { cardNo: '1001' } });
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    expect(rowsOf(h.store, 'rental')).toEqual(['t:sweep']);
    expect(rowsOf(h.store, 'stranger')).toEqual(['t:sweep']);
    expect(rowsOf(h.store, 'denied')).toEqual([]);
    // ...while the rules do hold the state in memory.
    // Unknown card c1, plate 闽B·11111 and card 9999 (1001 is a resident's).
    expect([...h.engine['states'].get('stranger')!.entries('s:')].map(([k]) => k)).toEqual(expect.arrayContaining(['s:card:c1', 's:card:9999']));
    expect([...h.engine['states'].get('stranger')!.entries('s:')]).toHaveLength(3);
    expect(h.engine['states'].get('denied')!.get('w:ac-1|card:9999')).toBeDefined();
  });

  it('a crash (no orderly stop) loses no window: the next start replays the stored events', async () => {
    const rules = [
      { id: 'rental', type: 'group-rental', params: { distinctCount: 4, perDayUses: 1000 } },
      { id: 'denied', type: 'access-denied-repeat', params: { count: 3, windowMinutes: 5 } },
    ];
    h = await new RulesHarness(rules).start();
    for (const card of ['r1', 'r2', 'r3']) await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: card } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    // The process dies: the engine is never stopped, nothing it holds in memory is written.
    h.store.close();
    const again = new RulesHarness(rules, { startMs: h.clock.now() + MIN });
    Object.assign(again, { file: h.file });
    h = undefined;
    others.push(again);
    await again.start();
    await again.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'r4' } });
    expect(again.raised.map((a) => a.ruleId)).toEqual(['rental']);
    expect(again.raised[0]!.details).toMatchObject({ distinct: 4 });
    await again.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    expect(again.raised.map((a) => a.ruleId)).toEqual(['rental', 'denied']);
    expect(again.raised[1]!.evidence).toHaveLength(3);
  });

  it('rules starting together replay from one read of the stored events, each within its own lookback', async () => {
    const rules = [
      { id: 'rental', type: 'group-rental', params: { distinctCount: 50 } },
      { id: 'stranger', type: 'frequent-stranger', params: { count: 50, windowHours: 1 } },
      { id: 'stranger-day', type: 'frequent-stranger', params: { count: 50, windowHours: 24 } },
    ];
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'old' } });
    await h.advance(2 * HOUR);
    await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: 'new' } });
    const repo = Object.getPrototypeOf(h.store.ruleState) as { eventsSince: (...args: unknown[]) => Iterable<DeviceEvent> };
    const original = repo.eventsSince;
    let queries = 0;
    let read = 0;
    repo.eventsSince = function* (this: unknown, ...args: unknown[]) {
      queries++;
      for (const event of original.apply(this, args)) (read++, yield event);
    };
    try {
      await h.restart();
    } finally {
      repo.eventsSince = original;
    }
    // Each stored event read and parsed once, though two or three of the rules replay it.
    expect(queries).toBe(1);
    expect(read).toBe(2);
    const seen = (ruleId: string) => [...h!.engine['states'].get(ruleId)!.entries('s:')].map(([k]) => k).sort();
    // The hour-long window was not given the scan of two hours ago that the others' read brought.
    expect(seen('stranger')).toEqual(['s:card:new']);
    expect(seen('stranger-day')).toEqual(['s:card:new', 's:card:old']);
  });

  it('replaying raises nothing again: alerts raised before a restart are not repeated', async () => {
    const rules = [{ id: 'rental', type: 'group-rental', params: { distinctCount: 2, perDayUses: 1000 } }];
    h = await new RulesHarness(rules).start();
    for (const card of ['a', 'b', 'c']) await h.ingest({ deviceId: 'dp-101', type: 'doorplate.scan', subjects: { cardNo: card } });
    expect(h.alertsOf('rental')).toHaveLength(1);
    expect(h.alertsOf('rental')[0]!.occurrences).toBe(2);
    await h.restart();
    expect(h.raised).toHaveLength(1);
    expect(h.alertsOf('rental')[0]!.occurrences).toBe(2);
  });

  it('rows written per key before the rule became event-sourced are dropped at start', async () => {
    h = new RulesHarness([{ id: 'rental', type: 'group-rental' }]);
    const store = Store.open(h.file);
    store.ruleState.set('rental', 'c:card:old', { days: { '2026-11-01': 3 }, today: [] }, 0);
    store.ruleState.set('rental', 'h:h101', { 'card:old': [0, 'e1'] }, 0);
    store.close();
    await h.start();
    await h.settle();
    expect(rowsOf(h.store, 'rental')).toEqual(['t:sweep']);
  });

  it('a hot swap that lengthens the window recounts older events from the store', async () => {
    h = await new RulesHarness([{ id: 'stranger', type: 'frequent-stranger', params: { count: 3, windowHours: 1 } }]).start();
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    await h.advance(2 * HOUR);
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    expect(h.engine.updateRules([{ id: 'stranger', type: 'frequent-stranger', params: { count: 3, windowHours: 48 } }] as never)).toEqual([]);
    await h.advance(HOUR);
    await h.ingest({ deviceId: 'cam-plate', type: 'plate.captured', subjects: { plate: '闽B·11111' } });
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.evidence).toHaveLength(3);
  });

  it('an event committed but not yet published when a swap replays counts once, and still raises', async () => {
    h = await new RulesHarness([{ id: 'denied', type: 'access-denied-repeat', params: { count: 3, windowMinutes: 2 } }]).start();
    const first = await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    // The pipeline has committed the third attempt; its publish is still ahead when the swap replays.
    const third = await storeUnpublished(h, first);
    await swapWhileOnItsWay(h, third);
    expect(h.raised[0]!.evidence).toEqual([first.id, expect.any(String), third.id]);
    // Published once more by mistake it would be a fourth attempt: the rule saw it exactly once.
    expect(deniedWindow(h)).toBeUndefined();
  });

  it('an event on its way is told by the order it was stored, not by its time (the wall clock stepped back)', async () => {
    h = await new RulesHarness([{ id: 'denied', type: 'access-denied-repeat', params: { count: 3, windowMinutes: 2 } }]).start();
    const first = await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.advance(30_000);
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    // The clock steps back 40 s; the pipeline commits the third attempt, stamped before the
    // first, and a swap replays before it is published.
    h.clock.set(h.clock.now() - 40_000);
    const third = await storeUnpublished(h, first);
    await swapWhileOnItsWay(h, third);
    expect(h.raised[0]!.evidence).toEqual(expect.arrayContaining([first.id, third.id]));
    expect(h.raised[0]!.evidence).toHaveLength(3);
  });

  it('events stored while the engine was stopped are replayed when it starts again: none is taken for "on its way"', async () => {
    h = await new RulesHarness([{ id: 'denied', type: 'access-denied-repeat', params: { count: 5, windowMinutes: 2 } }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    // The same engine stops; an attempt is stored and published while nothing listens; it starts again.
    h.engine.stop();
    await h.ingest({ deviceId: 'ac-1', type: 'access.denied', subjects: { cardNo: '9999' } });
    h.engine.start();
    expect(deniedWindow(h)).toHaveLength(3);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { DurableTimers, RuleState, StateWriter } from '../../../gateway/rules/rule-state.ts';
import { Store } from '../../../gateway/store/store.ts';

const settle = async (store: Store) => {
  store.writes.flush();
  await new Promise((r) => setImmediate(r));
};

describe('RuleState', () => {
  it('coalesces a tick of changes into one write; a key set and deleted in one tick never reaches SQLite', async () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-rs-')), 'g.db'));
    const clock = new FakeClock();
    const writer = new StateWriter(store, clock);
    const a = new RuleState('a', store, writer);
    const b = new RuleState('b', store, writer);
    a.set('k1', 1);
    a.set('k1', 2);
    a.set('gone', 'x');
    a.delete('gone');
    b.set('k', { n: 1 });
    expect(store.writes.pending).toBe(1);
    await settle(store);
    expect([...store.ruleState.all('a')]).toEqual([['k1', 2]]);
    expect(store.ruleState.get('b', 'k')).toEqual({ n: 1 });
    a.delete('k1');
    await settle(store);
    expect(store.ruleState.all('a').size).toBe(0);
    // A fresh instance over the same database sees what was written.
    b.set('k2', [1, 2]);
    await settle(store);
    const again = new RuleState('b', store, writer);
    expect(again.get('k2')).toEqual([1, 2]);
    expect([...again.entries('k')].map(([k]) => k).sort()).toEqual(['k', 'k2']);
    store.close();
  });

  it('durable timers are re-armed from the store; an overdue one fires once with how late it is', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gg-rs-')), 'g.db');
    let store = Store.open(file);
    const clock = new FakeClock();
    let state = new RuleState('r', store, new StateWriter(store, clock));
    let timers = new DurableTimers(state, clock, (fire) => fire());
    const fired: [string, unknown, number][] = [];
    timers.start((key, data, late) => fired.push([key, data, late]));
    timers.at('soon', clock.now() + 1000, { n: 1 });
    timers.at('later', clock.now() + 60_000, { n: 2 });
    clock.advance(1000);
    expect(fired).toEqual([['soon', { n: 1 }, 0]]);
    await settle(store);
    timers.stop();
    store.close();

    clock.advance(120_000); // the gateway was down when 'later' fell due
    store = Store.open(file);
    state = new RuleState('r', store, new StateWriter(store, clock));
    timers = new DurableTimers(state, clock, (fire) => fire());
    timers.start((key, data, late) => fired.push([key, data, late]));
    clock.advance(0);
    expect(fired[1]).toEqual(['later', { n: 2 }, 61_000]);
    clock.advance(600_000);
    expect(fired).toHaveLength(2);
    await settle(store);
    expect(store.ruleState.all('r').size).toBe(0);
    store.close();
  });
});

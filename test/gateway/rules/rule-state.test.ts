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

describe('DurableTimers share one clock timer', () => {
  it('fire in due order, however they were set, re-set or cancelled; a cancelled one never fires', async () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-rs-')), 'g.db'));
    const clock = new FakeClock();
    const timers = new DurableTimers(new RuleState('r', store, new StateWriter(store, clock)), clock, (fire) => fire());
    const fired: [string, number][] = [];
    const t0 = clock.now();
    timers.start((key) => fired.push([key, clock.now() - t0]));
    timers.at('c', t0 + 3000);
    timers.at('a', t0 + 1000);
    timers.at('b', t0 + 2000);
    timers.at('gone', t0 + 500);
    timers.cancel('gone');
    timers.at('moved', t0 + 100);
    timers.at('moved', t0 + 2500); // re-set later: fires once, at the new time
    clock.advance(10_000);
    expect(fired).toEqual([
      ['a', 1000],
      ['b', 2000],
      ['moved', 2500],
      ['c', 3000],
    ]);
    expect(timers.has('a')).toBe(false);
    // A handler may set the next timer from inside a firing.
    timers.start((key) => {
      fired.push([key, clock.now() - t0]);
      if (key === 'tick') timers.at('tock', clock.now() + 1000);
    });
    timers.at('tick', clock.now() + 1000);
    clock.advance(5000);
    expect(fired.slice(4)).toEqual([
      ['tick', 11_000],
      ['tock', 12_000],
    ]);
    timers.stop();
    store.close();
  });

  it('a deadline beyond the longest setTimeout fires at its time, not early', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-rs-')), 'g.db'));
    const clock = new FakeClock();
    const timers = new DurableTimers(new RuleState('r', store, new StateWriter(store, clock)), clock, (fire) => fire());
    const fired: number[] = [];
    const t0 = clock.now();
    timers.start(() => fired.push(clock.now() - t0));
    const day = 86_400_000;
    timers.at('far', t0 + 40 * day);
    clock.advance(30 * day);
    expect(fired).toEqual([]);
    clock.advance(10 * day);
    expect(fired).toEqual([40 * day]);
    timers.stop();
    store.close();
  });

  it('a handler that throws does not strand the timers due with it', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-rs-')), 'g.db'));
    const clock = new FakeClock();
    const timers = new DurableTimers(new RuleState('r', store, new StateWriter(store, clock)), clock, (fire) => fire());
    const fired: string[] = [];
    timers.start((key) => {
      fired.push(key);
      if (key === 'a') throw new Error('boom');
    });
    timers.at('a', clock.now() + 1000);
    timers.at('b', clock.now() + 1000);
    expect(() => clock.advance(1000)).toThrow('boom');
    clock.advance(0);
    expect(fired).toEqual(['a', 'b']);
    timers.stop();
    store.close();
  });
});

import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../gateway/core/clock.ts';

describe('FakeClock', () => {
  it('fires due timers earliest first, each at its own time, and timers they set on the way', () => {
    const clock = new FakeClock(1_000_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 50);
    }, 100);
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 1_000);
    clock.advance(300);
    expect(fired).toEqual(['a@1000100', 'c@1000150', 'b@1000200']);
    expect(clock.now()).toBe(1_000_300);
    clock.advance(700);
    expect(fired.at(-1)).toBe('late@1001000');
  });

  it('forgets a cleared timer, and one set after a clear still fires', () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    const early = clock.setTimeout(() => fired.push('early'), 10);
    clock.setTimeout(() => fired.push('later'), 100);
    clock.clearTimeout(early);
    clock.advance(50);
    expect(fired).toEqual([]);
    clock.setTimeout(() => fired.push('new'), 5);
    clock.advance(5);
    expect(fired).toEqual(['new']);
    clock.advance(45);
    expect(fired).toEqual(['new', 'later']);
  });

  it('runs timers on elapsed time, not on the wall clock set()', () => {
    const clock = new FakeClock(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 100);
    clock.set(10_000);
    clock.advance(99);
    expect(fired).toBe(false);
    clock.advance(1);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(10_100);
  });
});

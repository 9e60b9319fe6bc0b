import fc from 'fast-check';
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

  it('timers due at the same instant fire in the order they were set', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    for (let i = 0; i < 40; i++) clock.setTimeout(() => fired.push(i), 10 + (i % 3 === 0 ? 0 : 5));
    clock.advance(20);
    const order = [...Array(40).keys()];
    expect(fired).toEqual([...order.filter((i) => i % 3 === 0), ...order.filter((i) => i % 3 !== 0)]);
  });

  it('agrees with a scan of every timer: due order, ties in the order set, clears, timers set while firing', () => {
    type Op = { kind: 'set'; delay: number; chain: number } | { kind: 'clear'; which: number } | { kind: 'advance'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), delay: fc.integer({ min: 0, max: 50 }), chain: fc.integer({ min: -1, max: 20 }) }),
      fc.record({ kind: fc.constant('clear' as const), which: fc.nat(40) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        // The reference: every pending timer scanned for the earliest (ties: set first) at each step.
        const ref: { at: number; seq: number; label: string; chain: number }[] = [];
        let refNow = 0;
        let seq = 0;
        const refFired: string[] = [];
        const clock = new FakeClock(0);
        const fired: string[] = [];
        const handles: { handle: ReturnType<FakeClock['setTimeout']>; label: string }[] = [];
        // The reference schedules a chained timer itself when it fires one.
        const set = (delay: number, chain: number, label: string, inRef = true) => {
          if (inRef) ref.push({ at: refNow + delay, seq: seq++, label, chain });
          handles.push({
            label,
            handle: clock.setTimeout(() => {
              fired.push(`${label}@${clock.now()}`);
              if (chain >= 0) set(chain, -1, `${label}+`, false);
            }, delay),
          });
        };
        for (const o of ops) {
          if (o.kind === 'set') set(o.delay, o.chain, `t${seq}`);
          else if (o.kind === 'clear') {
            const h = handles[o.which];
            if (!h) continue;
            clock.clearTimeout(h.handle);
            const i = ref.findIndex((r) => r.label === h.label);
            if (i >= 0) ref.splice(i, 1);
          } else {
            const target = refNow + o.ms;
            for (;;) {
              let next = -1;
              for (let i = 0; i < ref.length; i++) if (ref[i]!.at <= target && (next < 0 || ref[i]!.at < ref[next]!.at || (ref[i]!.at === ref[next]!.at && ref[i]!.seq < ref[next]!.seq))) next = i;
              if (next < 0) break;
              const [t] = ref.splice(next, 1);
              refNow = t!.at;
              refFired.push(`${t!.label}@${refNow}`);
              if (t!.chain >= 0) ref.push({ at: refNow + t!.chain, seq: seq++, label: `${t!.label}+`, chain: -1 });
            }
            refNow = target;
            clock.advance(o.ms);
          }
        }
        expect(fired).toEqual(refFired);
        expect(clock.now()).toBe(refNow);
      }),
    );
  });
});

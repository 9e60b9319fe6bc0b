import { afterEach, describe, expect, it } from 'vitest';
import { MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const rules = [{ id: 'tail', type: 'tailgating', params: { windowSeconds: 10, graceSeconds: 2, minExcess: 1 } }];
const swipe = (card = '1001') => ({ deviceId: 'ac-1', type: 'access.granted' as const, subjects: { cardNo: card } });
const passed = (count = 1) => ({ deviceId: 'cam-1', type: 'person.passed' as const, payload: { count } });

describe('tailgating (尾随进入)', () => {
  it('passers equal to openings: no alert; one more than openings: alert', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(swipe());
    await h.advance(1000);
    await h.ingest(passed(1));
    await h.advance(3000);
    expect(h.raised).toHaveLength(0);

    await h.advance(MIN);
    const s = await h.ingest(swipe());
    await h.advance(1000);
    const p = await h.ingest(passed(2));
    await h.advance(1000);
    expect(h.raised).toHaveLength(0); // judged after the grace period
    await h.advance(1500);
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toBe('1号门 疑似尾随: 08:01 前 10 秒内 1 人通过无对应有效开门 (共通过 2 人, 有效开门 1 次)');
    expect(h.raised[0]!.evidence).toEqual([s.id, p.id]);
    expect(h.raised[0]!.details).toMatchObject({ thresholds: { windowSeconds: 10, minExcess: 1 }, passers: 2, openings: 1, unmatched: 1 });
  });

  it('a swipe reported a moment after the camera still counts; minExcess 2 needs two extra passers', async () => {
    h = await new RulesHarness([{ ...rules[0], params: { windowSeconds: 10, graceSeconds: 2, minExcess: 2 } }]).start();
    await h.ingest(passed(1));
    await h.advance(1000);
    await h.ingest(swipe());
    await h.advance(2000);
    expect(h.raised).toHaveLength(0);
    await h.advance(MIN);
    await h.ingest(swipe());
    await h.ingest(passed(2));
    await h.advance(3000);
    expect(h.raised).toHaveLength(0); // excess 1 < 2
    await h.advance(MIN);
    await h.ingest(swipe());
    await h.ingest(passed(3));
    await h.advance(3000);
    expect(h.raised).toHaveLength(1); // excess 2
  });

  it('openings older than the window do not cover passers; other doors do not count', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(swipe());
    await h.advance(20_000);
    await h.ingest({ deviceId: 'ac-3', type: 'access.granted', subjects: { cardNo: '1001' } }); // gate-3
    await h.ingest(passed(1));
    await h.advance(3000);
    expect(h.raised).toHaveLength(1);
  });

  it('a crash before the judgement: the passage is rebuilt from the stored events and judged at start', async () => {
    h = await new RulesHarness(rules).start();
    const s = await h.ingest(swipe());
    const p = await h.ingest(passed(2));
    await h.advance(1000);
    h.store.close(); // the process dies inside the grace period: the engine is never stopped
    const again = new RulesHarness(rules, { startMs: h.clock.now() + 3000 });
    Object.assign(again, { file: h.file });
    h = again;
    await h.start();
    await h.advance(0);
    expect(h.raised.map((a) => a.evidence)).toEqual([[s.id, p.id]]);
  });

  it('passers accounted for by an alert do not count again after a restart', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(swipe());
    await h.ingest(passed(2));
    await h.advance(3000);
    expect(h.alertsOf('tail')).toHaveLength(1);
    await h.restart();
    // Within the window of the first passage: counted with it, 3 passers against 2 openings.
    await h.ingest(swipe());
    await h.ingest(passed(1));
    await h.advance(3000);
    expect(h.alertsOf('tail')[0]!.occurrences).toBe(1);
    // Nor is a passage judged before the restart judged again.
    await h.restart();
    await h.advance(3000);
    expect(h.alertsOf('tail')[0]!.occurrences).toBe(1);
  });

  it('a judgement without an alert writes no row; after a restart the passage is judged again, to the same answer', async () => {
    h = await new RulesHarness(rules).start();
    const keptRows = () => (h!.store.db.prepare("SELECT COUNT(*) AS n FROM rule_state WHERE rule_id = 'tail' AND key LIKE 'k:%'").get() as { n: number }).n;
    await h.ingest(swipe());
    await h.ingest(passed(1));
    await h.advance(3000);
    await h.ingest(swipe());
    await h.ingest(passed(1));
    await h.advance(3000);
    expect(h.raised).toHaveLength(0);
    expect(keptRows()).toBe(0);
    // Both passages are still within a window: the rebuilt rule judges them again, and again finds
    // as many openings as passers.
    await h.restart();
    await h.advance(3000);
    expect(h.raised).toHaveLength(0);
    // One more passer than openings after the restart: the alert counts that passage's window only.
    await h.ingest(passed(1));
    await h.advance(3000);
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details).toMatchObject({ passers: 3, openings: 2 });
    expect(keptRows()).toBe(1);
  });

  it('a judgement that fell due more than a window ago (downtime) is dropped', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(passed(2));
    await h.stop();
    h.clock.advance(13_000);
    await h.start();
    await h.advance(MIN);
    expect(h.alertsOf('tail')).toHaveLength(0);
  });

  it('a busy gate: every passage judged against its own window, through hundreds of entries', async () => {
    h = await new RulesHarness(rules).start();
    // 150 passages 700 ms apart, each with its swipe: the window always holds as many openings as passers.
    for (let i = 0; i < 150; i++) {
      await h.ingest(swipe(String(2000 + i)));
      await h.ingest(passed(1));
      await h.advance(700);
    }
    await h.advance(3000);
    expect(h.raised).toHaveLength(0);
    // In the last window, two passers on one swipe more: one alert counting that window's entries.
    const s1 = await h.ingest(swipe());
    const p1 = await h.ingest(passed(2));
    await h.advance(3000);
    expect(h.raised).toHaveLength(1);
    // Judged at 110 s over [98 s, 110 s] (window and grace): the passages at 98.0–104.3 s and this one.
    expect(h.raised[0]!.details).toMatchObject({ passers: 12, openings: 11 });
    expect(h.raised[0]!.evidence).toHaveLength(22); // the window's 11 openings, then its 11 passages
    expect([h.raised[0]!.evidence[10], h.raised[0]!.evidence[21]]).toEqual([s1.id, p1.id]);
    // After the cooldown (300 s), the same again: its window holds only those two.
    await h.advance(10 * MIN);
    const s = await h.ingest(swipe());
    const p = await h.ingest(passed(2));
    await h.advance(3000);
    expect(h.raised).toHaveLength(2);
    expect(h.raised[1]!.details).toMatchObject({ passers: 2, openings: 1 });
    expect(h.raised[1]!.evidence).toEqual([s.id, p.id]);
  });

  it('a busy gate where every swipe comes a moment before its camera count raises nothing', async () => {
    h = await new RulesHarness(rules).start();
    // Swipe, then the camera counts the person 1.2 s later; a passage every 1.9 s, so that a
    // judgement's window (10 s and the grace before it) begins between a swipe and its passer.
    const passages = async (n: number, firstCard: number) => {
      for (let i = 0; i < n; i++) {
        await h!.ingest(swipe(String(firstCard + i)));
        await h!.advance(1200);
        await h!.ingest(passed(1));
        await h!.advance(700);
      }
    };
    await passages(120, 3000);
    await h.advance(30_000);
    expect(h.raised).toHaveLength(0);
    // One passer without a swipe among them is one alert, naming that passage.
    await passages(5, 4000);
    const sneak = await h.ingest(passed(1));
    await h.advance(1900);
    await passages(5, 5000);
    await h.advance(30_000);
    // The sneak took the next passer's swipe (reported within its grace); that passer, whose swipe
    // came first, took it back, so the sneak is the one left without and named in the evidence.
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.details).toMatchObject({ unmatched: 1 });
    expect(h.raised[0]!.evidence).toContain(sneak.id);
  });

  it('a swipe stamped before an earlier one (the wall clock stepped back) counts by its time', async () => {
    h = await new RulesHarness(rules).start();
    const t = h.clock.now();
    await h.ingest(swipe());
    await h.advance(2000);
    await h.ingest(passed(1)); // judged at t + 4 s over [t - 8 s, t + 4 s]: the swipe at t covers it
    h.clock.set(t + 2000 - 15_000);
    await h.ingest(swipe('1002')); // stamped t - 13 s: outside that window, and no cover for anyone
    await h.advance(25_000);
    expect(h.raised).toHaveLength(0);
  });

  it('a swipe stamped before openings already taken is still free for the passer behind it', async () => {
    h = await new RulesHarness(rules).start();
    const t = h.clock.now();
    await h.ingest(swipe());
    await h.advance(500);
    await h.ingest(passed(1)); // takes the swipe at t
    await h.advance(5000); // judged up to t + 0.5 s: nothing
    h.clock.set(t - 1000);
    await h.ingest(swipe('1002')); // stamped before the taken swipe, inserted behind it
    await h.advance(2000);
    await h.ingest(passed(1)); // stamped t + 1 s: the swipe at t - 1 s is its opening
    await h.advance(25_000);
    expect(h.raised).toHaveLength(0);
  });

  it('outside the scope nothing is judged', async () => {
    h = await new RulesHarness([{ ...rules[0], scope: { gates: ['gate-3'] } }]).start();
    await h.ingest(passed(3));
    await h.advance(3000);
    expect(h.raised).toHaveLength(0);
  });
});

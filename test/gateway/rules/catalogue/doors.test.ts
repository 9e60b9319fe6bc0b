import { afterEach, describe, expect, it } from 'vitest';
import { MIN, RulesHarness } from '../harness.ts';

let h: RulesHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('door-forced (门被强行打开)', () => {
  it('raises at once with the door and time', async () => {
    h = await new RulesHarness([{ id: 'forced', type: 'door-forced' }]).start();
    const e = await h.ingest({ deviceId: 'ac-b1', type: 'door.forced' });
    expect(h.raised[0]).toMatchObject({ message: '1号楼1单元 门被强行打开 (08:00)', evidence: [e.id], severity: 'high' });
  });
});

describe('door-held-open (门长时间未关)', () => {
  const rules = [{ id: 'held', type: 'door-held-open', params: { seconds: 60 } }];

  it('below, at and over S seconds open', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(59_000);
    await h.ingest({ deviceId: 'ac-1', type: 'door.closed' });
    await h.advance(MIN);
    expect(h.raised).toHaveLength(0);
    const opened = await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(59_999);
    expect(h.raised).toHaveLength(0);
    await h.advance(1);
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toBe('1号门 门未关超过 60 秒 (08:01 打开, 阈值 60 秒)');
    expect(h.raised[0]!.evidence).toEqual([opened.id]);
  });

  it('the controller\'s own held-open report raises at once', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.held-open', payload: { seconds: 120 } });
    expect(h.raised[0]!.message).toContain('门未关超过 120 秒');
  });

  it('tracks open/close outside the schedule so a door closed after the window ends raises nothing', async () => {
    h = await new RulesHarness([{ ...rules[0], schedule: { windows: [{ from: '08:00', to: '08:01' }] } }]).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(61_000); // 08:01:01: due, but the schedule ended
    expect(h.raised).toHaveLength(0);
  });

  it('the timer survives a restart; a timer that fell due during a long downtime is dropped', async () => {
    h = new RulesHarness(rules);
    await h.start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(30_000);
    await h.restart();
    await h.advance(30_000);
    expect(h.raised).toHaveLength(1);

    await h.ingest({ deviceId: 'ac-3', type: 'door.opened' });
    await h.stop();
    h.clock.advance(10 * MIN);
    await h.start();
    await h.advance(MIN);
    expect(h.alertsOf('held')).toHaveLength(1);
  });

  it('a crash (no orderly stop) mid-hold still raises: the opening is rebuilt from the stored events', async () => {
    h = await new RulesHarness(rules).start();
    const opened = await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.ingest({ deviceId: 'ac-3', type: 'door.opened' });
    await h.ingest({ deviceId: 'ac-3', type: 'door.closed' });
    await h.advance(20_000);
    h.store.close(); // the process dies: the engine is never stopped
    const again = new RulesHarness(rules, { startMs: h.clock.now() + 10_000 });
    Object.assign(again, { file: h.file });
    h = again;
    await h.start();
    await h.advance(29_999);
    expect(h.raised).toHaveLength(0);
    await h.advance(1);
    expect(h.raised.map((a) => a.evidence)).toEqual([[opened.id]]);
  });

  it('an opening already checked is not checked again after a restart; a new opening is', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(60_000);
    expect(h.alertsOf('held')).toHaveLength(1);
    await h.restart(); // within the 30 s in which a late check would still raise
    await h.advance(5 * MIN);
    expect(h.alertsOf('held')[0]!.occurrences).toBe(1);
    // Closed and opened again: a new opening, checked again (merged into the open alert).
    await h.ingest({ deviceId: 'ac-1', type: 'door.closed' });
    await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
    await h.advance(60_000);
    expect(h.alertsOf('held')[0]!.occurrences).toBe(2);
  });

  it('doors opening and closing write no rule_state row per passage', async () => {
    h = await new RulesHarness(rules).start();
    for (let i = 0; i < 5; i++) {
      await h.ingest({ deviceId: 'ac-1', type: 'door.opened' });
      await h.advance(1000);
      await h.ingest({ deviceId: 'ac-1', type: 'door.closed' });
    }
    expect([...h.store.ruleState.all('held').keys()]).toEqual([]);
  });
});

describe('access-denied-repeat (多次刷卡被拒)', () => {
  const rules = [{ id: 'denied', type: 'access-denied-repeat', params: { count: 3, windowMinutes: 2 } }];
  const deny = (card = '9999', deviceId = 'ac-1') => ({ deviceId, type: 'access.denied' as const, subjects: { cardNo: card } });

  it('below, at and over N in T; other cards and doors are separate windows', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(deny());
    await h.ingest(deny('8888'));
    await h.ingest(deny('9999', 'ac-3'));
    await h.advance(30_000);
    await h.ingest(deny());
    expect(h.raised).toHaveLength(0);
    await h.ingest(deny());
    expect(h.raised).toHaveLength(1);
    expect(h.raised[0]!.message).toBe('1号门 2 分钟内 3 次验证被拒 (卡号 9999) (阈值 3 次)');
    expect(h.raised[0]!.evidence).toHaveLength(3);
  });

  it('denials older than T drop out', async () => {
    h = await new RulesHarness(rules).start();
    await h.ingest(deny());
    await h.ingest(deny());
    await h.advance(2 * MIN + 1);
    await h.ingest(deny());
    expect(h.raised).toHaveLength(0);
  });

  it('the windows of cards that never reach N are forgotten (memory stays bounded)', async () => {
    h = await new RulesHarness(rules).start();
    for (let i = 0; i < 20; i++) await h.ingest(deny(`x${i}`));
    const windows = () => [...h!.engine['states'].get('denied')!.entries('w:')].length;
    expect(windows()).toBe(20);
    await h.advance(2 * MIN + 1);
    await h.ingest(deny('y'));
    expect(windows()).toBe(1);
  });

  it('a restart in the middle of the window changes no outcome', async () => {
    h = new RulesHarness(rules);
    await h.start();
    await h.ingest(deny());
    await h.ingest(deny());
    await h.restart();
    await h.advance(30_000);
    await h.ingest(deny());
    expect(h.raised).toHaveLength(1);
  });
});

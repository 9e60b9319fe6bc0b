import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../gateway/core/model.ts';
import { Store } from '../../../gateway/store/store.ts';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: 'a1',
    ruleId: 'tailgating-0',
    ruleType: 'tailgating',
    severity: 'medium',
    category: 'property',
    status: 'new',
    raisedAt: iso(T0),
    updatedAt: iso(T0),
    codes: { communityGridCode: 'CG1', policeGridCode: 'PG1', addressCode: 'AC1' },
    place: { label: '1号门', gate: 'g1' },
    deviceId: 'gate-cam-1',
    subject: null,
    message: '1号门 疑似尾随',
    details: {},
    evidence: ['e1'],
    mergeKey: 'g1',
    occurrences: 1,
    lastTriggeredAt: iso(T0),
    transitions: [],
    ...overrides,
  } as Alert;
}

describe('alert change log', () => {
  it('a merge logs no copy of the body; reading the log gives the alert as it is now, in order', () => {
    const store = Store.open(':memory:');
    const raised = alert();
    const merged = alert({ occurrences: 2, evidence: ['e1', 'e2'], updatedAt: iso(T0 + 1000), lastTriggeredAt: iso(T0 + 1000) });
    const mergedAgain = alert({ occurrences: 3, evidence: ['e1', 'e2', 'e3'], updatedAt: iso(T0 + 2000), lastTriggeredAt: iso(T0 + 2000) });
    const acknowledged = alert({ ...mergedAgain, status: 'acknowledged', updatedAt: iso(T0 + 3000) });
    const seqs = [
      store.alerts.save(raised, 'raised'),
      store.alerts.save(merged, 'merged'),
      store.alerts.save(mergedAgain, 'merged'),
      store.alerts.save(acknowledged, 'transition'),
    ];
    const stored = store.db.prepare('SELECT change, length(body) AS bytes FROM alert_log ORDER BY seq').all() as { change: string; bytes: number }[];
    expect(stored.map((r) => [r.change, r.bytes > 0])).toEqual([
      ['raised', true],
      ['merged', false],
      ['merged', false],
      ['transition', true],
    ]);

    const log = store.alerts.logSince(0);
    expect(log.map((e) => e.seq)).toEqual(seqs);
    expect(log.map((e) => e.change)).toEqual(['raised', 'merged', 'merged', 'transition']);
    // A raise and a status change show the alert as it was then; a merge, as it is now.
    expect(log[0]!.alert).toEqual(raised);
    expect(log[1]!.alert).toEqual(acknowledged);
    expect(log[3]!.alert).toEqual(acknowledged);
    // Resuming from a sequence number (the stream's Last-Event-ID) starts after it.
    expect(store.alerts.logSince(seqs[1]!).map((e) => e.seq)).toEqual(seqs.slice(2));
    store.close();
  });
});

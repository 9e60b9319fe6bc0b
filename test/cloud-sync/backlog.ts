import { newId } from '../../gateway/core/ids.ts';
import type { OutboxKind } from '../../gateway/store/outbox.ts';
import { Store } from '../../gateway/store/store.ts';

/** An event shaped like the pipeline's (≈ 600 bytes of JSON). */
export function sampleEvent(i: number, nowMs = Date.now()): Record<string, unknown> & { id: string } {
  const at = new Date(nowMs).toISOString();
  return {
    id: newId(),
    deviceTime: at,
    receivedAt: at,
    deviceId: 'ac-1',
    deviceKind: 'access-controller',
    type: 'access.granted',
    codes: { addressCode: 'AC3501020001', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' },
    place: { label: '测试小区 1号门', gate: 'gate-1' },
    subjects: { cardNo: String(100000 + i) },
    identity: { kind: 'resident', matchedBy: 'card', personId: 'p1', name: '张三', houseIds: ['h101'] },
    payload: { direction: 'in', method: 'card', seq: i },
  };
}

/** Puts `count` items of one kind into the outbox of the database in dataDir (gateway not running). */
export function prefill(file: string, kind: OutboxKind, count: number): string[] {
  const store = Store.open(file);
  const ids: string[] = [];
  try {
    const nowMs = Date.now();
    store.db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const item = sampleEvent(i, nowMs);
        ids.push(item.id);
        store.outbox.enqueue(kind, item.id, item, nowMs);
      }
    })();
  } finally {
    store.close();
  }
  return ids;
}

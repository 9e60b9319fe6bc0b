/**
 * The ledger of a fault scenario: every event a simulated device sent, keyed by a marker the
 * device chose (`ref`, a UUID carried in the event JSON and kept by the gateway in the stored
 * event's `payload`), and whether the gateway acknowledged it (PUBACK). After the fault it is
 * compared with what the gateway stored and with what the platform broker received:
 * - lost: acknowledged but not found (must be none: a PUBACK promises the event is durable);
 * - duplicated: found more than once (stored twice is a bug; at the platform, at-least-once
 *   delivery after a crash allows it, so scenarios report it);
 * - unacked: found although the device never got its PUBACK (the gateway committed it and died,
 *   or the connection dropped, before the PUBACK went out): allowed, reported.
 */
import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';

export interface LedgerComparison {
  /** Where the refs were found, for messages ("store", "platform"). */
  where: string;
  sent: number;
  acked: number;
  /** Distinct ledger refs found. */
  found: number;
  lost: string[];
  duplicated: string[];
  /** Found more often than once: the extra copies in total. */
  extraCopies: number;
  unacked: number;
}

export class Ledger {
  /** ref → device id, for every event a device tried to send. */
  private readonly sentRefs = new Map<string, string>();
  private readonly ackedRefs = new Set<string>();

  /** A fresh marker for the next event of `deviceId`. */
  next(deviceId: string): string {
    const ref = randomUUID();
    this.sentRefs.set(ref, deviceId);
    return ref;
  }

  ack(ref: string): void {
    if (!this.sentRefs.has(ref)) throw new Error(`ledger: PUBACK for ${ref}, which no device sent`);
    this.ackedRefs.add(ref);
  }

  get sent(): number {
    return this.sentRefs.size;
  }

  get acked(): number {
    return this.ackedRefs.size;
  }

  ackedBy(deviceId: string): number {
    let n = 0;
    for (const ref of this.ackedRefs) if (this.sentRefs.get(ref) === deviceId) n++;
    return n;
  }

  /** Compares with the refs found somewhere (duplicates kept); refs no device of this ledger sent are ignored. */
  compare(where: string, foundRefs: Iterable<string | null | undefined>): LedgerComparison {
    const counts = new Map<string, number>();
    for (const ref of foundRefs) {
      if (!ref || !this.sentRefs.has(ref)) continue;
      counts.set(ref, (counts.get(ref) ?? 0) + 1);
    }
    const lost = [...this.ackedRefs].filter((ref) => !counts.has(ref));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([ref]) => ref);
    let extraCopies = 0;
    for (const n of counts.values()) extraCopies += n - 1;
    let unacked = 0;
    for (const ref of counts.keys()) if (!this.ackedRefs.has(ref)) unacked++;
    return { where, sent: this.sent, acked: this.acked, found: counts.size, lost, duplicated, extraCopies, unacked };
  }
}

/** One line for a log or a report: counts, and the first few lost refs if any. */
export function summarize(c: LedgerComparison): string {
  const lost = c.lost.length ? ` (${c.lost.slice(0, 3).join(', ')}${c.lost.length > 3 ? ', …' : ''})` : '';
  return `${c.where}: sent ${c.sent}, acked ${c.acked}, found ${c.found}, lost ${c.lost.length}${lost}, duplicated ${c.duplicated.length} (+${c.extraCopies} copies), stored without PUBACK ${c.unacked}`;
}

/**
 * Every `payload.ref` in the events table of a gateway database (duplicates kept). Opens its own
 * read connection: the gateway may be running (WAL lets it read alongside) or dead (opening
 * recovers a hot WAL, which is part of what the power-cut scenario checks).
 */
export function storedRefs(dbFile: string): string[] {
  const db = new BetterSqlite3(dbFile);
  try {
    return (db.prepare("SELECT json_extract(body, '$.payload.ref') AS ref FROM events").all() as { ref: string | null }[]).map((r) => r.ref).filter((r): r is string => !!r);
  } finally {
    db.close();
  }
}

/** Every `payload.ref` of the event items in the envelopes a platform peer received (duplicates kept). */
export function platformRefs(messages: readonly { topic: string; body: any }[], eventsTopic: string): string[] {
  return messages
    .filter((m) => m.topic === eventsTopic && Array.isArray(m.body?.items))
    .flatMap((m) => m.body.items.map((item: { payload?: { ref?: unknown } }) => (typeof item.payload?.ref === 'string' ? item.payload.ref : null)))
    .filter((r: string | null): r is string => !!r);
}

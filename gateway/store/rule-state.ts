import type { Database, Statement } from 'better-sqlite3';
import type { DeviceEvent } from '../core/model.ts';

/** Durable per-rule state (windows, counters, pending timers) as JSON values under a key. */
const MANY = 100;

export class RuleStateRepo {
  private getStmt: Statement;
  private setStmt: Statement;
  private delStmt: Statement;
  private allStmt: Statement;
  private idsStmt: Statement;
  private deleteRuleStmt: Statement;
  private rowidStmt: Statement;

  constructor(private readonly db: Database) {
    this.getStmt = db.prepare('SELECT value FROM rule_state WHERE rule_id = ? AND key = ?');
    this.setStmt = db.prepare(
      'INSERT INTO rule_state (rule_id, key, value, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT(rule_id, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms',
    );
    this.delStmt = db.prepare('DELETE FROM rule_state WHERE rule_id = ? AND key = ?');
    this.allStmt = db.prepare('SELECT key, value FROM rule_state WHERE rule_id = ?');
    this.idsStmt = db.prepare('SELECT DISTINCT rule_id FROM rule_state');
    this.deleteRuleStmt = db.prepare('DELETE FROM rule_state WHERE rule_id = ?');
    this.rowidStmt = db.prepare('SELECT rowid FROM events WHERE id = ?');
  }

  get<T>(ruleId: string, key: string): T | undefined {
    const row = this.getStmt.get(ruleId, key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(ruleId: string, key: string, value: unknown, nowMs: number): void {
    this.setStmt.run(ruleId, key, JSON.stringify(value), nowMs);
  }

  delete(ruleId: string, key: string): void {
    this.delStmt.run(ruleId, key);
  }

  all<T>(ruleId: string): Map<string, T> {
    return new Map((this.allStmt.all(ruleId) as { key: string; value: string }[]).map((r) => [r.key, JSON.parse(r.value) as T]));
  }

  /**
   * Writes many keys of one rule at once (undefined deletes). Multi-row statements of up to 100
   * rows: per-statement overhead, not the B-tree, is most of the cost of a small upsert.
   */
  setMany(ruleId: string, entries: [key: string, value: unknown][], nowMs: number): void {
    const upserts: [string, string][] = [];
    for (const [key, value] of entries) {
      if (value === undefined) this.delStmt.run(ruleId, key);
      else upserts.push([key, JSON.stringify(value)]);
    }
    for (let i = 0; i < upserts.length; i += MANY) {
      const chunk = upserts.slice(i, i + MANY);
      const args: unknown[] = [];
      for (const [key, value] of chunk) args.push(ruleId, key, value, nowMs);
      this.manyStmt(chunk.length).run(...args);
    }
  }

  private manyStmts = new Map<number, Statement>();
  private manyStmt(rows: number): Statement {
    let stmt = this.manyStmts.get(rows);
    if (!stmt) {
      stmt = this.db.prepare(
        `INSERT INTO rule_state (rule_id, key, value, updated_ms) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')}
         ON CONFLICT(rule_id, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
      );
      this.manyStmts.set(rows, stmt);
    }
    return stmt;
  }

  /**
   * Stored events inside any of the windows (received at or after `fromMs`, of the window's types;
   * `types` null: every type), each once, in the order they were stored: what event-sourced rules
   * replay at start to rebuild their windows and counters. Iterates, so a week of events is never
   * held in memory at once.
   *
   * `upTo`: only events stored no later than this one (by storage order, whatever their times):
   * the last event the rules were given. Those stored after it are still on their way to the
   * rules. An id that is not stored (any more) sets no bound.
   */
  *eventsSince(windows: readonly { fromMs: number; types: readonly string[] | null }[], upTo?: string): IterableIterator<DeviceEvent> {
    if (windows.length === 0) return;
    const clauses = windows.map((w) => (w.types ? `(type IN (${w.types.map(() => '?').join(', ')}) AND received_ms >= ?)` : '(received_ms >= ?)'));
    const args: unknown[] = windows.flatMap((w) => [...(w.types ?? []), w.fromMs]);
    const bound = upTo === undefined ? undefined : (this.rowidStmt.get(upTo) as { rowid: number } | undefined)?.rowid;
    const stmt = this.db.prepare(
      `SELECT body FROM events WHERE (${clauses.join(' OR ')})${bound === undefined ? '' : ' AND rowid <= ?'} ORDER BY received_ms, rowid`,
    );
    if (bound !== undefined) args.push(bound);
    for (const row of stmt.iterate(...args) as IterableIterator<{ body: string }>) yield JSON.parse(row.body) as DeviceEvent;
  }

  /** Every rule id that has state, so the engine can drop the state of rules that were removed. */
  ruleIds(): string[] {
    return (this.idsStmt.all() as { rule_id: string }[]).map((r) => r.rule_id);
  }

  deleteRule(ruleId: string): void {
    this.deleteRuleStmt.run(ruleId);
  }
}

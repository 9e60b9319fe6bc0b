import type { Database, Statement } from 'better-sqlite3';

/** Durable per-rule state (windows, counters, pending timers) as JSON values under a key. */
export class RuleStateRepo {
  private getStmt: Statement;
  private setStmt: Statement;
  private delStmt: Statement;
  private allStmt: Statement;
  private idsStmt: Statement;
  private deleteRuleStmt: Statement;

  constructor(db: Database) {
    this.getStmt = db.prepare('SELECT value FROM rule_state WHERE rule_id = ? AND key = ?');
    this.setStmt = db.prepare(
      'INSERT INTO rule_state (rule_id, key, value, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT(rule_id, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms',
    );
    this.delStmt = db.prepare('DELETE FROM rule_state WHERE rule_id = ? AND key = ?');
    this.allStmt = db.prepare('SELECT key, value FROM rule_state WHERE rule_id = ?');
    this.idsStmt = db.prepare('SELECT DISTINCT rule_id FROM rule_state');
    this.deleteRuleStmt = db.prepare('DELETE FROM rule_state WHERE rule_id = ?');
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

  /** Every rule id that has state, so the engine can drop the state of rules that were removed. */
  ruleIds(): string[] {
    return (this.idsStmt.all() as { rule_id: string }[]).map((r) => r.rule_id);
  }

  deleteRule(ruleId: string): void {
    this.deleteRuleStmt.run(ruleId);
  }
}

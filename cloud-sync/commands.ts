import type { KeyObject } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { z } from 'zod';
import type { GatewayConfig } from '../config/schema/index.ts';
import { formatPath } from '../config/load.ts';
import { AlertError, type AlertService } from '../gateway/alerts/alert-service.ts';
import type { Clock } from '../gateway/core/clock.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Metrics } from '../gateway/core/metrics.ts';
import type { Identifier } from '../gateway/identify/identifier.ts';
import type { RuleEngine } from '../gateway/rules/engine.ts';
import { DEFAULT_RULES } from '../gateway/rules/catalogue/index.ts';
import type { PersonRecord, WatchRecord } from '../gateway/store/registry.ts';
import type { Store } from '../gateway/store/store.ts';
import { verifyCommandSignature } from './canonical.ts';
import {
  COMMAND_PAYLOADS,
  COMMAND_TYPES,
  CommandSchema,
  type AlertDispositionPayload,
  type Command,
  type CommandErrorCode,
  type CommandResult,
  type CommandType,
  type RegistrySyncPayload,
  type RulesUpdatePayload,
  type WatchlistRemovePayload,
  type WatchlistUpsertPayload,
} from './messages.ts';

/** A failure that is the command's fault: answered with an error result and nothing changed. */
class CommandRefused extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Outcome = { status: 'ok'; result: Record<string, unknown> } | { status: 'error'; code: CommandErrorCode; error: string };

export interface CommandStats {
  received: number;
  ok: number;
  error: number;
  duplicates: number;
}

/** Future-dated commands beyond this are refused: a wrong platform clock must not open a replay window. */
const MAX_CLOCK_SKEW_MS = 3_600_000;
type RulePatch = z.infer<typeof RulesUpdatePayload>['rules'][number];

/**
 * Applies downlink commands from the grid platform. Order of checks: readable JSON, command
 * shape, Ed25519 signature (nothing unsigned goes further), addressed to this gateway, not seen
 * before (idempotent by id), not too old, known type, valid payload; then the change is applied
 * and its result recorded in the same transaction, so a redelivered command is answered from
 * the record and never applied twice.
 */
export class CommandProcessor {
  readonly stats: CommandStats = { received: 0, ok: 0, error: 0, duplicates: 0 };

  constructor(
    private readonly deps: {
      gatewayId: string;
      config: GatewayConfig;
      store: Store;
      identifier: Identifier;
      alerts: AlertService;
      rules: RuleEngine;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      publicKey: KeyObject | null;
      maxAgeMs: number;
      commandsTotal: Counter<'type' | 'status' | 'code'>;
    },
  ) {}

  /** Handles one message from …/cmd. Never throws: every failure becomes an error result. */
  async handle(payload: Buffer, topic: string): Promise<CommandResult> {
    this.stats.received++;
    let id: string | null = null;
    let type = 'unreadable';
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(payload.toString('utf8'));
      } catch (error) {
        throw new CommandRefused('bad-json', `${topic}: not JSON (${(error as Error).message})`);
      }
      if (raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string') id = String((raw as { id: string }).id).slice(0, 128);
      const parsed = CommandSchema.safeParse(raw);
      if (!parsed.success) throw new CommandRefused('invalid-command', `${topic}: ${describeIssues(parsed.error, '')}`);
      const command = parsed.data;
      id = command.id;
      type = COMMAND_TYPES.includes(command.type as CommandType) ? command.type : 'unknown';
      if (!this.deps.publicKey) throw new CommandRefused('no-public-key', 'no platform public key configured (platform.commandPublicKey): commands are refused');
      if (!verifyCommandSignature(raw as Record<string, unknown>, this.deps.publicKey))
        throw new CommandRefused('bad-signature', `command ${command.id}: signature does not verify against the platform public key`);
      if (command.gatewayId !== this.deps.gatewayId)
        throw new CommandRefused('wrong-gateway', `command ${command.id} is for gateway ${command.gatewayId}, this is ${this.deps.gatewayId}`);

      const previous = this.previousResult(command.id);
      if (previous) {
        this.stats.duplicates++;
        this.deps.commandsTotal.inc({ type, status: 'duplicate', code: '' });
        this.deps.log.info({ commandId: command.id, type: command.type }, 'platform command already handled: answering with its first result');
        return { ...previous, duplicate: true, at: this.now() };
      }
      const outcome = await this.applySigned(command);
      return this.finish(command.id, type, outcome);
    } catch (error) {
      const refused =
        error instanceof CommandRefused ? error : new CommandRefused('internal', `command ${id ?? '(no id)'}: ${(error as Error).message}`);
      if (!(error instanceof CommandRefused)) this.deps.log.error({ err: error, commandId: id }, 'platform command failed inside the gateway');
      // Not recorded: an unsigned or unreadable message must not block the real command with its id.
      return this.finish(id, type, { status: 'error', code: refused.code, error: refused.message });
    }
  }

  /** Signed, addressed to us and new: check age, type and payload, then apply and record. */
  private async applySigned(command: Command): Promise<Outcome> {
    const nowMs = this.deps.clock.now();
    const issuedMs = Date.parse(command.issuedAt);
    let outcome: Outcome | null = null;
    if (issuedMs < nowMs - this.deps.maxAgeMs) outcome = refuse('expired', `command ${command.id} was issued at ${command.issuedAt}, older than the ${this.deps.maxAgeMs / 1000} s allowed`);
    else if (issuedMs > nowMs + MAX_CLOCK_SKEW_MS) outcome = refuse('expired', `command ${command.id} is dated ${command.issuedAt}, in the future`);
    else if (!COMMAND_TYPES.includes(command.type as CommandType))
      outcome = refuse('unknown-type', `command ${command.id}: unknown type "${command.type}"; known: ${COMMAND_TYPES.join(', ')}`);
    if (outcome) {
      await this.record(command, outcome, () => {});
      return outcome;
    }
    const type = command.type as CommandType;
    const payload = COMMAND_PAYLOADS[type].safeParse(command.payload);
    if (!payload.success) {
      outcome = refuse('invalid-payload', `command ${command.id} (${type}): ${describeIssues(payload.error, 'payload')}`);
      await this.record(command, outcome, () => {});
      return outcome;
    }
    try {
      return await this.apply(command, type, payload.data);
    } catch (error) {
      if (!(error instanceof CommandRefused)) throw error;
      outcome = refuse(error.code, error.message);
      await this.record(command, outcome, () => {});
      return outcome;
    }
  }

  private async apply(command: Command, type: CommandType, payload: unknown): Promise<Outcome> {
    const { identifier, store } = this.deps;
    switch (type) {
      case 'ping':
        return this.record(command, ok({ pong: this.now() }), () => {});
      case 'watchlist.upsert': {
        const { entries } = payload as z.infer<typeof WatchlistUpsertPayload>;
        assertUnique(entries.map((e) => e.id), 'payload.entries', 'id');
        const records: WatchRecord[] = entries.map((e) => ({
          id: e.id,
          subjectType: e.subject.type,
          subjectValue: e.subject.value,
          level: e.level,
          reason: e.reason,
          validFromMs: e.validFrom ? Date.parse(e.validFrom) : null,
          validToMs: e.validTo ? Date.parse(e.validTo) : null,
          ...(e.scope ? { scope: e.scope } : {}),
        }));
        return this.record(command, ok({ upserted: records.length }), () => records.forEach((r) => identifier.upsertWatch(r)));
      }
      case 'watchlist.remove': {
        const { ids } = payload as z.infer<typeof WatchlistRemovePayload>;
        const known = new Set(identifier.watchEntries().map((w) => w.id));
        const removed = ids.filter((i) => known.has(i));
        return this.record(command, ok({ removed: removed.length, unknown: ids.filter((i) => !known.has(i)) }), () => ids.forEach((i) => identifier.removeWatch(i)));
      }
      case 'registry.sync':
        return this.registrySync(command, payload as z.infer<typeof RegistrySyncPayload>);
      case 'rules.update':
        return this.rulesUpdate(command, payload as z.infer<typeof RulesUpdatePayload>);
      case 'alert.disposition':
        return this.disposition(command, payload as z.infer<typeof AlertDispositionPayload>);
      case 'config.reload':
        // Services read the site file once at start-up; a reload needs a restart (systemd) today.
        throw new CommandRefused('not-supported', `command ${command.id}: config reload is not supported by this gateway version; restart the service to reload the site file`);
    }
    void store;
  }

  private registrySync(command: Command, p: z.infer<typeof RegistrySyncPayload>): Promise<Outcome> {
    const { identifier, config } = this.deps;
    const houses = new Set(config.site.buildings.flatMap((b) => b.units.flatMap((u) => u.houses.map((h) => h.id))));
    assertUnique(p.persons.map((x) => x.id), 'payload.persons', 'id');
    const credentialOwner = new Map<string, number>();
    p.persons.forEach((person, i) => {
      person.houses.forEach((h, j) => {
        if (!houses.has(h)) throw new CommandRefused('invalid-payload', `command ${command.id}: payload.persons[${i}].houses[${j}]: unknown house "${h}"`);
      });
      person.credentials.forEach((c, j) => {
        const key = `${c.type}:${c.value}`;
        const other = credentialOwner.get(key);
        if (other !== undefined)
          throw new CommandRefused('invalid-payload', `command ${command.id}: payload.persons[${i}].credentials[${j}]: ${c.type} "${c.value}" also belongs to persons[${other}]`);
        credentialOwner.set(key, i);
      });
    });
    const records: PersonRecord[] = p.persons.map((x) => ({
      id: x.id,
      kind: x.kind,
      name: x.name,
      care: x.care,
      houses: x.houses,
      ...(x.relation ? { relation: x.relation } : {}),
      validFromMs: x.validFrom ? Date.parse(x.validFrom) : null,
      validToMs: x.validTo ? Date.parse(x.validTo) : null,
      credentials: x.credentials,
    }));
    const keep = new Set(records.map((r) => r.id));
    const toRemove = p.mode === 'snapshot' ? [...identifier.allPersons()].map((x) => x.id).filter((i) => !keep.has(i)) : p.removed;
    return this.record(command, ok({ mode: p.mode, upserted: records.length, removed: toRemove.length }), () => {
      for (const i of toRemove) identifier.removePerson(i);
      for (const r of records) identifier.upsertPerson(r);
    });
  }

  /** Base rules from the site file with the platform's stored patches over them. */
  composedRules(extra: RulePatch[] = []): { rules: Record<string, unknown>[]; patches: Map<string, RulePatch> } {
    const patches = this.storedRulePatches();
    for (const p of extra) {
      const old = patches.get(p.id);
      patches.set(p.id, { ...old, ...p, ...(old?.params || p.params ? { params: { ...old?.params, ...p.params } } : {}) });
    }
    const base = (this.deps.config.rules ?? DEFAULT_RULES) as Record<string, unknown>[];
    const rules = base.map((rule) => {
      const patch = patches.get(String(rule.id));
      if (!patch) return rule;
      const { id: _id, params, ...rest } = patch;
      return { ...rule, ...rest, ...(params ? { params: { ...(rule.params as object | undefined), ...params } } : {}) };
    });
    return { rules, patches };
  }

  private async rulesUpdate(command: Command, p: z.infer<typeof RulesUpdatePayload>): Promise<Outcome> {
    const { rules: engine, store, clock } = this.deps;
    const baseIds = new Set(((this.deps.config.rules ?? DEFAULT_RULES) as { id: string }[]).map((r) => r.id));
    assertUnique(p.rules.map((r) => r.id), 'payload.rules', 'id');
    p.rules.forEach((r, i) => {
      if (!baseIds.has(r.id)) throw new CommandRefused('not-found', `command ${command.id}: payload.rules[${i}].id: no rule "${r.id}" on this gateway`);
    });
    const { rules, patches } = this.composedRules(p.rules);
    const touched = new Set(p.rules.map((r) => r.id));
    const { problems } = (engine.constructor as typeof RuleEngine).validate(rules);
    const mine = problems.filter((x) => touched.has(x.ruleId));
    if (mine.length > 0)
      throw new CommandRefused('invalid-payload', `command ${command.id}: ${mine.map((x) => `rule ${x.ruleId} ${x.field}: ${x.message}`).join('; ')}`);
    const hotReload = (engine as unknown as { updateRules?: (rules: unknown[]) => unknown[] }).updateRules;
    const outcome = ok(
      hotReload
        ? { stored: true, applied: true, rules: [...touched] }
        : {
            stored: true,
            applied: false,
            rules: [...touched],
            note: 'this gateway’s rule engine reads rules at start-up only: the parameters are stored and take effect when a rule engine with hot reload is running',
          },
    );
    const nowMs = clock.now();
    const result = await this.record(command, outcome, () => {
      const upsert = store.db.prepare(
        'INSERT INTO platform_rule_params (rule_id, body, command_id, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT(rule_id) DO UPDATE SET body = excluded.body, command_id = excluded.command_id, updated_ms = excluded.updated_ms',
      );
      for (const id of touched) upsert.run(id, JSON.stringify(patches.get(id)), command.id, nowMs);
    });
    if (hotReload) hotReload.call(engine, rules);
    return result;
  }

  /** Applies stored platform rule patches when the engine can hot-reload (called at start). */
  applyStoredRulePatches(): boolean {
    const engine = this.deps.rules as unknown as { updateRules?: (rules: unknown[]) => unknown[] };
    const { rules, patches } = this.composedRules();
    if (patches.size === 0 || !engine.updateRules) return false;
    engine.updateRules(rules);
    return true;
  }

  private storedRulePatches(): Map<string, RulePatch> {
    const rows = this.deps.store.db.prepare('SELECT rule_id, body FROM platform_rule_params').all() as { rule_id: string; body: string }[];
    return new Map(rows.map((r) => [r.rule_id, JSON.parse(r.body) as RulePatch]));
  }

  private async disposition(command: Command, p: z.infer<typeof AlertDispositionPayload>): Promise<Outcome> {
    const { alerts } = this.deps;
    const by = `platform:${p.by}`;
    try {
      const updated = await alerts.transition(p.alertId, p.status, { by, note: p.note ?? null, source: 'platform' });
      return this.record(command, ok({ alertId: updated.id, status: updated.status }), () => {});
    } catch (error) {
      if (!(error instanceof AlertError)) throw error;
      const current = alerts.get(p.alertId);
      const last = current?.transitions[current.transitions.length - 1];
      // Applied before a crash that came before the record: the same move again is not an error.
      if (error.code === 'invalid-transition' && current?.status === p.status && last?.source === 'platform' && last.by === by)
        return this.record(command, ok({ alertId: current.id, status: current.status, alreadyApplied: true }), () => {});
      throw new CommandRefused(error.code === 'note-required' ? 'invalid-payload' : error.code, `command ${command.id}: ${error.message}`);
    }
  }

  /** Runs the change and records the outcome in one transaction. */
  private async record(command: Command, outcome: Outcome, change: () => void): Promise<Outcome> {
    const { store, clock } = this.deps;
    const nowMs = clock.now();
    const result = this.resultOf(command.id, outcome);
    await store.writes.write((db) => {
      change();
      db.prepare('INSERT INTO platform_commands (id, type, issued_at, received_ms, status, result) VALUES (?, ?, ?, ?, ?, ?)').run(
        command.id,
        command.type.slice(0, 64),
        command.issuedAt,
        nowMs,
        outcome.status,
        JSON.stringify(result),
      );
    });
    return outcome;
  }

  private previousResult(id: string): CommandResult | null {
    const row = this.deps.store.db.prepare('SELECT result FROM platform_commands WHERE id = ?').get(id) as { result: string } | undefined;
    return row ? (JSON.parse(row.result) as CommandResult) : null;
  }

  /** Forgets handled ids older than the age limit: older commands are refused as expired anyway. */
  prune(nowMs: number): number {
    return this.deps.store.db.prepare('DELETE FROM platform_commands WHERE received_ms < ?').run(nowMs - this.deps.maxAgeMs - MAX_CLOCK_SKEW_MS - 86_400_000).changes;
  }

  private finish(id: string | null, type: string, outcome: Outcome): CommandResult {
    const { metrics, log, commandsTotal } = this.deps;
    if (outcome.status === 'ok') {
      this.stats.ok++;
      commandsTotal.inc({ type, status: 'ok', code: '' });
      log.info({ commandId: id, type }, `platform command ${type} applied`);
    } else {
      this.stats.error++;
      commandsTotal.inc({ type, status: 'error', code: outcome.code });
      metrics.rejected.inc({ source: 'platform', reason: outcome.code });
      log.warn({ commandId: id, type, code: outcome.code }, `platform command refused: ${outcome.error}`);
    }
    return this.resultOf(id, outcome);
  }

  private resultOf(id: string | null, outcome: Outcome): CommandResult {
    const base = { v: 1 as const, id, gatewayId: this.deps.gatewayId, status: outcome.status, at: this.now() };
    return outcome.status === 'ok' ? { ...base, result: outcome.result } : { ...base, code: outcome.code, error: outcome.error };
  }

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }
}

function ok(result: Record<string, unknown>): Outcome {
  return { status: 'ok', result };
}

function refuse(code: CommandErrorCode, error: string): Outcome {
  return { status: 'error', code, error };
}

function assertUnique(values: string[], path: string, field: string): void {
  const seen = new Map<string, number>();
  values.forEach((v, i) => {
    if (seen.has(v)) throw new CommandRefused('invalid-payload', `${path}[${i}].${field}: duplicate "${v}" (also at ${path}[${seen.get(v)}])`);
    seen.set(v, i);
  });
}

function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = formatPath(i.path as (string | number)[]);
      return `${[prefix, path].filter(Boolean).join('.') || '(root)'}: ${i.message}`;
    })
    .join('; ');
}

import { RULE_CATALOGUE } from './catalogue/index.ts';
import type { ResolvedRule } from './rule-types.ts';

/**
 * The active rule that rebuilds its state from the longest history of stored events, and how
 * long that is: stored events must be kept at least that long (EventRetention).
 */
export function longestLookback(rules: readonly ResolvedRule<unknown>[]): { ruleId: string; ms: number } | null {
  let longest: { ruleId: string; ms: number } | null = null;
  for (const rule of rules) {
    const ms = RULE_CATALOGUE.get(rule.type)?.rebuildLookbackMs?.(rule.params);
    if (ms !== undefined && (!longest || ms > longest.ms)) longest = { ruleId: rule.id, ms };
  }
  return longest;
}

import type { ConfigError, ConfigIssue } from '../../config/load.ts';

/**
 * Issues an edit introduced. A site file is often mid-commissioning (three devices added, one
 * provisioned so far): an edit must not be refused for problems that were already there, only for
 * the ones it causes. Lines shift when an edit inserts text, so issues compare by path and message.
 */
export function introducedIssues(before: ConfigError | null, after: ConfigError | null): ConfigIssue[] {
  if (!after) return [];
  const known = new Set((before?.issues ?? []).map((i) => `${i.path}\u0000${i.message}`));
  return after.issues.filter((i) => !known.has(`${i.path}\u0000${i.message}`));
}

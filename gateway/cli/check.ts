import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { ConfigError, formatIssue, loadConfigFile, type ConfigIssue, type LoadedConfig } from '../../config/load.ts';
import { RuleEngine } from '../rules/engine.ts';
import { siteFileFrom } from './common.ts';

export interface CheckResult {
  file: string;
  loaded: LoadedConfig | null;
  issues: ConfigIssue[];
}

/**
 * Validates a site file exactly as the gateway does at start-up (schema and cross-references via
 * config/load.ts, environment overrides included), then the rules' own parameters via
 * RuleEngine.validate, which the gateway would otherwise only report once running.
 */
export function checkSiteFile(file: string, env: NodeJS.ProcessEnv = process.env): CheckResult {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(file, env);
  } catch (error) {
    if (error instanceof ConfigError) return { file, loaded: null, issues: error.issues.map((i) => withGivenPath(i, file)) };
    throw error;
  }
  const { problems } = RuleEngine.validate(loaded.config.rules);
  const issues = problems.map((p): ConfigIssue => {
    const index = (loaded.config.rules ?? []).findIndex((r) => r.id === p.ruleId);
    const path = index >= 0 ? ['rules', index, ...parsePath(p.field)] : [];
    return {
      source: file,
      line: index >= 0 ? lineOf(file, path) : null,
      path: index >= 0 ? `rules[${index}]${p.field.startsWith('[') ? '' : '.'}${p.field}` : `rules (default set) ${p.ruleId}`,
      message: `rule "${p.ruleId}": ${p.message}`,
    };
  });
  return { file, loaded: issues.length === 0 ? loaded : null, issues };
}

/** The loader names the file by its base name; the installer typed a path, so show that. */
function withGivenPath(issue: ConfigIssue, file: string): ConfigIssue {
  return issue.source.startsWith('env ') ? issue : { ...issue, source: file };
}

/** "params.windows[0].from" → ['params', 'windows', 0, 'from'] */
export function parsePath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] !== undefined ? Number(match[2]) : match[1]!);
  return out;
}

function lineOf(file: string, path: (string | number)[]): number | null {
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter });
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return null;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a site file: every error with file, line and path; exit 1 on errors')
    .argument('[file]', 'site file (default: --config, GRIDGUARD_CONFIG, config/example-site.yaml)')
    .option('--json', 'print the result as JSON')
    .action((fileArg: string | undefined, options: { json?: boolean }) => {
      const file = fileArg ?? siteFileFrom(program.opts<{ config?: string }>().config);
      const result = checkSiteFile(file);
      if (options.json) {
        console.log(JSON.stringify({ file, ok: result.issues.length === 0, issues: result.issues }, null, 2));
      } else if (result.issues.length > 0) {
        console.error(`${file}: ${result.issues.length} error${result.issues.length === 1 ? '' : 's'}`);
        for (const issue of result.issues) console.error(formatIssue(issue));
      } else {
        const { config } = result.loaded!;
        console.log(
          `${file}: OK — ${config.site.communityName} (${config.site.gatewayId}), ${config.devices.length} device(s), ${RuleEngine.validate(config.rules).resolved.length} rule(s), platform ${config.platform?.enabled ? config.platform.url : 'off'}`,
        );
      }
      process.exitCode = result.issues.length > 0 ? 1 : 0;
    });
}

import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { GatewayConfigSchema, type GatewayConfig } from './schema/index.ts';

export interface ConfigIssue {
  /** File name as given, or "env NAME" when the value came from the environment. */
  source: string;
  line: number | null;
  /** Dotted path with indices, e.g. devices[3].transport */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${file}: ${issues.length} configuration error${issues.length === 1 ? '' : 's'}\n` + issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === null ? issue.source : `${issue.source}:${issue.line}`;
  return `${where} ${issue.path || '(root)'}: ${issue.message}`;
}

export interface LoadedConfig {
  config: GatewayConfig;
  /** Absolute path of the site file; relative paths inside it resolve against its folder. */
  file: string;
  resolvePath(p: string): string;
}

/** Environment variables a deployment changes most, and where each lands in the config. */
export const ENV_OVERRIDES = {
  GRIDGUARD_PLATFORM_URL: ['platform', 'url'],
  GRIDGUARD_DATA_DIR: ['storage', 'dataDir'],
  GRIDGUARD_HTTP_PORT: ['http', 'port'],
  GRIDGUARD_MQTT_PORT: ['broker', 'port'],
} as const;

export const DEFAULT_CONFIG_FILE = 'config/example-site.yaml';

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ source: file, line: null, path: '', message: `cannot read file: ${(error as Error).message}` }]);
  }
  return loadConfigText(text, file, env);
}

export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const name = basename(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        source: name,
        line: e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line,
        path: '',
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ source: name, line: 1, path: '', message: 'must be a mapping (key: value) at the top level' }]);
  }

  const fromEnv = new Map<string, string>();
  for (const [variable, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    const section = (raw[path[0]] ??= {}) as Record<string, unknown>;
    section[path[1]] = path[1] === 'port' && /^\d+$/.test(value) ? Number(value) : value;
    fromEnv.set(path.join('.'), variable);
    // Naming a platform broker in the environment means: use it.
    if (variable === 'GRIDGUARD_PLATFORM_URL') section.enabled = true;
  }

  const result = GatewayConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => toConfigIssue(issue, doc, lineCounter, name, fromEnv)),
    );
  }
  const absolute = resolve(file);
  return {
    config: result.data,
    file: absolute,
    resolvePath: (p: string) => (isAbsolute(p) ? p : resolve(dirname(absolute), p)),
  };
}

function toConfigIssue(
  issue: z.core.$ZodIssue,
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  fromEnv: Map<string, string>,
): ConfigIssue {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const envVar = fromEnv.get(path.join('.'));
  const pathText = formatPath(path);
  if (envVar) return { source: `env ${envVar}`, line: null, path: pathText, message: describe(issue) };
  return { source: file, line: lineOf(doc, lineCounter, path), path: pathText, message: describe(issue) };
}

/** The line of the deepest node along the path that exists in the document. */
function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return null;
}

export function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      if ((issue as { input?: unknown }).input === undefined) return 'is required';
      return `must be ${article(issue.expected)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${issue.minimum} item(s)` : issue.origin === 'string' ? `must not be shorter than ${issue.minimum}` : `must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `allows at most ${issue.maximum} item(s)` : issue.origin === 'string' ? `must not be longer than ${issue.maximum}` : `must be at most ${issue.maximum}`;
    default:
      return issue.message;
  }
}

function article(type: string): string {
  const names: Record<string, string> = { number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'a mapping', int: 'a whole number' };
  return names[type] ?? type;
}

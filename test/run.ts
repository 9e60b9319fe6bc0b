/**
 * `npm test`: the suite, then the secrets-in-logs sweep over the logs the suite's gateways wrote.
 *
 * Both run with a temporary directory of their own (TMPDIR points into it, so every test's
 * mkdtemp, every mosquitto, socat and Chromium profile lands there): the sweep reads exactly this
 * run's logs, and the directory is removed when both passed. Tests leave their data directories
 * behind on purpose (the sweep reads them), and without a root of its own every run left them in
 * the machine's /tmp: 18,700 directories, about 18 GB, on the development machine before this
 * existed. After a failure the directory is kept and named, for the post-mortem.
 *
 * Arguments go to the suite's vitest (`npm test -- test/gateway/rules`); the sweep then checks the
 * logs of what ran.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { makeTestRoot, SHARED_ROOT_ENV } from './helpers/temp-root.ts';

const root = makeTestRoot();
const env = { ...process.env, TMPDIR: root, [SHARED_ROOT_ENV]: root };
const vitest = (args: string[]) => spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...args], { stdio: 'inherit', env }).status ?? 1;

const SWEEP = 'test/security/secrets-in-logs.test.ts';
let status = vitest(['--exclude', `**/${SWEEP.split('/').pop()}`, ...process.argv.slice(2)]);
if (status === 0) status = vitest([SWEEP]);
if (status === 0) rmSync(root, { recursive: true, force: true });
else console.error(`test: the run's temporary files are kept in ${root}`);
process.exit(status);

/**
 * Vanishing ports: how long the gateway takes to heal when a serial port (socat pty) is unplugged
 * and replugged, and when the OPC-UA server is killed and restarted. A whole gateway, real
 * serialport bindings, a real node-opcua server in a child process.
 *
 *   npx tsx bench/recovery.ts            (GRIDGUARD_RECOVERY_ROUNDS=5, GRIDGUARD_OUTAGE_MS=3000)
 *
 * Baseline measured in the same run: a field change to a stored event with the link healthy;
 * the ratio says how much slower the first event after an outage is than a normal one.
 */
import { hasCommand } from '../test/helpers/tools.ts';
import { median, runRecovery, type RecoverySample } from '../test/reliability/recovery-scenario.ts';

const ROUNDS = Number(process.env.GRIDGUARD_RECOVERY_ROUNDS ?? 5);
const OUTAGE_MS = Number(process.env.GRIDGUARD_OUTAGE_MS ?? 3000);

if (!hasCommand('socat')) {
  console.error('socat is needed (apt-get install socat)');
  process.exit(1);
}

const figures = await runRecovery({ rounds: ROUNDS, outageMs: OUTAGE_MS });
const ms = (n: number) => `${Math.round(n)} ms`;
const row = (name: string, samples: RecoverySample[], baseline: number[]) => {
  const first = samples.map((s) => s.firstEventMs);
  console.log(
    `| ${name} | ${ms(median(samples.map((s) => s.detectMs)))} | ${ms(median(samples.map((s) => s.linkUpMs)))} (max ${ms(Math.max(...samples.map((s) => s.linkUpMs)))}) | ${ms(median(first))} (max ${ms(Math.max(...first))}) | ${ms(median(baseline))} | ${(median(first) / median(baseline)).toFixed(1)}× |`,
  );
};
console.log(`\n## Recovery after a vanishing port (${ROUNDS} rounds)\n\n${figures.config}\n`);
console.log('| port | outage detected | link up after the port is back | first event stored after the port is back | baseline event | ratio first event / baseline |');
console.log('|---|---|---|---|---|---|');
row('serial (socat pty unplugged)', figures.serial.samples, figures.serial.baselineMs);
row('OPC-UA (server SIGKILL, restarted)', figures.opcua.samples, figures.opcua.baselineMs);
console.log(`\nOPC-UA fixture server start (not counted above): median ${ms(median(figures.opcua.serverStartMs))}`);
process.exit(0);

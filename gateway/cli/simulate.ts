import type { Command } from 'commander';
import { ConfigError, formatIssue, loadConfigFile } from '../../config/load.ts';
import { createLogger } from '../core/logger.ts';
import { DeviceSimulator } from '../simulator/simulator.ts';
import { CliError, siteFileFrom } from './common.ts';
import { readSecretsFile } from './secrets-file.ts';

const SCENARIOS = ['normal-day', 'watchlisted-visitor', 'forced-door', 'smoke-alarm', 'mixed'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface SimulateOptions {
  secrets: string;
  scenario: string;
  rate: string;
  duration?: string;
  mqttUrl?: string;
  devices?: string;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('play realistic device traffic against a running gateway, as the site’s real (provisioned) devices')
    .requiredOption('--secrets <file>', 'JSON { "<device id>": "<secret>" } written by `devices provision --save-secrets`')
    .option('--scenario <name>', `one of ${SCENARIOS.join(', ')}`, 'normal-day')
    .option('--rate <eventsPerMinute>', 'background events per minute (normal-day and mixed)', '30')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--mqtt-url <url>', 'gateway broker (default: mqtt://<broker.host>:<broker.port> of the site file)')
    .option('--devices <ids>', 'comma-separated device ids to play (default: every device with a secret in --secrets)')
    .action(async (options: SimulateOptions) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      if (!(SCENARIOS as readonly string[]).includes(options.scenario)) throw new CliError(`--scenario must be one of ${SCENARIOS.join(', ')}`, 2);
      const rate = Number(options.rate);
      if (!(rate >= 1 && rate <= 60_000)) throw new CliError('--rate must be 1–60000 events per minute', 2);
      const duration = options.duration === undefined ? null : Number(options.duration);
      if (duration !== null && !(duration > 0)) throw new CliError('--duration must be a positive number of seconds', 2);
      let loaded;
      try {
        loaded = loadConfigFile(file);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        throw new CliError(`${file} is not valid; fix it first:\n${error.issues.map(formatIssue).join('\n')}`);
      }
      const { config } = loaded;
      const secrets = readSecretsFile(options.secrets);
      const wanted = options.devices ? new Set(options.devices.split(',').map((s) => s.trim()).filter(Boolean)) : null;
      for (const id of wanted ?? []) if (!config.devices.some((d) => d.id === id)) throw new CliError(`--devices: no device "${id}" in ${file}`);
      const devices = config.devices.filter((d) => d.transport === 'mqtt' && !d.simulated && secrets.has(d.id) && (!wanted || wanted.has(d.id)));
      if (devices.length === 0)
        throw new CliError(
          `no device to play: ${options.secrets} holds no secret for a provisioned MQTT device of ${file} (devices marked simulated: true are played by the gateway's own simulator)`,
        );
      const host = config.broker.host === '0.0.0.0' || config.broker.host === '::' ? '127.0.0.1' : config.broker.host;
      const brokerUrl = options.mqttUrl ?? `mqtt://${host}:${config.broker.port}`;
      const simulator = new DeviceSimulator({
        config,
        brokerUrl,
        secrets,
        devices,
        scenario: options.scenario as Scenario,
        eventsPerMinute: rate,
        log: createLogger({ level: process.env.GRIDGUARD_LOG_LEVEL ?? 'warn', pretty: false }),
      });
      try {
        await simulator.start();
      } catch (error) {
        await simulator.stop();
        throw new CliError(`cannot connect the devices to ${brokerUrl}: ${(error as Error).message} (is the gateway running? are the secrets current?)`);
      }
      console.log(`simulating ${devices.length} device(s) [${devices.map((d) => d.id).join(', ')}] on ${brokerUrl}: scenario ${options.scenario}, ${rate} events/min${duration ? `, for ${duration}s` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = duration ? setTimeout(resolve, duration * 1000) : null;
        const stop = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await simulator.stop();
      console.log('simulation stopped');
    });
}

import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.ts';
import { registerCheck } from './check.ts';
import { CliError } from './common.ts';
import { registerDevices } from './devices.ts';
import { registerDoctor } from './doctor.ts';
import { registerInit } from './init.ts';
import { registerRun } from './run.ts';
import { registerSimulate } from './simulate.ts';
import { registerStatus } from './status.ts';
import { registerSupportBundle } from './support-bundle.ts';

export function buildProgram(): Command {
  const program = new Command('gridguard')
    .description('gridguard edge gateway: commissioning and service tools (docs/cli.md)')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'site file (default: GRIDGUARD_CONFIG, else config/example-site.yaml)')
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerCheck(program);
  registerDoctor(program);
  registerDevices(program);
  registerSimulate(program);
  registerStatus(program);
  registerSupportBundle(program);
  registerRun(program);
  for (const command of program.commands) command.exitOverride();
  for (const command of program.commands.flatMap((c) => c.commands)) command.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the exit code. Usage errors exit 2, command failures 1 (or their own). */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      console.error(`gridguard: ${error.message}`);
      return error.exitCode;
    }
    console.error('gridguard: unexpected error:', error instanceof Error ? (error.stack ?? error.message) : error);
    return 1;
  }
}

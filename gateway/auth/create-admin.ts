/**
 * `npm run admin:create -- --username <name> [--display-name <name>] [--role admin|guard|installer]
 *  [--reset] [--config site.yaml]`: creates a console user (the first admin) in the gateway's
 * database. The password is asked twice without echo on a terminal, or read from the first line
 * of stdin when piped. No user or password ships with gridguard.
 */
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfigFile } from '../../config/load.ts';
import { systemClock } from '../core/clock.ts';
import { silentLogger } from '../core/logger.ts';
import { Metrics } from '../core/metrics.ts';
import { Store } from '../store/store.ts';
import { AuthError, AuthService } from './auth-service.ts';
import { isRole } from './roles.ts';

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  process.stdout.write(prompt);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  return new Promise((done) => {
    let value = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdin.off('data', onData);
          process.stdout.write('\n');
          return done(value);
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    process.stdin.on('data', onData);
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      username: { type: 'string', short: 'u' },
      'display-name': { type: 'string' },
      role: { type: 'string', default: 'admin' },
      reset: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.username) {
    console.log('usage: npm run admin:create -- --username <name> [--display-name <name>] [--role admin|guard|installer] [--reset] [--config site.yaml]');
    return values.help ? 0 : 2;
  }
  if (!isRole(values.role)) {
    console.error(`--role: must be one of admin, guard, installer (got "${values.role}")`);
    return 2;
  }
  const file = values.config ?? process.env.GRIDGUARD_CONFIG ?? DEFAULT_CONFIG_FILE;
  let loaded;
  try {
    loaded = loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const password = await readPassword('password: ');
  if (process.stdin.isTTY && (await readPassword('again:    ')) !== password) {
    console.error('the two passwords differ');
    return 1;
  }
  const dbFile = Store.fileIn(resolve(loaded.config.storage.dataDir));
  const store = Store.open(dbFile);
  const auth = new AuthService({ store, config: loaded.config.console, clock: systemClock, metrics: new Metrics(), log: silentLogger(), apiTokenFile: null });
  try {
    const existing = auth.users.findByUsername(values.username);
    if (existing && !values.reset) {
      console.error(`user ${values.username} exists already in ${dbFile}; add --reset to set a new password`);
      return 1;
    }
    if (existing) {
      await auth.updateUser(existing.id, { password, disabled: false, role: values.role });
      console.log(`user ${existing.username} (${values.role}): new password set, sessions ended`);
    } else {
      const user = await auth.createUser({ username: values.username, displayName: values['display-name'] ?? values.username, role: values.role, password });
      console.log(`user ${user.username} (${user.role}) created in ${dbFile}`);
    }
    return 0;
  } catch (error) {
    if (error instanceof AuthError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  } finally {
    store.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('admin:create failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

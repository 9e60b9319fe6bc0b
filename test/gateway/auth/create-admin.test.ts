import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { UsersRepo } from '../../../gateway/auth/users.ts';
import { verifySecret } from '../../../gateway/core/secrets.ts';
import { Store } from '../../../gateway/store/store.ts';
import { testSite } from '../../helpers/gateway.ts';

function run(args: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(join(process.cwd(), 'node_modules/.bin/tsx'), ['gateway/auth/create-admin.ts', ...args], { cwd: process.cwd() }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

describe('npm run admin:create (a real process)', () => {
  it('creates the first admin with a scrypt hash, refuses a second run, resets with --reset', async () => {
    const site = await testSite();
    const dir = mkdtempSync(join(tmpdir(), 'gg-admin-'));
    const file = join(dir, 'site.yaml');
    writeFileSync(file, stringify(site));
    const dataDir = (site.storage as { dataDir: string }).dataDir;

    const first = await run(['--config', file, '--username', 'chief', '--display-name', '保安队长'], 'first admin password\n');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/user chief \(admin\) created/);

    const again = await run(['--config', file, '--username', 'chief'], 'another password 2\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already.*--reset/);

    const short = await run(['--config', file, '--username', 'deputy'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/at least 10 characters/);

    const reset = await run(['--config', file, '--username', 'chief', '--reset'], 'another password 2\n');
    expect(reset.code).toBe(0);

    const store = Store.open(Store.fileIn(dataDir));
    try {
      const chief = new UsersRepo(store.db).findByUsername('chief')!;
      expect(chief).toMatchObject({ role: 'admin', displayName: '保安队长', disabled: false });
      expect(await verifySecret('another password 2', chief.passwordHash)).toBe(true);
      expect(await verifySecret('first admin password', chief.passwordHash)).toBe(false);
      expect(new UsersRepo(store.db).count()).toBe(1);
    } finally {
      store.close();
    }
  }, 120_000);

  it('names a bad role and a bad site file', async () => {
    const bad = await run(['--username', 'x', '--role', 'boss'], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role: must be one of admin, guard, installer/);
    const dir = mkdtempSync(join(tmpdir(), 'gg-admin-'));
    writeFileSync(join(dir, 'bad.yaml'), 'site: {}\n');
    const noSite = await run(['--config', join(dir, 'bad.yaml'), '--username', 'x'], '');
    expect(noSite.code).toBe(2);
    expect(noSite.stderr).toMatch(/bad.yaml:\d+ site/);
  }, 60_000);
});

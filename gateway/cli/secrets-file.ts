import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { CliError, writeFileAtomic } from './common.ts';

/**
 * Device secrets kept by the installer for `gridguard simulate` (and for flashing devices later):
 * `{ "<device id>": "<secret>" }`, mode 0600. The gateway never reads this file: it knows only
 * the hashes in the site file. Keep it off the gateway once the devices are set up.
 */
export function readSecretsFile(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`${file}: cannot read the secrets file: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${file}: must be a JSON object { "<device id>": "<secret>" }`);
  const secrets = new Map<string, string>();
  for (const [id, secret] of Object.entries(parsed)) {
    if (typeof secret !== 'string' || !secret) throw new CliError(`${file}: the secret of "${id}" must be a non-empty string`);
    secrets.set(id, secret);
  }
  return secrets;
}

export function saveSecret(file: string, deviceId: string, secret: string): void {
  const secrets = existsSync(file) ? readSecretsFile(file) : new Map<string, string>();
  secrets.set(deviceId, secret);
  writeFileAtomic(file, JSON.stringify(Object.fromEntries(secrets), null, 2) + '\n', 0o600);
  chmodSync(file, 0o600);
}

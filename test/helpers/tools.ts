import { execFileSync } from 'node:child_process';

/**
 * Tests that need a system tool (mosquitto, socat, chromium, openssl) ask for it here. Without
 * it they are skipped with a message naming the Debian package to install, except under CI=true,
 * where a missing tool fails the run: such tests never pass silently.
 */
export function requireTool(command: string, debianPackage: string): boolean {
  const found = hasCommand(command);
  if (found) return true;
  const message = `${command} not found: install the Debian package "${debianPackage}" (apt-get install ${debianPackage}) to run these tests`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`SKIPPED: ${message}`);
  return false;
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

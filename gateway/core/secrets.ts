import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Secrets are stored only as scrypt hashes: `scrypt$N$r$p$salt$hash` (base64url).
 * Human passwords use a high cost; device secrets are 32 random bytes, so a lower cost is
 * enough and keeps a thousand devices reconnecting at once from stalling the gateway.
 */
export const PASSWORD_COST = { N: 1 << 15, r: 8, p: 1 } as const;
export const DEVICE_SECRET_COST = { N: 1 << 12, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scryptAsync(secret: string | Buffer, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string | Buffer, cost: { N: number; r: number; p: number } = PASSWORD_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifySecret(secret: string | Buffer, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (!N || !r || !p || N > 1 << 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (expected.length !== KEY_LENGTH) return false;
  const key = await scryptAsync(secret, Buffer.from(parts[4]!, 'base64url'), { N, r, p });
  return timingSafeEqual(key, expected);
}

/** A fresh device secret: 32 random bytes, base64url. Shown once, stored only hashed. */
export function newDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

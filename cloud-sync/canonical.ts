import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The bytes a downlink command's signature covers: the command without its `sig` member,
 * serialised as JSON with object keys sorted by UTF-16 code units at every depth, no whitespace,
 * strings and numbers as ECMAScript JSON.stringify writes them, encoded as UTF-8. This is the JSON
 * Canonicalization Scheme (RFC 8785) for the JSON values a command can hold, so a platform in any
 * language can produce the same bytes with a JCS library.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite numbers have no JSON form');
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
      throw new Error(`${typeof value} has no JSON form`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function commandSigningBytes(command: Record<string, unknown>): Buffer {
  const { sig: _sig, ...unsigned } = command;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

/** Signs a command for the platform side (tools, tests): returns the command with `sig` set (base64). */
export function signCommand<T extends Record<string, unknown>>(command: T, privateKey: KeyObject | string): T & { sig: string } {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const sig = sign(null, commandSigningBytes(command), key).toString('base64');
  return { ...command, sig };
}

export function verifyCommandSignature(command: Record<string, unknown>, publicKey: KeyObject): boolean {
  const sig = command.sig;
  if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(sig)) return false;
  try {
    return verify(null, commandSigningBytes(command), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** Reads an Ed25519 public key from PEM (SPKI) text; refuses any other key type. */
export function loadEd25519PublicKey(pem: string | Buffer, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error(`${where}: not a PEM public key (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${where}: must be an Ed25519 public key, not ${key.asymmetricKeyType}`);
  return key;
}

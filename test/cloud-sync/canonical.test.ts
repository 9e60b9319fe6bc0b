import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, loadEd25519PublicKey, signCommand, verifyCommandSignature } from '../../cloud-sync/canonical.ts';

const platform = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const command = { id: 'c-1', gatewayId: 'gw-1', type: 'ping', issuedAt: '2026-11-01T00:00:00Z', payload: { b: [1, 'x', { z: null, a: true }], a: '闽A' } };

describe('canonical command bytes', () => {
  it('sorts keys at every depth, drops nothing else and adds no whitespace', () => {
    expect(canonicalJson(command)).toBe(
      '{"gatewayId":"gw-1","id":"c-1","issuedAt":"2026-11-01T00:00:00Z","payload":{"a":"闽A","b":[1,"x",{"a":true,"z":null}]},"type":"ping"}',
    );
  });

  it('is the same for any key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const shuffled = JSON.parse(JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value));
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('verifies a signature made with the platform key and refuses tampering or another key', () => {
    const publicKey = loadEd25519PublicKey(platform.publicKey.export({ type: 'spki', format: 'pem' }), 'test');
    const signed = signCommand(command, platform.privateKey);
    expect(verifyCommandSignature(signed, publicKey)).toBe(true);
    // Key order of the received JSON does not matter.
    expect(verifyCommandSignature(JSON.parse(JSON.stringify({ sig: signed.sig, ...command, payload: { a: '闽A', b: command.payload.b } })), publicKey)).toBe(true);
    expect(verifyCommandSignature({ ...signed, payload: { ...command.payload, a: '闽B' } }, publicKey)).toBe(false);
    expect(verifyCommandSignature({ ...signed, gatewayId: 'gw-2' }, publicKey)).toBe(false);
    expect(verifyCommandSignature(signCommand(command, other.privateKey), publicKey)).toBe(false);
    expect(verifyCommandSignature({ ...command, sig: 'not base64' }, publicKey)).toBe(false);
    expect(verifyCommandSignature({ ...command }, publicKey)).toBe(false);
  });

  it('accepts only Ed25519 public keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => loadEd25519PublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }), 'site.yaml platform.commandPublicKey')).toThrow(
      /site.yaml platform.commandPublicKey: must be an Ed25519 public key, not rsa/,
    );
    expect(() => loadEd25519PublicKey('garbage', 'key.pem')).toThrow(/key.pem: not a PEM public key/);
  });
});

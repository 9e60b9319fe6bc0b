import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  ca: string;
  caKey: string;
  /** Issues a certificate signed by this CA; server certs get DNS:localhost and IP:127.0.0.1 SANs. */
  issue(name: string, options?: { server?: boolean; cn?: string }): { cert: string; key: string };
}

/**
 * A throw-away PKI made with openssl at test time (shared/reference/test-tooling.md §5.1).
 * The IP SAN matters: Node refuses 127.0.0.1 without it.
 */
export function makePki(caName = 'test-ca'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gg-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = join(dir, `${caName}.crt`);
  const caKey = join(dir, `${caName}.key`);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', `/CN=${caName}`);
  return {
    dir,
    ca,
    caKey,
    issue(name, options = {}) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.crt`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, options.server ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${options.cn ?? name}`);
      ssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', cert, '-extfile', ext);
      return { cert, key };
    },
  };
}

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { signCommand } from '../../cloud-sync/canonical.ts';

export const ROOT = 'grid/v1/CG350102001/gw-test-1';

export interface Received {
  /** Arrival order across all topics. */
  index: number;
  topic: string;
  body: any;
}

/**
 * The grid platform's side for tests: a real MQTT client on the platform broker that records
 * every envelope, status and command result, and publishes signed commands.
 */
export class PlatformPeer {
  readonly messages: Received[] = [];
  client!: MqttClient;

  constructor(
    private readonly url: string,
    private readonly options: IClientOptions = {},
  ) {}

  async connect(): Promise<this> {
    // Listen before connecting: a resumed persistent session delivers its queued messages right
    // after CONNACK, possibly in the same read as the CONNACK itself.
    const client = mqtt.connect(this.url, { clientId: `platform-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, protocolVersion: 5, reconnectPeriod: 0, ...this.options });
    this.client = client;
    client.on('message', (topic, payload) => {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString());
      } catch {
        body = { unparsable: payload.toString() };
      }
      this.messages.push({ index: this.messages.length, topic, body });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await this.client.subscribeAsync(`${ROOT}/#`, { qos: 1 });
    return this;
  }

  /** Every item id received on a topic kind, in arrival order (duplicates kept). */
  itemIds(kind: 'alerts' | 'alert-updates' | 'events'): string[] {
    return this.messages.filter((m) => m.topic === `${ROOT}/${kind}`).flatMap((m) => m.body.items.map((i: { id: string }) => i.id));
  }

  results(): any[] {
    return this.messages.filter((m) => m.topic === `${ROOT}/cmd/result`).map((m) => m.body);
  }

  result(id: string | null): any {
    return this.results().find((r) => r.id === id);
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true).catch(() => {});
  }
}

export interface PlatformKeys {
  privateKey: KeyObject;
  publicKeyFile: string;
}

export function platformKeys(): PlatformKeys {
  const pair = generateKeyPairSync('ed25519');
  const dir = mkdtempSync(join(tmpdir(), 'gg-cmdkey-'));
  const publicKeyFile = join(dir, 'platform-ed25519.pub.pem');
  writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey: pair.privateKey, publicKeyFile };
}

export function command(keys: PlatformKeys, id: string, type: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return signCommand({ v: 1, id, gatewayId: 'gw-test-1', type, issuedAt: new Date().toISOString(), payload, ...extra }, keys.privateKey);
}

/** A throw-away PKI made with openssl (shared/reference/test-tooling.md §5.1); keeps the IP SAN. */
export function makePki(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `gg-pki-${name}-`));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', `/CN=${name}-ca`);
  const issue = (file: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${file}.ext`), ext + '\n');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', `${file}.csr`, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', `${file}.crt`, '-extfile', `${file}.ext`);
    return { cert: join(dir, `${file}.crt`), key: join(dir, `${file}.key`) };
  };
  return {
    dir,
    ca,
    server: () => issue('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'),
    client: (cn: string) => issue(`client-${cn}`, cn, 'extendedKeyUsage=clientAuth'),
  };
}

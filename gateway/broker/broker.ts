import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import type { GatewayConfig } from '../../config/schema/index.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Service } from '../core/service.ts';
import { mayPublish, maySubscribe, type Principal } from './access.ts';
import { MalformedLengthError, MqttFrameGuard, PacketTooLargeError } from './frame-guard.ts';

type BrokerConfig = GatewayConfig['broker'];

/** Checks a login; returns who it is, or why it was refused. */
export type Authenticator = (username: string, password: Buffer, clientId: string) => Promise<Principal | { refused: 'unknown-user' | 'wrong-secret' }>;

/** Receives every device publish; the device's PUBACK waits for the returned promise. */
export type DevicePublishHandler = (deviceId: string, topic: string, payload: Buffer) => Promise<void>;

export interface BrokerEvents {
  onDeviceConnected?(deviceId: string): void;
  onDeviceDisconnected?(deviceId: string): void;
}

const principals = new WeakMap<Client, Principal>();

/**
 * The embedded MQTT 3.1.1 broker (aedes) that devices and the guard room connect to:
 * authenticated, per-device ACL, packet size guard, and device publishes handed to the
 * pipeline before they are acknowledged.
 */
export class EmbeddedBroker implements Service {
  readonly name = 'broker';
  private aedes: Aedes | null = null;
  private servers: Server[] = [];
  private sockets = new Set<Socket>();
  port = 0;
  tlsPort = 0;

  constructor(
    private readonly deps: {
      config: BrokerConfig;
      authenticate: Authenticator;
      onDevicePublish: DevicePublishHandler;
      events?: BrokerEvents;
      metrics: Metrics;
      log: Logger;
      resolvePath: (p: string) => string;
    },
  ) {}

  async start(): Promise<void> {
    const { config, log, metrics } = this.deps;
    const reject = (reason: string) => metrics.rejected.inc({ source: 'mqtt', reason });
    const aedes = await Aedes.createBroker({
      id: 'gridguard',
      maxTopicLevels: config.maxTopicLevels,
      drainTimeout: config.drainTimeoutMs,
      connectTimeout: 10_000,
      authenticate: (client, username, password, done) => {
        const remote = remoteOf(client);
        if (!username || !password) {
          reject('anonymous');
          log.warn({ clientId: client.id, remote }, 'mqtt: anonymous connection refused');
          return done(Object.assign(new Error('anonymous access is not allowed'), { returnCode: 5 as const }), false);
        }
        this.deps
          .authenticate(username, password, client.id)
          .then((principal) => {
            if ('refused' in principal) {
              reject(principal.refused);
              log.warn({ clientId: client.id, username, remote, reason: principal.refused }, `mqtt: login refused for "${username}": ${principal.refused === 'unknown-user' ? 'unknown device or user' : 'wrong secret'}`);
              return done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), false);
            }
            if (principal.role === 'device' && client.id !== principal.id) {
              reject('client-id-mismatch');
              log.warn({ clientId: client.id, username, remote }, 'mqtt: device must use its id as client id');
              return done(Object.assign(new Error('client id must equal the device id'), { returnCode: 2 as const }), false);
            }
            principals.set(client, principal);
            done(null, true);
          })
          .catch((error: unknown) => {
            log.error({ err: error, clientId: client.id }, 'mqtt: authentication failed');
            done(Object.assign(new Error('server unavailable'), { returnCode: 3 as const }), false);
          });
      },
      authorizePublish: (client, packet, done) => {
        if (!client) return done(packet.topic.startsWith('$') ? new Error('$ topics are reserved') : null);
        const who = principals.get(client);
        if (!who || !mayPublish(who, packet.topic)) {
          reject('acl-publish');
          log.warn({ clientId: client.id, topic: packet.topic }, 'mqtt: publish refused by ACL');
          return done(new Error(`not allowed to publish to ${packet.topic}`));
        }
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = principals.get(client);
        if (!who || !maySubscribe(who, sub.topic)) {
          reject('acl-subscribe');
          log.warn({ clientId: client.id, topic: sub.topic }, 'mqtt: subscribe refused by ACL');
          return done(null, null);
        }
        done(null, sub);
      },
      published: (packet: AedesPublishPacket, client: Client | null, done) => {
        const who = client ? principals.get(client) : undefined;
        if (!who || who.role !== 'device' || !packet.topic.startsWith('devices/')) return done();
        this.deps.onDevicePublish(who.id, packet.topic, packet.payload as Buffer).then(
          () => done(),
          (error: unknown) => {
            // A store failure: do not acknowledge, the device will resend.
            log.error({ err: error, deviceId: who.id }, 'mqtt: could not accept publish');
            done(error as Error);
          },
        );
      },
    });
    aedes.on('clientReady', (client) => {
      const who = principals.get(client);
      if (who?.role === 'device') this.deps.events?.onDeviceConnected?.(who.id);
    });
    aedes.on('clientDisconnect', (client) => {
      const who = principals.get(client);
      // A reconnect with the same id takes the session over: the old connection's end is not an outage.
      const current = (aedes as unknown as { clients: Record<string, Client> }).clients[client.id];
      if (who?.role === 'device' && (!current || current === client)) this.deps.events?.onDeviceDisconnected?.(who.id);
    });
    aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error.message }, 'mqtt: client error'));
    aedes.on('connectionError', (client, error) => {
      reject('protocol-error');
      log.warn({ clientId: client?.id, err: error.message, remote: remoteOf(client) }, 'mqtt: connection error');
    });
    this.aedes = aedes;

    const handle = (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      const guard = new MqttFrameGuard(config.maxPacketBytes);
      socket.pipe(guard);
      guard.on('error', (error) => {
        if (error instanceof PacketTooLargeError || error instanceof MalformedLengthError) {
          reject(error instanceof PacketTooLargeError ? 'oversized-packet' : 'malformed-packet');
          log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, err: error.message }, 'mqtt: connection closed');
        }
        socket.destroy();
      });
      socket.on('error', () => socket.destroy());
      const conn = Duplex.from({ readable: guard, writable: socket });
      conn.on('error', () => socket.destroy());
      conn.on('close', () => socket.destroy());
      socket.on('close', () => conn.destroy());
      aedes.handle(conn as unknown as Socket);
    };

    const server = createNetServer(handle);
    this.port = await listen(server, config.port, config.host);
    this.servers.push(server);
    if (config.tls?.cert && config.tls.key) {
      const tlsServer = createTlsServer(
        { cert: readFileSync(this.deps.resolvePath(config.tls.cert)), key: readFileSync(this.deps.resolvePath(config.tls.key)) },
        (socket) => handle(socket as unknown as Socket),
      );
      this.tlsPort = await listen(tlsServer, config.tls.port, config.host);
      this.servers.push(tlsServer);
    }
    log.info({ port: this.port, tlsPort: this.tlsPort || undefined }, `mqtt broker listening on ${config.host}:${this.port}`);
  }

  /** Publishes from the gateway itself (local alerts, device commands). */
  publish(topic: string, payload: string | Buffer, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker not started'));
    return new Promise((resolve, reject) =>
      aedes.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: options.qos ?? 1, retain: options.retain ?? false, dup: false },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }

  connectedClientIds(): string[] {
    const clients = (this.aedes as unknown as { clients?: Record<string, unknown> } | null)?.clients ?? {};
    return Object.keys(clients);
  }

  async stop(): Promise<void> {
    for (const server of this.servers) server.close();
    for (const socket of this.sockets) socket.destroy();
    this.servers = [];
    const aedes = this.aedes;
    this.aedes = null;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function remoteOf(client: Client | null | undefined): string | undefined {
  const conn = (client as unknown as { conn?: { remoteAddress?: string } } | null)?.conn;
  return conn?.remoteAddress;
}

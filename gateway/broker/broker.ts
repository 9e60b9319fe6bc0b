import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import type { GatewayConfig } from '../../config/schema/index.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Service } from '../core/service.ts';
import { isWellFormedTopic, mayForward, mayPublish, maySubscribe, type Principal } from './access.ts';
import { MalformedLengthError, MqttFrameGuard, PacketTooLargeError } from './frame-guard.ts';
import { PublishRateLimiter } from './rate-limit.ts';

type BrokerConfig = GatewayConfig['broker'];

/** Checks a login; returns who it is, or why it was refused. */
export type Authenticator = (username: string, password: Buffer, clientId: string) => Promise<Principal | { refused: 'unknown-user' | 'wrong-secret' }>;

/** Receives every device publish; the device's PUBACK (PUBREC for QoS 2) waits for the returned promise. */
export type DevicePublishHandler = (deviceId: string, topic: string, payload: Buffer) => Promise<void>;

export interface BrokerEvents {
  onDeviceConnected?(deviceId: string): void;
  onDeviceDisconnected?(deviceId: string): void;
}

const principals = new WeakMap<Client, Principal>();
/** CONNECTs with an empty client id and clean session off, seen in preConnect, refused in authenticate. */
const emptyIdPersistent = new WeakSet<Client>();
/** Device publishes already handed to the pipeline before their PUBACK. */
const handedOff = new WeakSet<object>();

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
      clock?: Clock;
    },
  ) {}

  async start(): Promise<void> {
    const { config, log, metrics } = this.deps;
    const clock = this.deps.clock ?? systemClock;
    const reject = (reason: string) => metrics.rejected.inc({ source: 'mqtt', reason });
    const allowAnonymous = config.testBench.allowAnonymous;
    if (allowAnonymous) {
      // The schema refuses this outside a site marked environment: test-bench; say so loudly anyway.
      log.error(
        { testBench: true },
        '!!! TEST BENCH: ANONYMOUS MQTT ACCESS IS ON. Any client may connect without credentials (sandboxed away from devices/ and local/). NEVER RUN THIS CONFIG ON A REAL SITE !!!',
      );
    }
    const limiter = new PublishRateLimiter(config.rateLimit, clock);
    const throttling = new Set<string>();
    /** Resolves when this client's publish may proceed; slows, never drops, a client over its rate. */
    const admit = (client: Client): Promise<void> | null => {
      const waitMs = limiter.reserve(client.id);
      if (waitMs === 0) {
        if (throttling.delete(client.id)) {
          log.info({ clientId: client.id, throttled: limiter.takeThrottledCount(client.id) }, `mqtt: client "${client.id}" is back within its publish rate`);
        }
        return null;
      }
      reject('rate-limited');
      if (!throttling.has(client.id)) {
        throttling.add(client.id);
        log.warn(
          { clientId: client.id, remote: remoteOf(client), rate: config.rateLimit.publishesPerSecond, burst: config.rateLimit.burst },
          `mqtt: client "${client.id}" exceeds ${config.rateLimit.publishesPerSecond} publishes/s: slowing it down (its packets wait, none are dropped)`,
        );
      }
      return new Promise((resolve) => clock.setTimeout(resolve, waitMs));
    };
    const aedes = await Aedes.createBroker({
      id: 'gridguard',
      maxTopicLevels: config.maxTopicLevels,
      drainTimeout: config.drainTimeoutMs,
      connectTimeout: 10_000,
      preConnect: (client, packet, done) => {
        // [MQTT-3.1.3-8] needs a CONNACK 0x02, which only authenticate can send: mark the client here.
        if (packet.clientId === '' && !packet.clean) emptyIdPersistent.add(client);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const remote = remoteOf(client);
        if (emptyIdPersistent.has(client)) {
          reject('empty-client-id');
          log.warn({ remote }, 'mqtt: connection refused: empty client id with clean session off (a session needs a name)');
          return done(Object.assign(new Error('an empty client id needs clean session'), { returnCode: 2 as const }), false);
        }
        if (!username && !password && allowAnonymous) {
          principals.set(client, { role: 'bench', id: client.id });
          log.warn({ clientId: client.id, remote }, 'mqtt: TEST BENCH anonymous client connected');
          return done(null, true);
        }
        if (!username || !password) {
          reject('anonymous');
          log.warn({ clientId: loggableId(client), remote }, 'mqtt: anonymous connection refused');
          return done(Object.assign(new Error('anonymous access is not allowed'), { returnCode: 5 as const }), false);
        }
        this.deps
          .authenticate(username, password, client.id)
          .then((principal) => {
            if ('refused' in principal) {
              reject(principal.refused);
              // An unknown username may be a secret typed into the wrong field: log only a fingerprint of it.
              const shown = principal.refused === 'unknown-user' ? fingerprint(username) : username;
              log.warn(
                { clientId: loggableId(client), username: shown, remote, reason: principal.refused },
                `mqtt: login refused for "${shown}": ${principal.refused === 'unknown-user' ? 'unknown device or user' : 'wrong secret'}`,
              );
              return done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), false);
            }
            if (principal.role === 'device' && client.id !== principal.id) {
              reject('client-id-mismatch');
              log.warn({ clientId: loggableId(client), username, remote }, `mqtt: device "${username}" must use its id as client id`);
              return done(Object.assign(new Error('client id must equal the device id'), { returnCode: 2 as const }), false);
            }
            principals.set(client, principal);
            done(null, true);
          })
          .catch((error: unknown) => {
            log.error({ err: error, clientId: loggableId(client) }, 'mqtt: authentication failed');
            done(Object.assign(new Error('server unavailable'), { returnCode: 3 as const }), false);
          });
      },
      authorizePublish: (client, packet, done) => {
        if (!client) return done(packet.topic.startsWith('$') ? new Error('$ topics are reserved') : null);
        if (!isWellFormedTopic(packet.topic)) {
          reject('bad-utf8-topic');
          log.warn({ clientId: loggableId(client) }, 'mqtt: PUBLISH topic is not well-formed UTF-8 or holds U+0000, closing the connection [MQTT-1.5.3-1]');
          return done(new Error('ill-formed topic'));
        }
        const who = principals.get(client);
        if (!who || !mayPublish(who, packet.topic)) {
          reject('acl-publish');
          log.warn({ clientId: client.id, topic: packet.topic }, 'mqtt: publish refused by ACL, closing the connection [MQTT-3.3.5-2]');
          return done(new Error(`not allowed to publish to ${packet.topic}`));
        }
        const proceed = () => {
          // aedes sends a QoS 1 PUBACK before the published hook runs, so the pipeline must have the
          // event before we let the packet on: a PUBACK then means "stored". QoS 2 is handed off in
          // published, after aedes has discarded retransmitted duplicates and before the PUBREC.
          if (who.role !== 'device' || packet.qos === 2) return done(null);
          handedOff.add(packet);
          this.deps.onDevicePublish(who.id, packet.topic, packet.payload as Buffer).then(
            () => done(null),
            (error: unknown) => {
              // A store failure: no PUBACK; the connection closes and the device resends.
              log.error({ err: error, deviceId: who.id }, 'mqtt: could not accept publish');
              done(error as Error);
            },
          );
        };
        const wait = admit(client);
        if (!wait) return proceed();
        wait.then(() => {
          // A throttled packet whose client has gone since: drop it unacknowledged, the device still
          // owns it and resends. Not the will, which aedes publishes precisely because the client went.
          if (client.closed && packet !== (client as unknown as { will?: unknown }).will) return done(new Error('client disconnected while throttled'));
          proceed();
        });
      },
      authorizeForward: (client, packet) => {
        if (!mayForward(principals.get(client), packet.topic)) return null;
        // aedes resends a resumed session's queue with DUP 0; [MQTT-3.3.1-1] wants DUP 1 on a re-delivery,
        // and DUP 1 only means "might be a re-delivery", so mark everything sent while the session resumes.
        const resuming = (client as unknown as { connecting?: boolean }).connecting === true && !client.connected;
        if (resuming && packet.qos > 0) packet.dup = true;
        return packet;
      },
      authorizeSubscribe: (client, sub, done) => {
        if (!isWellFormedTopic(sub.topic)) {
          reject('bad-utf8-topic');
          log.warn({ clientId: loggableId(client) }, 'mqtt: SUBSCRIBE filter is not well-formed UTF-8 or holds U+0000, closing the connection [MQTT-1.5.3-1]');
          return done(new Error('ill-formed topic filter'), null);
        }
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
        if (!who || who.role !== 'device' || !packet.topic.startsWith('devices/') || handedOff.has(packet)) return done();
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
      limiter.release(client.id);
      if (throttling.delete(client.id)) log.info({ clientId: client.id, throttled: limiter.takeThrottledCount(client.id) }, `mqtt: throttled client "${client.id}" disconnected`);
      const who = principals.get(client);
      // A reconnect with the same id takes the session over: the old connection's end is not an outage.
      const current = (aedes as unknown as { clients: Record<string, Client> }).clients[client.id];
      if (who?.role === 'device' && (!current || current === client)) this.deps.events?.onDeviceDisconnected?.(who.id);
    });
    aedes.on('clientError', (client, error) => log.debug({ clientId: loggableId(client), err: error.message }, 'mqtt: client error'));
    aedes.on('connectionError', (client, error) => {
      reject('protocol-error');
      log.warn({ clientId: client ? loggableId(client) : undefined, err: error.message, remote: remoteOf(client) }, 'mqtt: connection error');
    });
    this.aedes = aedes;

    const handle = (socket: Socket) => {
      // Alerts are small packets that must leave at once: no Nagle delay waiting for an ACK.
      socket.setNoDelay(true);
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

/**
 * A client id as it may be logged: verbatim once the client logged in, a fingerprint before, since
 * a client that failed to log in may have typed its secret into the client id field.
 */
function loggableId(client: Client): string | undefined {
  // Before its CONNECT is read a client has no id at all (null at run time, whatever the types say).
  const id = client.id as string | null | undefined;
  if (typeof id !== 'string') return undefined;
  return principals.has(client) ? id : fingerprint(id);
}

/** Stands in for a name that must not be logged: its length and a short hash, enough to match two log lines. */
export function fingerprint(text: string): string {
  return `unknown(${text.length} chars, sha256:${createHash('sha256').update(text).digest('hex').slice(0, 8)})`;
}

function remoteOf(client: Client | null | undefined): string | undefined {
  const conn = (client as unknown as { conn?: { remoteAddress?: string } } | null)?.conn;
  return conn?.remoteAddress;
}

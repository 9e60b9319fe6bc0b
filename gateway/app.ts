import { createHash, timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import { CloudSync } from '../cloud-sync/cloud-sync.ts';
import { Uplink } from '../cloud-sync/uplink.ts';
import type { DeviceDriver, DriverContext } from '../device-drivers/driver.ts';
import { createCameraIntake } from '../device-drivers/camera/intake.ts';
import { MqttDriver } from '../device-drivers/mqtt/mqtt-driver.ts';
import { SerialDriver } from '../device-drivers/serial/serial-driver.ts';
import { AlertService } from './alerts/alert-service.ts';
import { AlertEscalation } from './alerts/escalation.ts';
import type { Principal } from './broker/access.ts';
import { EmbeddedBroker, type Authenticator } from './broker/broker.ts';
import { LocalMqttChannel } from './channels/local-mqtt-channel.ts';
import { EventBus } from './core/bus.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { Metrics } from './core/metrics.ts';
import { newDeviceSecret, verifySecret } from './core/secrets.ts';
import type { Service } from './core/service.ts';
import { DeviceMonitor } from './devices/device-monitor.ts';
import { HttpServer } from './http/server.ts';
import { alertRoutes } from './http/routes/alerts.ts';
import { deviceRoutes } from './http/routes/devices.ts';
import { statusRoutes } from './http/routes/status.ts';
import { Identifier } from './identify/identifier.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { RuleEngine } from './rules/engine.ts';
import { longestLookback } from './rules/lookback.ts';
import { identityForAccess } from './rules/watch-scope.ts';
import { DeviceSimulator } from './simulator/simulator.ts';
import { consoleModule } from './console/console-module.ts';
import { SiteModel } from './site/site-model.ts';
import { EventRetention } from './store/event-retention.ts';
import { Store } from './store/store.ts';
import { VERSION } from './version.ts';

export interface GatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** Overrides simulator.enabled from the config. */
  simulator?: boolean;
  /** The event writer thread's module (fault-injection tests substitute one that cuts the power). */
  eventWriterModule?: URL;
}

/** Services a test or a later module may reach once the gateway started. */
export interface GatewayServices {
  store: Store;
  bus: EventBus;
  site: SiteModel;
  identifier: Identifier;
  pipeline: Pipeline;
  alerts: AlertService;
  monitor: DeviceMonitor;
  broker: EmbeddedBroker;
  mqttDriver: MqttDriver;
  rules: RuleEngine;
  http: HttpServer;
  uplink: Uplink | null;
  drivers: DeviceDriver[];
}

/**
 * The composition root: builds every service from the config, wires them through the bus, and
 * starts them in order (stopping in reverse). Nothing else constructs services.
 */
export class Gateway {
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics = new Metrics();
  private started: Service[] = [];
  private startedMs = 0;
  private s: GatewayServices | null = null;

  constructor(
    readonly loaded: LoadedConfig,
    private readonly options: GatewayOptions = {},
  ) {
    this.log = options.logger ?? createLogger({ level: loaded.config.log.level });
    this.clock = options.clock ?? systemClock;
  }

  get services(): GatewayServices {
    if (!this.s) throw new Error('gateway not started');
    return this.s;
  }

  get ports(): { mqtt: number; http: number } {
    return { mqtt: this.s?.broker.port ?? 0, http: this.s?.http.port ?? 0 };
  }

  async start(): Promise<void> {
    const { config } = this.loaded;
    const { log, clock, metrics } = this;
    this.startedMs = clock.now();
    const dataDir = resolve(config.storage.dataDir);
    const store = await Store.openThreaded(Store.fileIn(dataDir), {
      eventWriterModule: this.options.eventWriterModule,
      onBackup: (path, from, to) => log.warn({ path }, `database backed up before migrating from v${from} to v${to}`),
    });
    const bus = new EventBus((event, error) => {
      metrics.errors.inc({ component: `bus:${event}` });
      log.error({ err: error, event }, 'bus listener failed');
    });
    const site = new SiteModel(config);
    const identifier = new Identifier(store.registry);
    this.seedRegistry(store, identifier);
    const pipeline = new Pipeline({ site, identifier, store, bus, clock, metrics, log: log.child({ component: 'pipeline' }), logEvents: config.log.events });
    const alerts = new AlertService({ store, bus, clock, metrics, log: log.child({ component: 'alerts' }) });
    const monitor = new DeviceMonitor({ site, store, bus, clock, metrics, log: log.child({ component: 'devices' }) });

    const simulatorOn = this.options.simulator ?? config.simulator.enabled;
    const simSecrets = new Map<string, string>();
    if (simulatorOn) for (const d of config.devices) if (d.simulated) simSecrets.set(d.id, newDeviceSecret());

    const driverContext = (transport: string): DriverContext => ({
      devices: config.devices.filter((d) => d.transport === transport),
      ingest: (input) => pipeline.ingest(input),
      deviceSeen: (id, info) => monitor.seen(id, info),
      deviceOffline: (id, reason) => monitor.offline(id, reason),
      clock,
      metrics,
      log: log.child({ component: `driver:${transport}` }),
    });

    let mqttDriver: MqttDriver | null = null;
    const broker = new EmbeddedBroker({
      config: config.broker,
      authenticate: this.authenticator(simSecrets),
      onDevicePublish: (deviceId, topic, payload) => mqttDriver!.onPublish(deviceId, topic, payload),
      events: {
        onDeviceConnected: (id) => mqttDriver?.onConnected(id),
        onDeviceDisconnected: (id) => mqttDriver?.onDisconnected(id),
      },
      metrics,
      log: log.child({ component: 'broker' }),
      resolvePath: this.loaded.resolvePath,
    });
    mqttDriver = new MqttDriver(driverContext('mqtt'), broker);
    const drivers: DeviceDriver[] = [mqttDriver];
    if (config.serialBuses.length > 0) {
      drivers.push(new SerialDriver(driverContext('serial'), { buses: config.serialBuses, bus, identify: (refs, deviceId) => identityForAccess(identifier, site, refs, deviceId, clock.now()) }));
    }
    if (config.opcuaServers.length > 0) {
      // node-opcua is large: load it only for sites that have OPC-UA servers.
      const { OpcuaDriver } = await import('../device-drivers/opcua/opcua-driver.ts');
      drivers.push(new OpcuaDriver(driverContext('opcua'), config.opcuaServers, { pkiDir: resolve(dataDir, 'pki'), applicationUri: `urn:gridguard:${config.site.gatewayId}` }));
    }
    // Cameras stay MQTT devices (commands, heartbeats); the intake analyses the snapshots of those with a camera section.
    const cameraIntake = createCameraIntake({ ctx: { ...driverContext('camera'), devices: config.devices.filter((d) => d.kind === 'camera') }, loaded: this.loaded, dataDir, store, mqttDriver });
    drivers.push(cameraIntake.driver);
    identifier.useFaceMatcher(cameraIntake.faceMatcher);

    const rules = new RuleEngine({ rules: config.rules, site, identifier, alerts, bus, clock, metrics, store, log: log.child({ component: 'rules' }) });
    const retention = new EventRetention({
      store,
      days: config.storage.eventRetentionDays,
      floor: () => longestLookback(rules.activeRules()),
      clock,
      metrics,
      log: log.child({ component: 'retention' }),
    });
    const localChannel = new LocalMqttChannel({ bus, broker, metrics, log });
    const escalation = new AlertEscalation({ alerts, store, bus, clock, metrics, log: log.child({ component: 'escalation' }), policyFor: (id) => rules.escalationFor(id) });
    // The uplink is built below; CloudSync reaches it only once services start.
    const cloudSync = new CloudSync({ config, store, bus, clock, metrics, log: log.child({ component: 'cloud-sync' }), identifier, alerts, rules, resolvePath: this.loaded.resolvePath, uplink: () => uplink, media: () => cameraIntake.media, audit: () => consoleParts.audit });
    const consoleParts = consoleModule({ config, dataDir, store, site, clock, metrics, log });
    consoleParts.images.use(cameraIntake.images);
    const uplink =
      config.platform && config.platform.enabled
        ? new Uplink({
            config: config.platform,
            gatewayId: config.site.gatewayId,
            communityGridCode: config.site.communityGridCode,
            version: VERSION,
            store,
            bus,
            clock,
            metrics,
            log: log.child({ component: 'uplink' }),
            resolvePath: this.loaded.resolvePath,
            statusExtra: () => ({ devices: { total: config.devices.length, online: monitor.onlineCount() } }),
          })
        : null;
    const http = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      log,
      routes: [
        statusRoutes({ source: { status: () => this.status() }, metrics }),
        alertRoutes({ store, alerts, bus }),
        deviceRoutes({ site, monitor, drivers: () => drivers, store }),
        ...consoleParts.routes,
        cameraIntake.routes,
      ],
    });

    this.s = { store, bus, site, identifier, pipeline, alerts, monitor, broker, mqttDriver, rules, http, uplink, drivers };
    // Order matters: consumers start before producers, so that nothing produced is missed.
    const services: Service[] = [monitor, rules, retention, localChannel, escalation, cloudSync, ...consoleParts.services, ...(uplink ? [uplink] : []), ...drivers, broker, http];
    try {
      for (const service of services) {
        await service.start();
        this.started.push(service);
      }
      if (simulatorOn) {
        const simulator = new DeviceSimulator({ config, brokerUrl: `mqtt://127.0.0.1:${broker.port}`, secrets: simSecrets, log: log.child({ component: 'simulator' }) });
        await simulator.start();
        this.started.push(simulator);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    store.meta.set('gateway.startedAt', new Date(this.startedMs).toISOString());
  }

  async stop(): Promise<void> {
    this.s?.monitor.suspend();
    for (const service of this.started.reverse()) {
      try {
        await service.stop();
      } catch (error) {
        this.log.error({ err: error, service: service.name }, 'service failed to stop');
      }
    }
    this.started = [];
    if (this.s) {
      try {
        this.s.store.meta.set('gateway.stoppedAt', new Date(this.clock.now()).toISOString());
      } catch {
        /* store may already be closed */
      }
      await this.s.store.close();
    }
    this.s = null;
  }

  async status(): Promise<Record<string, unknown>> {
    const s = this.services;
    const { config } = this.loaded;
    const outbox = s.store.outbox.totals();
    return {
      gatewayId: config.site.gatewayId,
      community: config.site.communityName,
      codes: { communityGridCode: config.site.communityGridCode, policeGridCode: config.site.policeGridCode },
      version: VERSION,
      node: process.version,
      startedAt: new Date(this.startedMs).toISOString(),
      uptimeSeconds: Math.round((this.clock.now() - this.startedMs) / 1000),
      devices: { total: config.devices.length, online: s.monitor.onlineCount(), offline: config.devices.length - s.monitor.onlineCount() },
      links: Object.assign({}, ...s.drivers.map((d) => d.health())),
      outbox: { total: outbox.reduce((n, d) => n + d.count, 0), byKind: outbox },
      platform: s.uplink ? s.uplink.state : { enabled: false },
      rules: { active: s.rules.activeRules().map((r) => r.id), problems: s.rules.problems },
      store: { writes: s.store.writeStats() },
      rejected: await this.metrics.rejectedSummary(),
      ports: this.ports,
    };
  }

  /** Seeds registry and watchlist from the config when the seed changed, not on every start, so platform syncs survive restarts. */
  private seedRegistry(store: Store, identifier: Identifier): void {
    const { config } = this.loaded;
    const seed = JSON.stringify({ registry: config.registry, watchlist: config.watchlist });
    const hash = createHash('sha256').update(seed).digest('hex');
    identifier.load();
    if (store.meta.get('registry.seedHash') === hash) return;
    store.db.transaction(() => {
      identifier.seed(config);
      store.meta.set('registry.seedHash', hash);
    })();
    this.log.info({ residents: config.registry.residents.length, watchlist: config.watchlist.length }, 'registry seeded from the site file');
  }

  private authenticator(simSecrets: Map<string, string>): Authenticator {
    const { config } = this.loaded;
    const devices = new Map(config.devices.filter((d) => d.transport === 'mqtt').map((d) => [d.id, d]));
    const guards = new Map(config.broker.users.map((u) => [u.username, u]));
    return async (username, password): Promise<Principal | { refused: 'unknown-user' | 'wrong-secret' }> => {
      const device = devices.get(username);
      if (device) {
        const sim = simSecrets.get(username);
        if (device.simulated) {
          if (!sim) return { refused: 'wrong-secret' };
          const a = Buffer.from(sim);
          return a.length === password.length && timingSafeEqual(a, password) ? { role: 'device', id: username } : { refused: 'wrong-secret' };
        }
        return device.secretHash && (await verifySecret(password, device.secretHash)) ? { role: 'device', id: username } : { refused: 'wrong-secret' };
      }
      const guard = guards.get(username);
      if (guard) return (await verifySecret(password, guard.passwordHash)) ? { role: 'guard', id: username } : { refused: 'wrong-secret' };
      return { refused: 'unknown-user' };
    };
  }
}

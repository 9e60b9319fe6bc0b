import { z } from 'zod';
import { CATEGORIES } from '../../gateway/core/model.ts';
import { CameraSectionSchema } from './camera.ts';
import { FilePath, Id } from './common.ts';
import { DeviceSchema } from './devices.ts';
import { OpcuaServerSchema } from './opcua.ts';
import { RegistrySchema, WatchEntrySchema } from './registry.ts';
import { RuleSchema } from './rules.ts';
import { SerialBusSchema } from './serial.ts';
import { SiteSchema } from './site.ts';
import { ConsoleSchema } from './console.ts';

const TlsFiles = z
  .object({
    ca: FilePath.optional().describe('CA certificate (PEM) to pin'),
    cert: FilePath.optional().describe('Client or server certificate (PEM)'),
    key: FilePath.optional().describe('Private key (PEM)'),
  })
  .strict();

const BrokerSchema = z
  .object({
    host: z.string().default('0.0.0.0').describe('Address the embedded broker listens on'),
    port: z.number().int().min(0).max(65_535).default(1883),
    maxPacketBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(2 * 1024 * 1024)
      .describe('Largest MQTT packet accepted; larger ones close the connection (camera JPEGs need room)'),
    maxTopicLevels: z.number().int().min(3).max(100).default(8),
    drainTimeoutMs: z.number().int().min(100).default(5_000).describe('A subscriber that cannot take data for this long is disconnected'),
    tls: TlsFiles.extend({ port: z.number().int().min(0).max(65_535).default(8883) }).optional(),
    users: z
      .array(
        z
          .object({
            username: Id,
            passwordHash: z.string().regex(/^scrypt\$/, 'must be a scrypt$… hash'),
            role: z.enum(['guard']).default('guard'),
          })
          .strict(),
      )
      .default([])
      .describe('Guard-room MQTT clients that may subscribe to local/alerts/#'),
    rateLimit: z
      .object({
        publishesPerSecond: z.number().min(1).max(100_000).default(50).describe('Sustained PUBLISH rate each client may send'),
        burst: z.number().int().min(1).max(1_000_000).default(200).describe('PUBLISHes a quiet client may send at once before being slowed'),
      })
      .strict()
      .default({ publishesPerSecond: 50, burst: 200 })
      .describe('Per-client token bucket: a client over its rate is slowed (its packets are read, and acknowledged, only as tokens come back), never dropped; counted as rejected mqtt/rate-limited'),
    testBench: z
      .object({
        allowAnonymous: z
          .boolean()
          .default(false)
          .describe('Let clients without credentials connect (external conformance suites). Refused unless environment is test-bench'),
      })
      .strict()
      .default({ allowAnonymous: false }),
  })
  .strict();

/** A test-bench switch in a site not marked as a test bench is a configuration error, never a warning. */
function refuseTestBenchOutsideBench(cfg: { environment?: string; broker?: { testBench?: { allowAnonymous?: boolean } } }, ctx: z.RefinementCtx): void {
  // Runs even when other parts failed to parse (when: () => true), so every field may be missing.
  if (cfg.broker?.testBench?.allowAnonymous === true && cfg.environment !== 'test-bench')
    ctx.addIssue({
      code: 'custom',
      path: ['broker', 'testBench', 'allowAnonymous'],
      message: `anonymous MQTT access is only allowed on a test bench (environment: test-bench); this site is "${cfg.environment}"`,
    });
}

const HttpSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('Address of the console and API'),
    port: z.number().int().min(0).max(65_535).default(8080),
  })
  .strict();

const PlatformSchema = z
  .object({
    enabled: z.boolean().default(true),
    url: z
      .string()
      .regex(/^(mqtts?|tcp|ssl|tls):\/\//, 'must be an mqtt://, mqtts://, tcp:// or ssl:// URL')
      .describe('Grid platform broker'),
    clientId: Id.optional().describe('Defaults to the gateway id'),
    username: z.string().optional(),
    password: z.string().optional(),
    protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
    tls: TlsFiles.optional(),
    batchMaxItems: z.number().int().min(1).max(10_000).default(200),
    batchMaxBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
    reconnectMinMs: z.number().int().min(10).default(1_000),
    reconnectMaxMs: z.number().int().min(100).default(60_000),
    window: z.number().int().min(1).max(64).default(8).describe('Envelopes in flight (unacknowledged) per lane; alerts have their own lane'),
    drainMaxItemsPerSecond: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Upper bound on events and telemetry sent per second after an outage (0: no bound); alerts are never held back'),
    sessionExpirySeconds: z
      .number()
      .int()
      .min(0)
      .default(7 * 24 * 3600)
      .describe('MQTT 5 session expiry: how long the platform broker keeps commands for an offline gateway'),
    statusIntervalSeconds: z.number().int().min(1).default(60).describe('How often the retained status message is refreshed'),
    heartbeatSeconds: z.number().int().min(0).default(60).describe('Telemetry heartbeat into the outbox (0: none)'),
    commandPublicKey: FilePath.optional().describe('Ed25519 public key (PEM) of the platform; downlink commands are refused without it'),
    commandMaxAgeSeconds: z
      .number()
      .int()
      .min(60)
      .default(7 * 24 * 3600)
      .describe('Commands issued longer ago than this are refused (replay bound; match the session expiry)'),
    outbox: z
      .object({
        quotaBytes: z
          .number()
          .int()
          .min(16 * 1024)
          .default(512 * 1024 * 1024)
          .describe('Bytes of queued items kept while the platform is unreachable; beyond it the lowest class is evicted oldest first'),
        evictAlerts: z.boolean().default(false).describe('Allow evicting alerts and alert updates when nothing else is left (off: they are never evicted)'),
        ttlSeconds: z
          .object({
            alert: z.number().int().min(1).nullable().default(null),
            'alert-update': z.number().int().min(1).nullable().default(null),
            event: z.number().int().min(1).nullable().default(null),
            telemetry: z.number().int().min(1).nullable().default(24 * 3600),
          })
          .strict()
          .default({ alert: null, 'alert-update': null, event: null, telemetry: 24 * 3600 })
          .describe('Time to live per class in seconds; null keeps items until sent'),
      })
      .strict()
      .default({ quotaBytes: 512 * 1024 * 1024, evictAlerts: false, ttlSeconds: { alert: null, 'alert-update': null, event: null, telemetry: 24 * 3600 } }),
    media: z
      .object({
        send: z
          .enum(['never', 'alert-evidence'])
          .default('never')
          .describe('never: no image leaves the gateway; alert-evidence: the images of an alert’s evidence events go on …/media (camera.privacy.evidenceUpstream must allow it too)'),
        categories: z.array(z.enum(CATEGORIES)).min(1).optional().describe('Only alerts of these categories send images (absent: every category)'),
        maxBytes: z.number().int().min(1024).max(8 * 1024 * 1024).default(1024 * 1024).describe('Larger images are not sent (counted and logged)'),
      })
      .strict()
      .default({ send: 'never', maxBytes: 1024 * 1024 })
      .describe('Evidence images to the platform; off by default (privacy by design, docs/uplink-protocol.md)'),
  })
  .strict();

export type PlatformConfig = z.infer<typeof PlatformSchema>;

const StorageSchema = z
  .object({
    dataDir: z.string().default('./data').describe('SQLite database, images and PKI; relative to the working directory'),
    eventRetentionDays: z
      .number()
      .min(1)
      .max(3650)
      .default(30)
      .describe('Stored device events (who passed which door) are deleted after this many days; never sooner than the longest lookback of the active rules (e.g. group rental over 7 days)'),
  })
  .strict();

const SimulatorSchema = z
  .object({
    enabled: z.boolean().default(false),
    eventsPerMinute: z.number().min(1).max(60_000).default(30),
    scenario: z.enum(['normal-day', 'watchlisted-visitor', 'forced-door', 'smoke-alarm', 'mixed']).default('mixed'),
  })
  .strict();

export const GatewayConfigSchema = z
  .object({
    $schema: z.string().optional(),
    environment: z.enum(['production', 'test-bench']).default('production').describe('test-bench unlocks broker.testBench; never set it on a real site'),
    site: SiteSchema,
    broker: BrokerSchema.default(BrokerSchema.parse({})),
    http: HttpSchema.default(HttpSchema.parse({})),
    storage: StorageSchema.default(StorageSchema.parse({})),
    platform: PlatformSchema.optional(),
    serialBuses: z.array(SerialBusSchema).default([]),
    opcuaServers: z.array(OpcuaServerSchema).default([]),
    devices: z.array(DeviceSchema).default([]),
    registry: RegistrySchema.default(RegistrySchema.parse({})),
    watchlist: z.array(WatchEntrySchema).default([]),
    rules: z.array(RuleSchema).optional().describe('Omit for the default rule set (docs/rules.md); [] for none'),
    simulator: SimulatorSchema.default(SimulatorSchema.parse({})),
    camera: CameraSectionSchema.default(CameraSectionSchema.parse({})),
    console: ConsoleSchema.default(ConsoleSchema.parse({})),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
        events: z.boolean().default(false).describe('Log every accepted event at info level (commissioning; off in production)'),
      })
      .strict()
      .default({ level: 'info', events: false }),
  })
  .strict()
  .superRefine((cfg, ctx) => checkReferences(cfg, ctx), { when: () => true })
  .superRefine(refuseTestBenchOutsideBench, { when: () => true });

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

/**
 * Cross-references the schema alone cannot express: ids must be unique and must resolve. Runs
 * even when other parts of the file are invalid (the installer gets every error at once), so it
 * reads the value defensively.
 */
function checkReferences(input: unknown, ctx: z.RefinementCtx): void {
  const cfg = (isRecord(input) ? input : {}) as Record<string, any>;
  const list = (v: unknown): any[] => (Array.isArray(v) ? v.filter(isRecord) : []);
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message, input: undefined });
  const unique = (items: { id?: unknown }[], path: string[]) => {
    const seen = new Map<unknown, number>();
    items.forEach((item, i) => {
      if (typeof item.id !== 'string') return;
      if (seen.has(item.id)) issue([...path, i, 'id'], `duplicate id "${item.id}" (also at ${path.join('.')}[${seen.get(item.id)}])`);
      else seen.set(item.id, i);
    });
  };
  const site = isRecord(cfg.site) ? cfg.site : {};
  const buildings = new Map<string, Set<string>>();
  const houses = new Set<string>();
  for (const b of list(site.buildings)) {
    const units = new Set<string>();
    for (const u of list(b.units)) {
      units.add(u.id);
      for (const h of list(u.houses)) houses.add(h.id);
    }
    buildings.set(b.id, units);
  }
  const ids = (v: unknown) => new Set(list(v).map((x) => x.id));
  const gates = ids(site.gates);
  const zones = ids(site.zones);
  const buses = ids(cfg.serialBuses);
  const servers = ids(cfg.opcuaServers);
  const registry = isRecord(cfg.registry) ? cfg.registry : {};

  unique(list(cfg.devices), ['devices']);
  unique(list(cfg.rules), ['rules']);
  unique(list(cfg.watchlist), ['watchlist']);
  unique(list(cfg.serialBuses), ['serialBuses']);
  unique(list(cfg.opcuaServers), ['opcuaServers']);
  unique(list(registry.residents), ['registry', 'residents']);
  unique(list(registry.visitors), ['registry', 'visitors']);

  (Array.isArray(cfg.devices) ? cfg.devices : []).forEach((d: any, i: number) => {
    if (!isRecord(d)) return;
    const loc = isRecord(d.location) ? d.location : {};
    if (typeof loc.gate === 'string' && !gates.has(loc.gate)) issue(['devices', i, 'location', 'gate'], `unknown gate "${loc.gate}"`);
    if (typeof loc.zone === 'string' && !zones.has(loc.zone)) issue(['devices', i, 'location', 'zone'], `unknown zone "${loc.zone}"`);
    if (typeof loc.house === 'string' && !houses.has(loc.house)) issue(['devices', i, 'location', 'house'], `unknown house "${loc.house}"`);
    if (typeof loc.building === 'string' && !buildings.has(loc.building)) issue(['devices', i, 'location', 'building'], `unknown building "${loc.building}"`);
    if (typeof loc.unit === 'string' && !buildings.get(loc.building)?.has(loc.unit))
      issue(['devices', i, 'location', 'unit'], `unknown unit "${loc.unit}" in building "${loc.building ?? '(none)'}"`);
    if (d.transport === 'mqtt' && !d.secretHash && d.simulated !== true)
      issue(['devices', i, 'secretHash'], 'an MQTT device needs a secretHash (gridguard devices provision) or simulated: true');
    if (d.transport === 'serial') {
      if (!isRecord(d.serial)) issue(['devices', i, 'serial'], 'a serial device needs a serial section (bus, address, protocol)');
      else if (typeof d.serial.bus === 'string' && !buses.has(d.serial.bus)) issue(['devices', i, 'serial', 'bus'], `unknown serial bus "${d.serial.bus}"`);
    }
    if (d.transport === 'opcua') {
      if (!isRecord(d.opcua)) issue(['devices', i, 'opcua'], 'an OPC-UA device needs an opcua section (server, nodes)');
      else if (typeof d.opcua.server === 'string' && !servers.has(d.opcua.server)) issue(['devices', i, 'opcua', 'server'], `unknown OPC-UA server "${d.opcua.server}"`);
    }
  });
  list(registry.residents).forEach((r: any, i: number) => {
    (Array.isArray(r.houses) ? r.houses : []).forEach((h: unknown, j: number) => {
      if (typeof h === 'string' && !houses.has(h)) issue(['registry', 'residents', i, 'houses', j], `unknown house "${h}"`);
    });
  });
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

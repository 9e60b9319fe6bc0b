import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfigSchema, type GatewayConfig } from '../../../config/schema/index.ts';
import type { RuleConfig } from '../../../config/schema/rules.ts';
import { AlertService } from '../../../gateway/alerts/alert-service.ts';
import { AlertEscalation } from '../../../gateway/alerts/escalation.ts';
import { EventBus } from '../../../gateway/core/bus.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import type { Alert, DeviceEvent, DeviceEventInput } from '../../../gateway/core/model.ts';
import { Identifier } from '../../../gateway/identify/identifier.ts';
import { Pipeline } from '../../../gateway/pipeline/pipeline.ts';
import { RuleEngine } from '../../../gateway/rules/engine.ts';
import { SiteModel } from '../../../gateway/site/site-model.ts';
import { Store } from '../../../gateway/store/store.ts';

/** 2026-11-02 is a Monday; 08:00 Asia/Shanghai. */
export const MONDAY_8AM = Date.parse('2026-11-02T08:00:00+08:00');
export const MIN = 60_000;
export const HOUR = 3_600_000;

/** A small site: two gates (one for vehicles), one building with two houses, a perimeter zone. */
export function siteConfig(rules: unknown[], extra: Partial<Record<string, unknown>> = {}): GatewayConfig {
  return GatewayConfigSchema.parse({
    site: {
      gatewayId: 'gw-rules',
      communityName: '规则小区',
      communityGridCode: 'CG350102001',
      policeGridCode: 'PG350102600102',
      policeStation: '测试派出所',
      addressCode: 'AC3501020000',
      gates: [
        { id: 'gate-1', name: '1号门', addressCode: 'AC3501020001' },
        { id: 'gate-2', name: '2号门', addressCode: 'AC3501020002', vehicle: true },
        { id: 'gate-3', name: '3号门', addressCode: 'AC3501020003' },
      ],
      zones: [
        { id: 'z-north', name: '北围墙', kind: 'perimeter' },
        { id: 'z-south', name: '南围墙', kind: 'perimeter' },
      ],
      buildings: [
        {
          id: 'b1',
          name: '1号楼',
          units: [
            {
              id: 'u1',
              name: '1单元',
              houses: [
                { id: 'h101', name: '101', addressCode: 'AC3501020101101' },
                { id: 'h102', name: '102', addressCode: 'AC3501020101102' },
              ],
            },
          ],
        },
        { id: 'b2', name: '2号楼', units: [{ id: 'u1', name: '1单元', houses: [{ id: 'h201', name: '201', addressCode: 'AC3501020201201' }] }] },
      ],
    },
    devices: [
      { id: 'ac-1', kind: 'access-controller', transport: 'mqtt', simulated: true, location: { gate: 'gate-1' } },
      { id: 'ac-3', kind: 'access-controller', transport: 'mqtt', simulated: true, location: { gate: 'gate-3' } },
      { id: 'ac-b1', kind: 'access-controller', transport: 'mqtt', simulated: true, location: { building: 'b1', unit: 'u1' } },
      { id: 'ac-b2', kind: 'access-controller', transport: 'mqtt', simulated: true, location: { building: 'b2', unit: 'u1' } },
      { id: 'cam-1', kind: 'camera', transport: 'mqtt', simulated: true, location: { gate: 'gate-1' } },
      { id: 'cam-plate', name: '2号门车牌机', kind: 'camera', transport: 'mqtt', simulated: true, location: { gate: 'gate-2' } },
      { id: 'cam-north', kind: 'camera', transport: 'mqtt', simulated: true, location: { zone: 'z-north' } },
      { id: 'cam-south', kind: 'camera', transport: 'mqtt', simulated: true, location: { zone: 'z-south' } },
      { id: 'dp-101', kind: 'doorplate', transport: 'mqtt', simulated: true, location: { house: 'h101' } },
      { id: 'dp-102', kind: 'doorplate', transport: 'mqtt', simulated: true, location: { house: 'h102' } },
      { id: 'smoke-101', kind: 'sensor', transport: 'mqtt', simulated: true, location: { house: 'h101' } },
    ],
    registry: {
      residents: [
        { id: 'p1', name: '张三', houses: ['h101'], cards: ['1001'], plates: ['闽A·12345'] },
        { id: 'p2', name: '李奶奶', houses: ['h102'], cards: ['1002'], care: true },
        { id: 'p3', name: '王五', houses: ['h201'], cards: ['2001'] },
      ],
      visitors: [{ id: 'v1', name: '访客赵', host: 'h101', plates: ['闽D·77777'], validFrom: '2026-11-01T00:00:00+08:00', validTo: '2026-11-30T00:00:00+08:00' }],
    },
    watchlist: [
      { id: 'w1', subject: { type: 'card', value: '6666' }, level: 'critical', reason: '在逃' },
      { id: 'w2', subject: { type: 'plate', value: '闽A·88888' }, level: 'high', reason: '涉案车辆' },
      { id: 'w3', subject: { type: 'card', value: '5555' }, level: 'low', reason: '重点关注', validTo: '2026-11-01T00:00:00+08:00' },
    ],
    rules,
    ...extra,
  });
}

/**
 * The rule engine with its real neighbours (pipeline, identify, alert service, SQLite store in a
 * temp file) and a FakeClock. restart() stops everything and starts again on the same database.
 */
export class RulesHarness {
  readonly clock: FakeClock;
  readonly file: string;
  readonly raised: Alert[] = [];
  readonly updates: { alert: Alert; change: string }[] = [];
  store!: Store;
  bus!: EventBus;
  engine!: RuleEngine;
  alerts!: AlertService;
  escalation!: AlertEscalation;
  pipeline!: Pipeline;
  identifier!: Identifier;
  metrics!: Metrics;
  config: GatewayConfig;

  constructor(rules: unknown[], options: { startMs?: number; extra?: Record<string, unknown> } = {}) {
    this.clock = new FakeClock(options.startMs ?? MONDAY_8AM);
    this.file = join(mkdtempSync(join(tmpdir(), 'gg-rules-')), 'gridguard.db');
    this.config = siteConfig(rules, options.extra);
  }

  async start(rules?: RuleConfig[]): Promise<this> {
    if (rules) this.config = { ...this.config, rules };
    const log = silentLogger();
    this.metrics = new Metrics();
    this.store = Store.open(this.file);
    this.bus = new EventBus((event, error) => {
      throw new Error(`bus listener for ${event} failed: ${String(error)}`);
    });
    const site = new SiteModel(this.config);
    this.identifier = new Identifier(this.store.registry);
    this.identifier.load();
    if (this.store.registry.countPersons() === 0) this.store.db.transaction(() => this.identifier.seed(this.config))();
    const { store, bus, clock, metrics } = this;
    this.pipeline = new Pipeline({ site, identifier: this.identifier, store, bus, clock, metrics, log });
    this.alerts = new AlertService({ store, bus, clock, metrics, log });
    this.engine = new RuleEngine({ rules: this.config.rules, site, identifier: this.identifier, alerts: this.alerts, store, bus, clock, metrics, log });
    this.escalation = new AlertEscalation({ alerts: this.alerts, store, bus, clock, metrics, log, policyFor: (id) => this.engine.escalationFor(id) });
    bus.on('alert.raised', (a) => this.raised.push(a));
    bus.on('alert.updated', (u) => this.updates.push({ alert: u.alert, change: u.change }));
    this.engine.start();
    this.escalation.start();
    await this.settle();
    return this;
  }

  async stop(): Promise<void> {
    this.escalation.stop();
    this.engine.stop();
    await this.settle();
    this.store.close();
  }

  async restart(rules?: RuleConfig[]): Promise<void> {
    await this.stop();
    await this.start(rules);
  }

  /** Lets queued writes commit and the alert service announce what it raised. */
  async settle(): Promise<void> {
    for (let i = 0; i < 4; i++) {
      this.store.writes.flush();
      await new Promise((r) => setImmediate(r));
    }
  }

  async ingest(input: DeviceEventInput): Promise<DeviceEvent> {
    const event = await this.pipeline.ingest(input);
    await this.settle();
    return event;
  }

  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }

  /** Moves the clock to an instant (forwards only). */
  async at(iso: string): Promise<void> {
    await this.advance(Date.parse(iso) - this.clock.now());
  }

  alertsOf(ruleId: string): Alert[] {
    return this.store.alerts.list({ limit: 1000 }).filter((a) => a.ruleId === ruleId);
  }
}

import { join } from 'node:path';
import type { OPCUACertificateManager } from 'node-opcua';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { OpcuaServerConfig } from '../../config/schema/opcua.ts';
import { EVENTS_BY_KIND } from '../../gateway/core/model.ts';
import type { CommandResult, DeviceCommand, DeviceDriver, DriverContext, LinkHealth } from '../driver.ts';
import { ServerLink, type NodeBinding, type NodeProblem } from './server-link.ts';

export interface OpcuaDriverOptions {
  /** Certificates live here, one folder per server: <pkiDir>/<serverId>/{own,trusted,rejected,issuers}. */
  pkiDir: string;
  /** The client's application URI (and certificate subject), e.g. urn:gridguard:<gatewayId>. */
  applicationUri?: string;
}

/**
 * Devices behind OPC-UA servers (perimeter alarm hosts, fire panels): one supervised link per
 * server, value changes mapped to events through the site file, commands written to nodes.
 * node-opcua is loaded only when a server is configured: it adds most of a second to start-up.
 */
export class OpcuaDriver implements DeviceDriver {
  readonly name = 'opcua-driver';
  readonly transport = 'opcua' as const;
  private links = new Map<string, ServerLink>();
  private devices = new Map<string, DeviceConfig>();
  private certificateManagers: OPCUACertificateManager[] = [];
  /** Nodes refused by the config itself (an event type the device kind cannot report). */
  private configProblems: NodeProblem[] = [];

  constructor(
    private readonly ctx: DriverContext,
    private readonly servers: OpcuaServerConfig[],
    private readonly options: OpcuaDriverOptions,
  ) {}

  async start(): Promise<void> {
    for (const d of this.ctx.devices) if (d.opcua) this.devices.set(d.id, d);
    const used = this.servers.filter((s) => [...this.devices.values()].some((d) => d.opcua!.server === s.id));
    if (used.length === 0) return;
    const opcua = await import('node-opcua');
    for (const server of used) {
      const devices = [...this.devices.values()].filter((d) => d.opcua!.server === server.id);
      const certificateManager = new opcua.OPCUACertificateManager({
        rootFolder: join(this.options.pkiDir, server.id),
        automaticallyAcceptUnknownCertificate: server.acceptUnknownServerCertificate,
      });
      await certificateManager.initialize();
      // The driver holds a reference so that a client's disconnect never disposes the shared manager.
      certificateManager.referenceCounter++;
      this.certificateManagers.push(certificateManager);
      const link = new ServerLink(server, this.bindingsOf(devices), devices.map((d) => d.id), this.ctx, {
        opcua,
        certificateManager,
        applicationUri: this.options.applicationUri ?? 'urn:gridguard:gateway',
        heartbeatMs: (id) => (this.devices.get(id)?.heartbeatSeconds ?? 60) * 1000,
      });
      this.links.set(server.id, link);
      link.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.stop()));
    this.links.clear();
    for (const cm of this.certificateManagers) {
      cm.referenceCounter = 0;
      await cm.dispose().catch(() => {});
    }
    this.certificateManagers = [];
  }

  handles(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  async sendCommand(deviceId: string, command: DeviceCommand): Promise<CommandResult> {
    const device = this.devices.get(deviceId);
    if (!device) return { id: command.id, ok: false, error: `unknown OPC-UA device ${deviceId}` };
    const mapping = device.opcua!.commands.find((c) => c.command === command.type);
    if (!mapping) {
      const known = device.opcua!.commands.map((c) => c.command);
      return { id: command.id, ok: false, error: `device ${deviceId} has no OPC-UA command "${command.type}" (configured: ${known.join(', ') || 'none'})` };
    }
    const link = this.links.get(device.opcua!.server);
    if (!link) return { id: command.id, ok: false, error: `OPC-UA server ${device.opcua!.server} is not running` };
    return link.write(deviceId, command.id, mapping, command.params?.value);
  }

  health(): Record<string, LinkHealth> {
    return Object.fromEntries([...this.links].map(([id, link]) => [id, { ...link.health, detail: link.detail() }]));
  }

  /** Every node that is not monitored and why: refused by the server or by the config. */
  problems(): NodeProblem[] {
    return [...this.configProblems, ...[...this.links.values()].flatMap((l) => [...l.problems.values()])];
  }

  /** The link of a server, for tests and the bench (subscription counters). */
  link(serverId: string): ServerLink | undefined {
    return this.links.get(serverId);
  }

  private bindingsOf(devices: DeviceConfig[]): NodeBinding[] {
    const bindings: NodeBinding[] = [];
    for (const device of devices) {
      const allowed = EVENTS_BY_KIND[device.kind];
      for (const node of device.opcua!.nodes) {
        const wrong = node.events.find((e) => !allowed.includes(e.type));
        if (wrong) {
          const message = `device ${device.id}: node ${node.nodeId} maps ${JSON.stringify(wrong.value)} to ${wrong.type}, which a device of kind ${device.kind} cannot report; node not monitored`;
          this.ctx.metrics.rejected.inc({ source: 'opcua', reason: 'type-not-allowed' });
          this.ctx.log.error({ deviceId: device.id, nodeId: node.nodeId }, message);
          this.configProblems.push({ server: device.opcua!.server, deviceId: device.id, nodeId: node.nodeId, statusCode: 'config', message });
          continue;
        }
        bindings.push({ deviceId: device.id, node, memory: { known: false, value: null }, status: 'pending' });
      }
    }
    return bindings;
  }
}

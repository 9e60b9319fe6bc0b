import { z } from 'zod';
import { EVENT_TYPES } from '../../gateway/core/model.ts';
import { Id } from './common.ts';

/**
 * The text form of a NodeId (OPC-UA Part 6 §5.3.1.10): optional ns=<index>; or nsu=<uri>; then
 * i=<number>, s=<string>, g=<guid> or b=<base64>. Checked here so a typo fails at load time with
 * its file and line; a well-formed id the server does not know fails per item at run time.
 */
export const NODE_ID_PATTERN = /^(?:(?:ns=\d{1,5}|nsu=[^;]+);)?(?:i=\d{1,10}|s=.+|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|b=[A-Za-z0-9+/=]+)$/;

export const NodeIdText = z.string().regex(NODE_ID_PATTERN, 'must be an OPC-UA NodeId such as "ns=1;s=Zone1.Alarm" or "ns=2;i=1001"');

/** A node value as the site file can state it. */
export const NodeValue = z.union([z.boolean(), z.number().finite(), z.string()]);

/** The data types a command may write; the value is encoded as this type on the wire. */
export const WRITABLE_DATA_TYPES = ['Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Float', 'Double', 'String'] as const;

/** An OPC-UA server the gateway connects to (perimeter alarm host, fire panel). */
export const OpcuaServerSchema = z
  .object({
    id: Id,
    endpoint: z.string().regex(/^opc\.tcp:\/\//, 'must be an opc.tcp:// URL'),
    securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
    securityPolicy: z.enum(['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('None'),
    username: z.string().optional(),
    password: z.string().optional().describe('Prefer passwordEnv: the site file is often copied around'),
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name').optional().describe('Environment variable holding the password'),
    acceptUnknownServerCertificate: z
      .boolean()
      .default(false)
      .describe('Trust a server certificate on first contact (commissioning only); otherwise move it from pki/rejected to pki/trusted'),
    publishingIntervalMs: z.number().int().min(10).max(60_000).default(250).describe('How often the server sends collected changes'),
    samplingIntervalMs: z.number().int().min(0).max(60_000).default(100).describe('How often the server samples each node; 0 = on every change'),
    queueSize: z.number().int().min(1).max(10_000).default(100).describe('Changes the server keeps per node between two publishes'),
    keepAliveCount: z.number().int().min(1).max(1_000).default(10).describe('Publishing intervals without change before the server sends a keep-alive'),
    lifetimeCount: z.number().int().min(3).max(100_000).default(60),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    reconnectMinMs: z.number().int().min(10).default(500),
    reconnectMaxMs: z.number().int().min(100).default(30_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.securityMode === 'None') !== (s.securityPolicy === 'None'))
      ctx.addIssue({ code: 'custom', path: ['securityPolicy'], message: 'securityMode None goes with securityPolicy None, and Sign/SignAndEncrypt need a policy other than None' });
    if ((s.password !== undefined || s.passwordEnv !== undefined) && s.username === undefined)
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'a password needs a username' });
    if (s.password !== undefined && s.passwordEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['passwordEnv'], message: 'give password or passwordEnv, not both' });
    if (s.lifetimeCount < 3 * s.keepAliveCount) ctx.addIssue({ code: 'custom', path: ['lifetimeCount'], message: 'must be at least 3 × keepAliveCount (OPC-UA Part 4 §5.13.2)' });
    if (s.reconnectMaxMs < s.reconnectMinMs) ctx.addIssue({ code: 'custom', path: ['reconnectMaxMs'], message: 'must not be below reconnectMinMs' });
  });

/** One value of a node and the event it means, e.g. true → intrusion.detected. */
export const OpcuaEventMapSchema = z
  .object({
    value: NodeValue.describe('The node value this entry matches (strict equality)'),
    type: z.enum(EVENT_TYPES).describe('Event raised when the node changes to this value'),
    payload: z.record(z.string(), z.unknown()).optional().describe('Extra fields copied into the event payload'),
  })
  .strict();

/** A node the gateway monitors, and what its values mean. */
export const OpcuaNodeSchema = z
  .object({
    nodeId: NodeIdText,
    name: z.string().min(1).max(64).optional().describe('Label in events and logs, e.g. 北围墙 1 防区'),
    zone: Id.optional().describe('Site zone the events of this node belong to (overrides the device location zone)'),
    samplingIntervalMs: z.number().int().min(0).max(60_000).optional().describe('Overrides the server setting for this node'),
    normal: NodeValue.optional().describe('Quiet value: when the first value seen after start-up equals it, no event is raised'),
    events: z.array(OpcuaEventMapSchema).min(1).describe('Values without an entry (e.g. false when only true is mapped) raise nothing'),
  })
  .strict()
  .superRefine((n, ctx) => {
    const seen = new Set<string>();
    n.events.forEach((e, i) => {
      const key = JSON.stringify(e.value);
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['events', i, 'value'], message: `value ${key} is mapped twice` });
      seen.add(key);
    });
  });

/** A command (alarm.on, relay.pulse, …) carried out by writing a node. */
export const OpcuaCommandSchema = z
  .object({
    command: z.string().min(1).max(64).describe('Command type, e.g. alarm.on, alarm.off, relay.pulse, door.open'),
    nodeId: NodeIdText,
    dataType: z.enum(WRITABLE_DATA_TYPES).default('Boolean'),
    value: NodeValue.optional().describe('Value written; when absent the command must carry params.value'),
    pulseMs: z.number().int().min(10).max(3_600_000).optional().describe('Write resetValue this long after value (a relay pulse)'),
    resetValue: NodeValue.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.pulseMs === undefined) !== (c.resetValue === undefined))
      ctx.addIssue({ code: 'custom', path: [c.pulseMs === undefined ? 'pulseMs' : 'resetValue'], message: 'pulseMs and resetValue go together' });
  });

/** How a device maps onto OPC-UA nodes: what it reports (nodes) and what it can be told (commands). */
export const OpcuaDeviceSchema = z
  .object({
    server: Id.describe('id of an opcuaServers entry'),
    nodes: z.array(OpcuaNodeSchema).default([]),
    commands: z.array(OpcuaCommandSchema).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    const nodes = new Map<string, number>();
    d.nodes.forEach((n, i) => {
      if (nodes.has(n.nodeId)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'nodeId'], message: `node ${n.nodeId} is listed twice (also at nodes[${nodes.get(n.nodeId)}])` });
      else nodes.set(n.nodeId, i);
    });
    const commands = new Set<string>();
    d.commands.forEach((c, i) => {
      if (commands.has(c.command)) ctx.addIssue({ code: 'custom', path: ['commands', i, 'command'], message: `command ${c.command} is defined twice` });
      commands.add(c.command);
    });
  });

export type OpcuaServerConfig = z.infer<typeof OpcuaServerSchema>;
export type OpcuaDeviceConfig = z.infer<typeof OpcuaDeviceSchema>;
export type OpcuaNodeConfig = z.infer<typeof OpcuaNodeSchema>;
export type OpcuaCommandConfig = z.infer<typeof OpcuaCommandSchema>;
export type OpcuaEventMap = z.infer<typeof OpcuaEventMapSchema>;

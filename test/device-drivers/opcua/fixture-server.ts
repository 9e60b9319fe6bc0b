/**
 * A small OPC-UA server playing a perimeter alarm host and a fire panel, for the driver's tests
 * and bench. Run in a child process (so a test can kill it like a real outage):
 *
 *   node --import tsx test/device-drivers/opcua/fixture-server.ts <port> <pkiDir>
 *
 * Talks to its parent over the IPC channel: sends {ready: port} once listening; takes
 * {op: 'set', node, value}, {op: 'fault', node, value} (value with BadCommunicationError), {op: 'get', node}
 * and {op: 'burst', node, count} and answers each with
 * {reply: n, ...}. Optional env OPCUA_FIXTURE_USER=name:password turns on user/password logins.
 */
import { join } from 'node:path';
import { DataType, OPCUACertificateManager, OPCUAServer, SecurityPolicy, MessageSecurityMode, StatusCodes, Variant, type UAVariable } from 'node-opcua';

const port = Number(process.argv[2]);
const pkiDir = process.argv[3] ?? '';
if (!port || !pkiDir) throw new Error('usage: fixture-server.ts <port> <pkiDir>');

/** Every variable of the fixture, by the string part of its NodeId (namespace 1). */
const VARIABLES: { id: string; dataType: DataType; value: boolean | number; writable?: boolean }[] = [
  { id: 'Perimeter.Zone1.Alarm', dataType: DataType.Boolean, value: false },
  { id: 'Perimeter.Zone2.Alarm', dataType: DataType.Boolean, value: false },
  { id: 'FirePanel.Alarm', dataType: DataType.Boolean, value: false },
  { id: 'FirePanel.State', dataType: DataType.Int32, value: 0 },
  { id: 'Relay.Siren', dataType: DataType.Boolean, value: false, writable: true },
  { id: 'Bench.Counter', dataType: DataType.UInt32, value: 0 },
  { id: 'Bench.Toggle', dataType: DataType.Boolean, value: false },
];

async function main(): Promise<void> {
  const [userName, password] = (process.env.OPCUA_FIXTURE_USER ?? '').split(':');
  const server = new OPCUAServer({
    port,
    hostname: '127.0.0.1',
    serverCertificateManager: new OPCUACertificateManager({ rootFolder: join(pkiDir, 'server'), automaticallyAcceptUnknownCertificate: true }),
    userCertificateManager: new OPCUACertificateManager({ rootFolder: join(pkiDir, 'user'), automaticallyAcceptUnknownCertificate: true }),
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    allowAnonymous: !userName,
    ...(userName ? { userManager: { isValidUser: (u: string, p: string) => u === userName && p === password } } : {}),
    buildInfo: { productName: 'gridguard-fixture', buildNumber: '1' },
    // Exception-based like an alarm panel: every change is reported, none folded into a sampling window.
    serverCapabilities: { minSupportedSampleRate: 0 },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const namespace = addressSpace.getOwnNamespace();
  const folder = namespace.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'AlarmHost' });
  const nodes = new Map<string, { variable: UAVariable; dataType: DataType }>();
  for (const v of VARIABLES) {
    const variable = namespace.addVariable({
      componentOf: folder,
      browseName: v.id,
      nodeId: `s=${v.id}`,
      dataType: DataType[v.dataType],
      accessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      minimumSamplingInterval: 0,
      value: new Variant({ dataType: v.dataType, value: v.value }),
    });
    nodes.set(v.id, { variable, dataType: v.dataType });
  }
  await server.start();

  const node = (id: string) => {
    const n = nodes.get(id);
    if (!n) throw new Error(`fixture has no node ${id}`);
    return n;
  };
  process.on('message', (msg: { reply: number; op: string; node: string; value?: boolean | number; count?: number }) => {
    try {
      const n = node(msg.node);
      if (msg.op === 'set') {
        n.variable.setValueFromSource(new Variant({ dataType: n.dataType, value: msg.value }));
        process.send!({ reply: msg.reply });
      } else if (msg.op === 'fault') {
        // The field bus behind the server failed: the value comes with a bad status.
        n.variable.setValueFromSource(new Variant({ dataType: n.dataType, value: msg.value }), StatusCodes.BadCommunicationError);
        process.send!({ reply: msg.reply });
      } else if (msg.op === 'get') {
        process.send!({ reply: msg.reply, value: n.variable.readValue().value.value });
      } else if (msg.op === 'burst') {
        // Changes as fast as the server can take them, yielding now and then so it can publish.
        // A Boolean alternates true/false (every change a transition), a number counts 1..count.
        const count = msg.count ?? 1000;
        const started = process.hrtime.bigint();
        let i = 0;
        const step = () => {
          const until = Math.min(count, i + 200);
          for (; i < until; i++) n.variable.setValueFromSource(new Variant({ dataType: n.dataType, value: n.dataType === DataType.Boolean ? i % 2 === 0 : i + 1 }));
          if (i < count) setImmediate(step);
          else process.send!({ reply: msg.reply, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
        };
        step();
      } else throw new Error(`unknown op ${msg.op}`);
    } catch (error) {
      process.send!({ reply: msg.reply, error: (error as Error).message });
    }
  });
  process.on('SIGTERM', () => void server.shutdown(0).then(() => process.exit(0)));
  process.send!({ ready: port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

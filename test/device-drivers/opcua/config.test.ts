import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigText } from '../../../config/load.ts';
import { NODE_ID_PATTERN } from '../../../config/schema/opcua.ts';
import { testSite } from '../../helpers/gateway.ts';
import { configErrors } from '../../helpers/config.ts';

/** The OPC-UA part of the site file: checked at load time, each error with its line and path. */
describe('OPC-UA site configuration', () => {
  let base: Record<string, unknown>;
  beforeAll(async () => {
    base = await testSite();
  });

  const site = (server: Record<string, unknown>, opcua: Record<string, unknown>) =>
    stringify({
      ...base,
      opcuaServers: [{ id: 'fire-host', endpoint: 'opc.tcp://127.0.0.1:4840', ...server }],
      devices: [...(base.devices as unknown[]), { id: 'fire-1', kind: 'sensor', transport: 'opcua', location: { zone: 'z-north' }, opcua: { server: 'fire-host', ...opcua } }],
    });

  const errorsOf = configErrors;

  it('accepts a full example and fills in the defaults', () => {
    const { config } = loadConfigText(
      site(
        { securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', username: 'gw', passwordEnv: 'FIRE_HOST_PASSWORD' },
        {
          nodes: [{ nodeId: 'ns=2;s=Loop1.Fire', zone: 'z-north', normal: false, events: [{ value: true, type: 'sensor.fire' }] }],
          commands: [{ command: 'relay.pulse', nodeId: 'ns=2;i=3001', value: true, pulseMs: 3000, resetValue: false }],
        },
      ),
      'site.yaml',
    );
    expect(config.opcuaServers[0]).toMatchObject({ publishingIntervalMs: 250, samplingIntervalMs: 100, keepAliveCount: 10, acceptUnknownServerCertificate: false });
    expect(config.devices.at(-1)!.opcua!.commands[0]!.dataType).toBe('Boolean');
  });

  it('names file, line and path for each mistake, all at once', () => {
    const errors = errorsOf(
      site(
        { securityMode: 'Sign', password: 'x' },
        {
          nodes: [
            { nodeId: 'Loop1.Fire', events: [{ value: true, type: 'sensor.fire' }] },
            { nodeId: 'ns=2;i=7', events: [{ value: true, type: 'fire.alarm' }] },
            { nodeId: 'ns=2;i=7', events: [{ value: 1, type: 'sensor.fire' }, { value: 1, type: 'sensor.smoke' }] },
          ],
          commands: [{ command: 'relay.pulse', nodeId: 'ns=2;i=3001', pulseMs: 3000 }],
        },
      ),
    );
    const text = errors.join('\n');
    expect(text).toMatch(/^site\.yaml:\d+ opcuaServers\[0\]\.securityPolicy: securityMode None goes with securityPolicy None/m);
    expect(text).toMatch(/opcuaServers\[0\]\.username: a password needs a username/);
    expect(text).toMatch(/^site\.yaml:\d+ devices\[5\]\.opcua\.nodes\[0\]\.nodeId: must be an OPC-UA NodeId/m);
    expect(text).toMatch(/devices\[5\]\.opcua\.nodes\[1\]\.events\[0\]\.type: /);
    expect(text).toMatch(/devices\[5\]\.opcua\.nodes\[2\]\.events\[1\]\.value: value 1 is mapped twice/);
    expect(text).toMatch(/devices\[5\]\.opcua\.commands\[0\]\.resetValue: pulseMs and resetValue go together/);
  });

  it('refuses a node listed twice and a command defined twice on one device', () => {
    const event = [{ value: true, type: 'sensor.fire' }];
    const text = errorsOf(
      site(
        {},
        {
          nodes: [{ nodeId: 'ns=2;i=7', events: event }, { nodeId: 'ns=2;i=7', events: event }],
          commands: [{ command: 'alarm.on', nodeId: 'ns=2;i=8', value: true }, { command: 'alarm.on', nodeId: 'ns=2;i=9', value: true }],
        },
      ),
    ).join('\n');
    expect(text).toMatch(/devices\[5\]\.opcua\.nodes\[1\]\.nodeId: node ns=2;i=7 is listed twice \(also at nodes\[0\]\)/);
    expect(text).toMatch(/devices\[5\]\.opcua\.commands\[1\]\.command: command alarm.on is defined twice/);
  });

  it('knows the NodeId forms of OPC-UA Part 6', () => {
    for (const ok of ['i=2258', 'ns=1;s=Perimeter.Zone1.Alarm', 'ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a', 'ns=2;b=M/RbKBsRVkePCePcx24oRA==', 'nsu=urn:vendor:fire;s=Loop 1'])
      expect(NODE_ID_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', 'Zone1', 'ns=;s=x', 'ns=1;x=5', 'ns=1;i=abc', 'ns=1;s='])
      expect(NODE_ID_PATTERN.test(bad), bad).toBe(false);
  });
});

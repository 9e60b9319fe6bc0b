import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, loadConfigText } from '../../../config/load.ts';
import { configErrors } from '../../helpers/config.ts';

const site = `
site:
  gatewayId: gw-1
  communityName: 测试小区
  communityGridCode: CG350102001
  policeGridCode: PG350102600102
  policeStation: 测试派出所
  addressCode: AC3501020000
  gates: [{ id: gate-1, name: 1号门, addressCode: AC3501020001, vehicle: true }]
devices:
  - id: cam-plate
    kind: camera
    transport: mqtt
    location: { gate: gate-1 }
    secretHash: scrypt$x
    camera:
      detect: [plate]
  - id: cam-door
    kind: camera
    transport: mqtt
    location: { gate: gate-1 }
    secretHash: scrypt$y
    camera:
      detect: [face]
      faceModel: front
      maxSide: 640
`;

describe('camera config: per-camera working size', () => {
  it('a camera may set its own working size; one that sets none follows the gateway rule', () => {
    const { config } = loadConfigText(site, 'site.yaml');
    expect(config.devices[0]!.camera!.maxSide).toBeUndefined();
    expect(config.devices[1]!.camera!.maxSide).toBe(640);
    // The gateway-wide size, used for frames above 720p of cameras that set none.
    expect(config.camera.intake.maxSide).toBe(960);
  });

  it('names file, line and path for a working size that is too small, too large or not an integer', () => {
    const line = site.split('\n').findIndex((l) => l.includes('maxSide: 640')) + 1;
    const at = `^site\\.yaml:${line} devices\\[1\\]\\.camera\\.maxSide: `;
    expect(configErrors(site.replace('maxSide: 640', 'maxSide: 100'))).toEqual([
      expect.stringMatching(new RegExp(`${at}.*320`)),
    ]);
    expect(configErrors(site.replace('maxSide: 640', 'maxSide: 9000'))).toEqual([
      expect.stringMatching(new RegExp(`${at}.*4096`)),
    ]);
    expect(configErrors(site.replace('maxSide: 640', 'maxSide: 640.5'))).toEqual([expect.stringMatching(new RegExp(at))]);
    expect(configErrors(site.replace('maxSide: 640', 'maxSide: large'))).toEqual([expect.stringMatching(new RegExp(at))]);
  });

  it('the example site analyses its gate camera for plates at the default working size', () => {
    const { config } = loadConfigFile('config/example-site.yaml', {});
    const gate = config.devices.find((d) => d.id === 'cam-gate-north')!;
    expect(gate.camera).toMatchObject({ detect: ['plate'] });
    expect(gate.camera!.maxSide).toBeUndefined();
  });

  it('the JSON schema for editors carries the per-camera working size (npm run schema is current)', () => {
    const schema = JSON.parse(readFileSync(new URL('../../../config/site.schema.json', import.meta.url), 'utf8'));
    const camera = schema.properties.devices.items.properties.camera;
    expect(camera.properties.maxSide).toMatchObject({ type: 'integer', minimum: 320, maximum: 4096 });
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, loadConfigText } from '../../../config/load.ts';
import { configErrors, SITE_HEAD } from '../../helpers/config.ts';

const site = `${SITE_HEAD}  gates: [{ id: gate-1, name: 1号门, addressCode: AC3501020001, vehicle: true }]
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
    // Simulated: it sends plate events, not snapshots, so no lane is drawn for it.
    expect(gate.camera!.plateRegion).toBeUndefined();
  });

  it('the JSON schema for editors carries the per-camera working size (npm run schema is current)', () => {
    const schema = JSON.parse(readFileSync(new URL('../../../config/site.schema.json', import.meta.url), 'utf8'));
    const camera = schema.properties.devices.items.properties.camera;
    expect(camera.properties.maxSide).toMatchObject({ type: 'integer', minimum: 320, maximum: 4096 });
  });
});

describe('camera config: plate region', () => {
  const detectLine = '      detect: [plate]\n';
  /** The site with cam-plate's plateRegion set to the given YAML lines (one edge a line). */
  const withRegion = (edges: string[]) => site.replace(detectLine, `${detectLine}      plateRegion:\n${edges.map((l) => `        ${l}\n`).join('')}`);
  const lane = ['left: 0.2', 'top: 0.5', 'right: 0.8', 'bottom: 1'];
  const swap = (from: string, to: string[]) => lane.flatMap((l) => (l === from ? to : [l]));
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const at = (text: string, needle: string, path: string) => `^site\\.yaml:${lineOf(text, needle)} devices\\[0\\]\\.camera\\.${path}: `;

  it('a plate camera may draw the rectangle it reads plates in; one that draws none reads the whole frame', () => {
    const { config } = loadConfigText(withRegion(lane), 'site.yaml');
    expect(config.devices[0]!.camera!.plateRegion).toEqual({ left: 0.2, top: 0.5, right: 0.8, bottom: 1 });
    expect(config.devices[1]!.camera!.plateRegion).toBeUndefined();
  });

  it('refuses an edge outside the frame, naming file, line and path', () => {
    const below = withRegion(swap('bottom: 1', ['bottom: 1.2']));
    expect(configErrors(below)).toEqual([expect.stringMatching(new RegExp(`${at(below, 'bottom: 1.2', 'plateRegion\\.bottom')}.*1`))]);
    const negative = withRegion(swap('left: 0.2', ['left: -0.1']));
    expect(configErrors(negative)).toEqual([expect.stringMatching(new RegExp(`${at(negative, 'left: -0.1', 'plateRegion\\.left')}.*0`))]);
  });

  it('refuses an empty or inverted region at the edge that closes it', () => {
    const inverted = withRegion(swap('right: 0.8', ['right: 0.1']));
    expect(configErrors(inverted)).toEqual([expect.stringMatching(new RegExp(`${at(inverted, 'right: 0.1', 'plateRegion\\.right')}must be more than left \\(0\\.2\\)`))]);
    const flat = withRegion(swap('bottom: 1', ['bottom: 0.5']));
    expect(configErrors(flat)).toEqual([expect.stringMatching(new RegExp(`${at(flat, 'bottom: 0.5', 'plateRegion\\.bottom')}must be more than top \\(0\\.5\\)`))]);
  });

  it('refuses a missing edge, an unknown one and a region given as a list', () => {
    expect(configErrors(withRegion(swap('right: 0.8', [])))).toEqual([expect.stringMatching(/^site\.yaml:\d+ devices\[0\]\.camera\.plateRegion\.right: /)]);
    const misspelt = withRegion(swap('right: 0.8', ['right: 0.8', 'width: 0.6']));
    // The loader names the line where the region's mapping starts (its first edge).
    expect(configErrors(misspelt)).toEqual([expect.stringMatching(new RegExp(`${at(misspelt, 'left: 0.2', 'plateRegion')}unknown key "width"`))]);
    const list = site.replace(detectLine, `${detectLine}      plateRegion: [0.2, 0.5, 0.8, 1]\n`);
    expect(configErrors(list)).toEqual([expect.stringMatching(new RegExp(at(list, 'plateRegion:', 'plateRegion')))]);
  });

  it('the JSON schema for editors describes the plate region (npm run schema is current)', () => {
    const schema = JSON.parse(readFileSync(new URL('../../../config/site.schema.json', import.meta.url), 'utf8'));
    const region = schema.properties.devices.items.properties.camera.properties.plateRegion;
    expect(region.description).toMatch(/lane/);
    expect(region.required).toEqual(['left', 'top', 'right', 'bottom']);
    expect(region.properties.bottom).toMatchObject({ type: 'number', minimum: 0, maximum: 1 });
  });
});

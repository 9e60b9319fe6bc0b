import { readFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, YAMLMap, type Document } from 'yaml';
import { ConfigError, loadConfigText, type LoadedConfig } from '../../config/load.ts';
import { CliError, writeFileAtomic } from './common.ts';

/**
 * A site file opened for editing. Edits go through the `yaml` Document API, which keeps the
 * installer's comments, key order and quoting; the edited text is validated with the same loader
 * the gateway uses before it replaces the file.
 */
export class SiteDocument {
  private constructor(
    readonly file: string,
    readonly doc: Document,
  ) {}

  static open(file: string): SiteDocument {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`${file}: cannot read the site file: ${(error as Error).message}`);
    }
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) throw new CliError(`${file}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); run \`gridguard check ${file}\``);
    if (!isMap(doc.contents)) throw new CliError(`${file}: the site file must be a mapping at the top level`);
    return new SiteDocument(file, doc);
  }

  /** Index of the device with this id in `devices`, or -1. */
  deviceIndex(id: string): number {
    const devices = this.doc.get('devices');
    if (!isSeq(devices)) return -1;
    return devices.items.findIndex((item) => isMap(item) && item.get('id') === id);
  }

  device(id: string): YAMLMap | null {
    const index = this.deviceIndex(id);
    if (index < 0) return null;
    return (this.doc.get('devices') as { items: YAMLMap[] }).items[index] ?? null;
  }

  appendDevice(device: Record<string, unknown>): void {
    const node = this.doc.createNode(device);
    const devices = this.doc.get('devices');
    if (isSeq(devices)) {
      // `devices: []` in a fresh file is a flow sequence; a device in block style reads better.
      if (devices.flow && devices.items.length === 0) devices.flow = false;
      devices.add(node);
    } else {
      this.doc.set('devices', this.doc.createNode([device]));
    }
  }

  text(): string {
    return this.doc.toString({ lineWidth: 0 });
  }

  /** Parses the edited text as the gateway would (without environment overrides). */
  validate(): { loaded: LoadedConfig | null; error: ConfigError | null } {
    try {
      return { loaded: loadConfigText(this.text(), this.file, {}), error: null };
    } catch (error) {
      if (error instanceof ConfigError) return { loaded: null, error };
      throw error;
    }
  }

  save(): void {
    writeFileAtomic(this.file, this.text());
  }
}

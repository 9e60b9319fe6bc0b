import type { GatewayConfig } from '../../config/schema/index.ts';
import type { DeviceConfig } from '../../config/schema/devices.ts';
import type { Place, PlaceCodes } from '../core/model.ts';

interface HouseInfo {
  id: string;
  name?: string;
  addressCode: string;
  building: string;
  unit: string;
}

/**
 * The site as the pipeline needs it: every device's place and its three codes (三码叠加),
 * resolved once from the config rather than per event.
 */
export class SiteModel {
  readonly houses = new Map<string, HouseInfo>();
  private readonly buildings = new Map<string, { name: string; addressCode?: string; units: Map<string, { name: string; addressCode?: string }> }>();
  private readonly gates = new Map<string, { name: string; addressCode?: string }>();
  private readonly zones = new Map<string, { name: string; kind: string }>();
  private readonly devices = new Map<string, DeviceConfig>();
  private readonly placeCache = new Map<string, { place: Place; codes: PlaceCodes }>();

  constructor(readonly config: GatewayConfig) {
    for (const b of config.site.buildings) {
      const units = new Map<string, { name: string; addressCode?: string }>();
      for (const u of b.units) {
        units.set(u.id, { name: u.name, addressCode: u.addressCode });
        for (const h of u.houses) this.houses.set(h.id, { id: h.id, name: h.name, addressCode: h.addressCode, building: b.id, unit: u.id });
      }
      this.buildings.set(b.id, { name: b.name, addressCode: b.addressCode, units });
    }
    for (const g of config.site.gates) this.gates.set(g.id, { name: g.name, addressCode: g.addressCode });
    for (const z of config.site.zones) this.zones.set(z.id, { name: z.name, kind: z.kind });
    for (const d of config.devices) this.devices.set(d.id, d);
  }

  get gatewayId(): string {
    return this.config.site.gatewayId;
  }

  device(id: string): DeviceConfig | undefined {
    return this.devices.get(id);
  }

  allDevices(): DeviceConfig[] {
    return [...this.devices.values()];
  }

  zoneName(id: string): string | undefined {
    return this.zones.get(id)?.name;
  }

  gateName(id: string): string | undefined {
    return this.gates.get(id)?.name;
  }

  /** Place and codes of a device; a zone reported with the event overrides the configured one. */
  placeOf(deviceId: string, zoneOverride?: string): { place: Place; codes: PlaceCodes } {
    const key = `${deviceId}\u0000${zoneOverride ?? ''}`;
    const cached = this.placeCache.get(key);
    if (cached) return cached;
    const device = this.devices.get(deviceId);
    const loc = { ...(device?.location ?? {}) };
    if (zoneOverride && this.zones.has(zoneOverride)) loc.zone = zoneOverride;
    const house = loc.house ? this.houses.get(loc.house) : undefined;
    if (house) {
      loc.building ??= house.building;
      loc.unit ??= house.unit;
    }
    const building = loc.building ? this.buildings.get(loc.building) : undefined;
    const unit = loc.unit ? building?.units.get(loc.unit) : undefined;
    const gate = loc.gate ? this.gates.get(loc.gate) : undefined;
    const zone = loc.zone ? this.zones.get(loc.zone) : undefined;

    const labelParts: string[] = [];
    if (gate) labelParts.push(gate.name);
    if (building) labelParts.push(building.name);
    if (unit) labelParts.push(unit.name);
    if (house?.name) labelParts.push(house.name);
    if (zone) labelParts.push(zone.name);
    const place: Place = { label: labelParts.join('') || device?.name || deviceId };
    if (loc.gate) place.gate = loc.gate;
    if (loc.building) place.building = loc.building;
    if (loc.unit) place.unit = loc.unit;
    if (loc.house) place.house = loc.house;
    if (loc.zone) place.zone = loc.zone;

    const codes: PlaceCodes = {
      addressCode:
        house?.addressCode ?? unit?.addressCode ?? building?.addressCode ?? gate?.addressCode ?? this.config.site.addressCode ?? null,
      communityGridCode: this.config.site.communityGridCode,
      policeGridCode: this.config.site.policeGridCode,
    };
    const resolved = { place, codes };
    this.placeCache.set(key, resolved);
    return resolved;
  }
}

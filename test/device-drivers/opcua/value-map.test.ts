import { describe, expect, it } from 'vitest';
import { OpcuaNodeSchema } from '../../../config/schema/opcua.ts';
import { eventFor, toScalar, valueForWrite, type NodeMemory } from '../../../device-drivers/opcua/value-map.ts';

const zoneAlarm = OpcuaNodeSchema.parse({
  nodeId: 'ns=1;s=Zone1.Alarm',
  normal: false,
  events: [
    { value: true, type: 'intrusion.detected' },
    { value: false, type: 'sensor.restored' },
  ],
});
const unknown = (): NodeMemory => ({ known: false, value: null });

describe('value → event mapping', () => {
  it('maps a transition to its event', () => {
    expect(eventFor(zoneAlarm, { known: true, value: false }, true)?.type).toBe('intrusion.detected');
    expect(eventFor(zoneAlarm, { known: true, value: true }, false)?.type).toBe('sensor.restored');
  });

  it('raises nothing for a value the server re-sends after a reconnect', () => {
    expect(eventFor(zoneAlarm, { known: true, value: true }, true)).toBeNull();
    expect(eventFor(zoneAlarm, { known: true, value: false }, false)).toBeNull();
  });

  it('stays quiet on the normal value at start-up, but reports an alarm already active then', () => {
    expect(eventFor(zoneAlarm, unknown(), false)).toBeNull();
    expect(eventFor(zoneAlarm, unknown(), true)?.type).toBe('intrusion.detected');
    const noNormal = OpcuaNodeSchema.parse({ nodeId: 'i=5', events: [{ value: false, type: 'sensor.restored' }] });
    expect(eventFor(noNormal, unknown(), false)?.type).toBe('sensor.restored');
  });

  it('matches numbers and strings strictly; an unmapped value raises nothing', () => {
    const panel = OpcuaNodeSchema.parse({ nodeId: 'ns=2;i=7', events: [{ value: 2, type: 'sensor.fire' }, { value: 'FIRE', type: 'sensor.fire' }] });
    expect(eventFor(panel, { known: true, value: 0 }, 2)?.type).toBe('sensor.fire');
    expect(eventFor(panel, { known: true, value: 0 }, '2')).toBeNull();
    expect(eventFor(panel, { known: true, value: 0 }, 1)).toBeNull();
    expect(eventFor(panel, { known: true, value: 'OK' }, 'FIRE')?.type).toBe('sensor.fire');
  });

  it('reduces wire values to scalars, and refuses structures', () => {
    expect(toScalar(true)).toBe(true);
    expect(toScalar(3.5)).toBe(3.5);
    expect(toScalar(10n)).toBe(10);
    expect(toScalar({ text: '火警', locale: 'zh-CN' })).toBe('火警');
    expect(toScalar([1, 2])).toBeUndefined();
    expect(toScalar(null)).toBeUndefined();
  });
});

describe('command values', () => {
  it('encodes values in the node data type and refuses what would be truncated', () => {
    expect(valueForWrite('Boolean', 1)).toBe(true);
    expect(valueForWrite('Boolean', 'false')).toBe(false);
    expect(valueForWrite('Int16', true)).toBe(1);
    expect(valueForWrite('UInt16', '42')).toBe(42);
    expect(valueForWrite('Double', 1.5)).toBe(1.5);
    expect(() => valueForWrite('Boolean', 2)).toThrow(/not a Boolean/);
    expect(() => valueForWrite('Byte', 256)).toThrow(/does not fit Byte/);
    expect(() => valueForWrite('Int32', 1.5)).toThrow(/does not fit Int32/);
    expect(() => valueForWrite('UInt32', 'x')).toThrow(/not a number/);
    expect(() => valueForWrite('String', 5)).toThrow(/not a String/);
  });
});

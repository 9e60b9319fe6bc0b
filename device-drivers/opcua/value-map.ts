import type { OpcuaEventMap, OpcuaNodeConfig } from '../../config/schema/opcua.ts';

export type ScalarValue = boolean | number | string;

/** What the driver remembers of a node between notifications, across reconnects too. */
export interface NodeMemory {
  known: boolean;
  value: ScalarValue | null;
}

/**
 * Turns a node's new value into the event it means, or null. Events fire on transitions only:
 * the server re-sends every current value when a subscription is re-created, and a zone that
 * stayed in alarm across an outage must not raise a second intrusion. A change that happened
 * during the outage does show up, as the re-sent value differs from the remembered one.
 */
export function eventFor(node: OpcuaNodeConfig, memory: NodeMemory, value: ScalarValue): OpcuaEventMap | null {
  if (memory.known && sameValue(memory.value, value)) return null;
  if (!memory.known && node.normal !== undefined && sameValue(node.normal, value)) return null;
  return node.events.find((entry) => sameValue(entry.value, value)) ?? null;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

/**
 * Reduces a value from the wire to what a site file can match. Arrays, structures and 64-bit
 * pairs have no mapping; the caller counts them as unsupported.
 */
export function toScalar(value: unknown): ScalarValue | undefined {
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object' && 'text' in value && typeof (value as { text: unknown }).text === 'string') return (value as { text: string }).text;
  return undefined;
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  SByte: [-128, 127],
  Byte: [0, 255],
  Int16: [-32_768, 32_767],
  UInt16: [0, 65_535],
  Int32: [-2_147_483_648, 2_147_483_647],
  UInt32: [0, 4_294_967_295],
};

/**
 * The value a command writes, in the node's data type. A relay wired as Int16 (0/1) takes true
 * as 1; anything that would be truncated or wrapped is refused rather than written.
 */
export function valueForWrite(dataType: string, value: unknown): ScalarValue {
  if (dataType === 'Boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 0 || value === 1) return value === 1;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new Error(`${JSON.stringify(value)} is not a Boolean`);
  }
  if (dataType === 'String') {
    if (typeof value === 'string') return value;
    throw new Error(`${JSON.stringify(value)} is not a String`);
  }
  const number = typeof value === 'boolean' ? Number(value) : typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new Error(`${JSON.stringify(value)} is not a number for ${dataType}`);
  const range = INTEGER_RANGES[dataType];
  if (range && (!Number.isInteger(number) || number < range[0] || number > range[1])) throw new Error(`${number} does not fit ${dataType} (${range[0]}…${range[1]})`);
  return number;
}

import { z } from 'zod';
import { Code, Id } from './common.ts';

const House = z
  .object({
    id: Id,
    name: z.string().min(1).describe('Room label, e.g. "301"').optional(),
    addressCode: Code.describe('房屋地址编码: the standard address code of the house'),
  })
  .strict();

const Unit = z
  .object({
    id: Id,
    name: z.string().min(1).describe('e.g. "2单元"'),
    addressCode: Code.optional().describe('Address code of the unit entrance, if the platform assigns one'),
    houses: z.array(House).default([]),
  })
  .strict();

const Building = z
  .object({
    id: Id,
    name: z.string().min(1).describe('e.g. "3号楼"'),
    addressCode: Code.optional(),
    units: z.array(Unit).default([]),
  })
  .strict();

const Gate = z
  .object({
    id: Id,
    name: z.string().min(1).describe('e.g. "东门"'),
    addressCode: Code.optional(),
    vehicle: z.boolean().default(false).describe('A vehicle gate (plate capture) rather than a pedestrian one'),
  })
  .strict();

const Zone = z
  .object({
    id: Id,
    name: z.string().min(1).describe('e.g. "北侧围墙"'),
    kind: z.enum(['perimeter', 'area', 'private']).default('area'),
  })
  .strict();

export const SiteSchema = z
  .object({
    gatewayId: Id.describe('Unique id of this gateway, assigned by the grid platform'),
    communityName: z.string().min(1).describe('小区名称'),
    communityGridCode: Code.describe('小区网格编码: community governance grid code'),
    policeGridCode: Code.describe('警务网格编码: police grid (警格) code'),
    policeStation: z.string().min(1).describe('派出所 responsible for the community'),
    addressCode: Code.optional().describe('Address code of the community itself, used for devices not in a house'),
    buildings: z.array(Building).default([]),
    gates: z.array(Gate).default([]),
    zones: z.array(Zone).default([]),
  })
  .strict();

export type SiteConfig = z.infer<typeof SiteSchema>;

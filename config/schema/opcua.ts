import { z } from 'zod';
import { Id } from './common.ts';

/** An OPC-UA server the gateway connects to (perimeter alarm host, fire panel). */
export const OpcuaServerSchema = z
  .object({
    id: Id,
    endpoint: z.string().regex(/^opc\.tcp:\/\//, 'must be an opc.tcp:// URL'),
    securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
    securityPolicy: z.enum(['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('None'),
    username: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();

/** How a device maps onto OPC-UA nodes. Filled in by the OPC-UA driver's issue. */
export const OpcuaDeviceSchema = z
  .object({
    server: Id.describe('id of an opcuaServers entry'),
  })
  .passthrough();

export type OpcuaServerConfig = z.infer<typeof OpcuaServerSchema>;
export type OpcuaDeviceConfig = z.infer<typeof OpcuaDeviceSchema>;

import { z } from 'zod';

/** The guard-room console: sessions, login limits and who may read /metrics (docs/console.md). */
export const ConsoleSchema = z
  .object({
    sessionIdleMinutes: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 60)
      .default(12 * 60)
      .describe('A session unused this long ends (default: one 12-hour guard shift)'),
    sessionMaxHours: z.number().int().min(1).max(30 * 24).default(72).describe('A session ends this long after login, used or not'),
    loginAttemptsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Login attempts allowed per minute for one user name from one address; more get HTTP 429'),
    metrics: z
      .enum(['loopback', 'token'])
      .default('loopback')
      .describe('loopback: /metrics answers loopback clients without login; token: it needs the local API token or an admin session'),
    language: z.enum(['zh-CN', 'en']).default('zh-CN').describe('Default console language; each user may switch'),
  })
  .strict();

export type ConsoleConfig = z.infer<typeof ConsoleSchema>;

import { defineConfig } from 'vitest/config';

/**
 * The long fault suite (npm run test:faults): files named *.faults.ts, which the unit suite
 * (test/**\/*.test.ts) does not pick up. Here, and only here, latency bounds are asserted, with
 * generous margins; run it on a quiet machine. One file at a time: the figures are the point.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.faults.ts'],
    globalSetup: ['test/helpers/temp-root.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

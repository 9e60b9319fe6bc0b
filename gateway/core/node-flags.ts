/**
 * V8 settings the gateway process runs with. They must be on node's command line (V8 reads them
 * before the heap exists, and NODE_OPTIONS does not take them), so they are written out where the
 * gateway starts: package.json's `start`, deploy/gridguard.service's ExecStart, and bench/run.ts
 * for the benchmarks, which measure the gateway as it runs. test/gateway/core/node-flags.test.ts
 * keeps those places in step with this list.
 *
 * `--initial-old-space-size=64`: V8 sets the old generation's collection limit a little above
 * what is live, and a gateway's event-loop heap is small (a site's registry and config; ≈ 13 MB live in
 * the plate benchmark). Every plate read hands it megabytes of buffers that count towards that
 * limit (the decoded 720p frame, 2.7 MB; the detector's map), so a full collection, 2–10 ms on the
 * event loop, came every ~6 reads and landed in the reads' tail. With a 64 MB floor there were
 * none in 600 reads (docs/models.md, *Sixth session*); the buffers still go in young collections,
 * and a heap that is larger anyway (100,000 residents) is not changed by it.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** `--initial_old_space_size=64` → `--initial-old-space-size` (V8 takes either spelling). */
const flagName = (arg: string) => arg.split('=')[0]!.replace(/_/g, '-');

/**
 * The flags this process was started without (its execArgv). A flag given with another value
 * counts as given: whoever set it chose that value.
 */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(flagName));
  return GATEWAY_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
}

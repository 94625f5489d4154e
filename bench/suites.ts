/**
 * Every benchmark suite, in the order `npm run bench` runs them. A suite is cases the harness times
 * (each in its own worker thread), or a function that measures itself (worker threads of its own,
 * GPU kernels).
 */
import type { BenchCase, BenchOptions, BenchResult } from './harness.ts';
import { cacheCases } from './cache.bench.ts';
import { flashCases } from './flash.bench.ts';
import { GPU_ALLOC_GROUP, gpuWarpSlabResults } from './gpu-warp-slab.bench.ts';
import { pageAllocCases } from './page-alloc.bench.ts';
import { slabCases } from './slab.bench.ts';
import { SLAB_WORKERS_GROUP, slabWorkerResults } from './slab-workers.bench.ts';
import { vmCases } from './vm.bench.ts';
import { SYNC_HANDOFF_GROUP, syncCases, syncHandoffResults } from './sync.bench.ts';

export type Suite =
  | { cases: () => BenchCase[] | Promise<BenchCase[]> }
  /** `group`: what `--only` matches before the suite runs, its groups' name or the start they share. */
  | { results: (options: BenchOptions) => Promise<BenchResult[]>; group: string };

export const SUITES: readonly Suite[] = [
  { cases: pageAllocCases },
  { cases: slabCases },
  { results: slabWorkerResults, group: SLAB_WORKERS_GROUP },
  { results: gpuWarpSlabResults, group: GPU_ALLOC_GROUP },
  { cases: flashCases },
  { cases: cacheCases },
  { cases: vmCases },
  { cases: syncCases },
  { results: syncHandoffResults, group: SYNC_HANDOFF_GROUP },
];

/** The harness-timed case `index` of suite `suite`. */
export async function findCase(suite: number, index: number): Promise<BenchCase> {
  const s = SUITES[suite];
  if (s === undefined || !('cases' in s)) throw new Error(`benchmark suite ${suite} has no harness-timed cases`);
  const c = (await s.cases())[index];
  if (c === undefined) throw new Error(`benchmark suite ${suite} has no case ${index}`);
  return c;
}

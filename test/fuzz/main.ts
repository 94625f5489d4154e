/**
 * `npm run fuzz`: the long fuzz runs, beyond what CI has time for. Each fuzzer runs `--ops`
 * operations (default 10 M) against its shadow model, `--seed` (default 1) seeding it.
 *   npm run fuzz -- --ops 20000000 --seed 7 --only page
 * The flash fuzzers split their operations over runs of 200,000, each with its own configuration
 * (victim policy, frontiers, streams, wear levelling) drawn from the seed. The DMA fuzzer runs a
 * quarter of `--ops` (2.5 M at the default) through the cache model. The power-cut sweep is
 * `npm run flash:crash-sweep` (test/fuzz/flash-crash-sweep.ts). The secrets sweep is 1000 runs whatever `--ops`
 * (half tagging on, half the control; lab/workloads/secrets-run.ts). The RCU stress replaces
 * max(1 M, ops / 10) nodes per flavour against 2 reader workers (test/fuzz/rcu-stress.ts). The
 * fork-during-DMA fuzzer runs max(1 M, ops / 10) operations split over its three policies.
 */
import { scriptOptions, wholeOption } from '../../src/cli/args.ts';
import type { OptionSpecs } from '../../src/cli/args.ts';
import { fuzzDma } from './dma-fuzz.ts';
import { fuzzForkDma } from './fork-dma-fuzz.ts';
import { fuzzObjectStore, fuzzPageFtl } from './flash-fuzz.ts';
import type { FlashFuzzOptions, FlashFuzzReport } from './flash-fuzz.ts';
import { fuzzPageAllocator } from './page-alloc-fuzz.ts';
import { rcuStress } from './rcu-stress.ts';
import { fuzzSlab } from './slab-fuzz.ts';
import { secretsSweep } from '../../src/lab/workloads/secrets-run.ts';
import { ArgumentError, InvariantError } from '../../src/util/errors.ts';
import { fuzzVm } from './vm-fuzz.ts';
import { fuzzSwap } from './swap-fuzz.ts';

interface Fuzzer {
  name: string;
  run(seed: number, ops: number): object | Promise<object>;
}

const FLASH_RUN_OPS = 200_000;

/** Runs a flash fuzzer over `ops` operations in runs of FLASH_RUN_OPS, one configuration each. */
function flashRuns(fuzz: (options: FlashFuzzOptions) => FlashFuzzReport, seed: number, ops: number): object {
  let runs = 0;
  let done = 0;
  let misuses = 0;
  for (; done < ops; runs++) {
    const report = fuzz({ seed: seed * 1_000_003 + runs, ops: Math.min(FLASH_RUN_OPS, ops - done), validateEvery: 2_000 });
    done += report.ops;
    misuses += report.misuses;
  }
  return { ops: done, runs, misuses };
}

const FUZZERS: readonly Fuzzer[] = [
  { name: 'page allocator', run: (seed, ops) => fuzzPageAllocator({ seed, ops, validateEvery: 500_000 }) },
  {
    name: 'page allocator, not grouped by mobility',
    run: (seed, ops) => fuzzPageAllocator({ seed, ops: Math.ceil(ops / 4), groupByMobility: false, validateEvery: 500_000 }),
  },
  { name: 'slab caches and kmalloc', run: (seed, ops) => fuzzSlab({ seed, ops, validateEvery: 500_000 }) },
  { name: 'slab caches and kmalloc, Bonwick layout', run: (seed, ops) => fuzzSlab({ seed, ops: Math.ceil(ops / 4), layout: 'bonwick', validateEvery: 500_000 }) },
  {
    name: 'dma streaming map/sync/unmap',
    run: (seed, ops) => {
      // The API used correctly: any byte the CPU or a device reads that differs from the shadow fails the run.
      const report = fuzzDma({ seed, ops: Math.ceil(ops / 4), validateEvery: 100_000 });
      if (report.corruptions > 0) throw new InvariantError(`dma fuzz: ${report.corruptions} reads differed from the shadow model, expected 0`);
      return report;
    },
  },
  { name: 'virtual memory (mmap/munmap/mprotect/madvise/access)', run: (seed, ops) => fuzzVm({ seed, ops, validateEvery: 200_000 }) },
  { name: 'swap (reclaim/swap-in/fork/munmap/mlock)', run: (seed, ops) => fuzzSwap({ seed, ops: Math.max(20_000, Math.ceil(ops / 100)), validateEvery: 2_000 }) },
  {
    name: 'fork during DMA (naive, early-copy, defer-write)',
    run: (seed, ops) => {
      // Naive fork loses DMAs (what the fuzzer shows); the two fixes must lose none.
      const report = fuzzForkDma({ seed, ops: Math.max(1_000_000, Math.ceil(ops / 10)), validateEvery: 25_000 });
      for (const policy of ['early-copy', 'defer-write'] as const) {
        const lost = report.perPolicy[policy].lostDmas;
        if (lost > 0) throw new InvariantError(`fork during DMA: ${policy} lost ${lost} DMAs, expected 0`);
      }
      return report;
    },
  },
  { name: 'flash page store (FTL)', run: (seed, ops) => flashRuns(fuzzPageFtl, seed, ops) },
  { name: 'flash object store', run: (seed, ops) => flashRuns(fuzzObjectStore, seed, Math.ceil(ops / 4)) },
  {
    name: 'secrets sweep, 1000 runs (crash dump, hibernation image, freed frames, swap device)',
    run: (seed) => {
      const sweep = secretsSweep(seed, 1000, 8 << 20);
      if (sweep.leakingRuns > 0 || sweep.controlMisses > 0) throw new InvariantError(`secrets sweep: ${sweep.leakingRuns} runs leaked a tagged key, ${sweep.controlMisses} control images missed the key: expected 0 and 0`);
      return sweep;
    },
  },
  { name: 'rcu stress, 2 reader workers (QSBR, epoch)', run: (seed, ops) => rcuStress(seed, Math.max(1_000_000, Math.ceil(ops / 10))) },
];

/** README: "≥ 10 M operations per allocator". */
const DEFAULT_OPS = 10_000_000;

const OPTIONS: OptionSpecs = {
  ops: { type: 'string', value: 'N', help: `operations per fuzzer (default ${DEFAULT_OPS})` },
  seed: { type: 'string', value: 'N', help: 'seed (default 1)' },
  only: { type: 'string', value: 'TEXT', help: `run the fuzzers whose name contains TEXT: ${FUZZERS.map((f) => f.name).join('; ')}` },
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
};

const { ops, seed, only } = scriptOptions(process.argv.slice(2), OPTIONS, 'fuzz', 'usage: npm run fuzz -- [options]', (values) => {
  const only = typeof values.only === 'string' ? values.only : undefined;
  if (only !== undefined && !FUZZERS.some((f) => f.name.includes(only))) {
    throw new ArgumentError(`--only '${only}' matches no fuzzer: expected part of one of ${FUZZERS.map((f) => `'${f.name}'`).join(', ')}`);
  }
  return { ops: wholeOption('ops', values.ops, 0, undefined, DEFAULT_OPS), seed: wholeOption('seed', values.seed, 0, undefined, 1), only };
});
for (const fuzzer of FUZZERS) {
  if (only !== undefined && !fuzzer.name.includes(only)) continue;
  const started = performance.now();
  const report = await fuzzer.run(seed, ops);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${fuzzer.name}: ${JSON.stringify(report)} in ${seconds} s\n`);
}

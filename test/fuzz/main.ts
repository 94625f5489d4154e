/**
 * `npm run fuzz`: the long fuzz runs, beyond what CI has time for. Each fuzzer runs `--ops`
 * operations (default 10 M) against its shadow model, `--seed` (default 1) seeding it.
 *   npm run fuzz -- --ops 20000000 --seed 7 --only page
 */
import { fuzzPageAllocator } from './page-alloc-fuzz.ts';
import { fuzzSlab } from './slab-fuzz.ts';

interface Fuzzer {
  name: string;
  run(seed: number, ops: number): object;
}

const FUZZERS: readonly Fuzzer[] = [
  { name: 'page allocator', run: (seed, ops) => fuzzPageAllocator({ seed, ops, validateEvery: 500_000 }) },
  {
    name: 'page allocator, not grouped by mobility',
    run: (seed, ops) => fuzzPageAllocator({ seed, ops: Math.ceil(ops / 4), groupByMobility: false, validateEvery: 500_000 }),
  },
  { name: 'slab caches and kmalloc', run: (seed, ops) => fuzzSlab({ seed, ops, validateEvery: 500_000 }) },
  { name: 'slab caches and kmalloc, Bonwick layout', run: (seed, ops) => fuzzSlab({ seed, ops: Math.ceil(ops / 4), layout: 'bonwick', validateEvery: 500_000 }) },
];

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name}: expected a whole number`);
  return value;
}

const ops = option('ops', 10_000_000);
const seed = option('seed', 1);
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
for (const fuzzer of FUZZERS) {
  if (only !== undefined && !fuzzer.name.includes(only)) continue;
  const started = performance.now();
  const report = fuzzer.run(seed, ops);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${fuzzer.name}: ${JSON.stringify(report)} in ${seconds} s\n`);
}

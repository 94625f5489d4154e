/**
 * Aggregate throughput of alloc+free pairs from several workers at once: a kmem cache on one shared
 * arena (each worker has its own magazines, so the fast path touches nothing shared) with 1 and 2
 * workers, against one slab shared behind a global Atomics lock with 2 workers. Figures are
 * aggregate ns per pair: wall time ÷ pairs done by all workers together.
 *
 * And producer/consumer, the pattern where per-CPU caches help least: one worker allocates and hands
 * each object through a shared ring to the other, which frees it. In kmem the producer's magazines
 * run empty and the consumer's fill, so every magazine's worth of objects crosses the depot (under
 * its lock); the baseline takes the global lock twice per object. Figures: ns per object handed
 * over (wall time ÷ objects).
 */
import { Kernel } from '../src/mm/kernel.ts';
import { runTsWorker } from '../test/helpers/worker.ts';
import { ringBytes } from '../test/mm/slab/ring.ts';
import { LockedSlab, lockedSlabBytes } from './baselines/locked-slab.ts';
import type { BenchOptions, BenchResult } from './harness.ts';

export const SLAB_WORKERS_GROUP = 'two workers (aggregate ns per alloc+free pair)';
export const SLAB_HANDOFF_GROUP = 'two workers, producer/consumer (ns per object: one allocates, the other frees)';
const OBJECTS = 4096;
const OBJECT_BYTES = 64;

interface Report {
  ops: number;
  elapsedMs: number;
}

type Role = 'pair' | 'producer' | 'consumer';

/** Runs one worker per role at once; aggregate ns per operation (a pair, or an object handed over). */
async function runWorkers(mode: 'kmem' | 'locked', roles: readonly Role[], buffer: SharedArrayBuffer, durationMs: number): Promise<number> {
  const workers = roles.length;
  const start = new SharedArrayBuffer(12);
  const gate = new Int32Array(start);
  const ring = new SharedArrayBuffer(ringBytes(1));
  const url = new URL('./workers/slab-throughput-worker.ts', import.meta.url);
  const running = roles.map((role) => runTsWorker<Report>(url, { mode, role, ring, buffer, count: OBJECTS, sizeBytes: OBJECT_BYTES, start, durationMs }));
  while (Atomics.load(gate, 1) < workers) await new Promise((resolve) => setTimeout(resolve, 2));
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const reports = await Promise.all(running);
  // A handed-over object is counted by both sides: count the consumer's frees only.
  const ops = reports.reduce((sum, r, i) => sum + (roles[i] === 'producer' ? 0 : r.ops), 0);
  const elapsedMs = Math.max(...reports.map((r) => r.elapsedMs));
  return (elapsedMs * 1e6) / ops;
}

export async function slabWorkerResults(options: BenchOptions): Promise<BenchResult[]> {
  const durationMs = options.smoke ? 20 : 1500;
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 4 });
  kernel.createCache('bench-mt', OBJECT_BYTES);
  const lockedBuffer = new SharedArrayBuffer(lockedSlabBytes(OBJECTS));
  new LockedSlab(lockedBuffer, OBJECTS, OBJECT_BYTES).format();
  const rows: [string, number, boolean][] = [
    ['baseline: one slab behind a global Atomics lock, 2 workers', await runWorkers('locked', ['pair', 'pair'], lockedBuffer, durationMs), true],
    ['kmem cache, 1 worker', await runWorkers('kmem', ['pair'], kernel.buffer as SharedArrayBuffer, durationMs), false],
    ['kmem cache, 2 workers', await runWorkers('kmem', ['pair', 'pair'], kernel.buffer as SharedArrayBuffer, durationMs), false],
  ];
  const handoff: [string, number, boolean][] = [
    ['baseline: global-lock slab, one worker allocates, the other frees', await runWorkers('locked', ['producer', 'consumer'], lockedBuffer, durationMs), true],
    ['kmem cache, one worker allocates, the other frees', await runWorkers('kmem', ['producer', 'consumer'], kernel.buffer as SharedArrayBuffer, durationMs), false],
  ];
  kernel.validate();
  const results = (group: string, unit: string, list: [string, number, boolean][]): BenchResult[] => {
    const base = list[0]?.[1] ?? NaN;
    return list.map(([name, nsPerOp]) => ({ group, name, unit, nsPerOp, relative: nsPerOp / base, iterations: 0 }));
  };
  return [...results(SLAB_WORKERS_GROUP, 'alloc+free pair', rows), ...results(SLAB_HANDOFF_GROUP, 'object handed over', handoff)];
}

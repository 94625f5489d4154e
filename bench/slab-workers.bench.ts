/**
 * Aggregate throughput of alloc+free pairs from several workers at once: a kmem cache on one shared
 * arena (each worker has its own magazines, so the fast path touches nothing shared) with 1 and 2
 * workers, against one slab shared behind a global Atomics lock with 2 workers. Figures are
 * aggregate ns per pair: wall time ÷ pairs done by all workers together.
 */
import { Kernel } from '../src/mm/kernel.ts';
import { runTsWorker } from '../test/helpers/worker.ts';
import { LockedSlab, lockedSlabBytes } from './baselines/locked-slab.ts';
import type { BenchOptions, BenchResult } from './harness.ts';

export const SLAB_WORKERS_GROUP = 'two workers (aggregate ns per alloc+free pair)';
const OBJECTS = 4096;
const OBJECT_BYTES = 64;

interface Report {
  ops: number;
  elapsedMs: number;
}

async function runWorkers(mode: 'kmem' | 'locked', workers: number, buffer: SharedArrayBuffer, durationMs: number): Promise<number> {
  const start = new SharedArrayBuffer(8);
  const gate = new Int32Array(start);
  const url = new URL('./workers/slab-throughput-worker.ts', import.meta.url);
  const running = Array.from({ length: workers }, () =>
    runTsWorker<Report>(url, { mode, buffer, count: OBJECTS, sizeBytes: OBJECT_BYTES, start, durationMs }),
  );
  while (Atomics.load(gate, 1) < workers) await new Promise((resolve) => setTimeout(resolve, 2));
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const reports = await Promise.all(running);
  const ops = reports.reduce((sum, r) => sum + r.ops, 0);
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
    ['baseline: one slab behind a global Atomics lock, 2 workers', await runWorkers('locked', 2, lockedBuffer, durationMs), true],
    ['kmem cache, 1 worker', await runWorkers('kmem', 1, kernel.buffer as SharedArrayBuffer, durationMs), false],
    ['kmem cache, 2 workers', await runWorkers('kmem', 2, kernel.buffer as SharedArrayBuffer, durationMs), false],
  ];
  kernel.validate();
  const base = rows[0]?.[1] ?? NaN;
  return rows.map(([name, nsPerOp]) => ({ group: SLAB_WORKERS_GROUP, name, unit: 'alloc+free pair', nsPerOp, relative: nsPerOp / base, iterations: 0 }));
}

// One worker of the throughput benchmark: alloc+free pairs (with a ring of 64 live objects) for a
// fixed time, from a kmem cache on a shared arena or from the global-lock slab baseline.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';
import { LockedSlab } from '../baselines/locked-slab.ts';

interface Input {
  mode: 'kmem' | 'locked';
  buffer: SharedArrayBuffer;
  count: number;
  sizeBytes: number;
  start: SharedArrayBuffer;
  durationMs: number;
}

const { mode, buffer, count, sizeBytes, start, durationMs } = workerData as Input;
let alloc: () => number;
let free: (addr: number) => void;
let done = (): void => undefined;
if (mode === 'kmem') {
  const kernel = Kernel.attach(buffer);
  const cache = kernel.slab.cache('bench-mt');
  alloc = () => cache.alloc() as number;
  free = (addr) => cache.free(addr);
  done = () => kernel.slab.detach();
} else {
  const slab = new LockedSlab(buffer, count, sizeBytes);
  alloc = () => slab.alloc();
  free = (addr) => slab.free(addr);
}
const ring = new Float64Array(64);
for (let i = 0; i < 64; i++) ring[i] = alloc();
// Wait for the starting gun so that workers run at the same time.
const gate = new Int32Array(start);
Atomics.add(gate, 1, 1);
while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0, 5);
const began = performance.now();
let ops = 0;
let now = began;
while (now - began < durationMs) {
  for (let i = 0; i < 4096; i++) {
    const j = i & 63;
    free(ring[j] as number);
    ring[j] = alloc();
  }
  ops += 4096;
  now = performance.now();
}
for (let i = 0; i < 64; i++) free(ring[i] as number);
done();
parentPort?.postMessage({ ops, elapsedMs: now - began });

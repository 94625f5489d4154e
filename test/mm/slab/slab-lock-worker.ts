// Worker side of the slab-lock statistics test: attach to the shared arena, meet the other workers
// at a barrier, then allocate and free objects of a slow-only (poisoned) cache, each of which takes
// the cache's slab lock, until that lock's arena record shows a contended acquisition or time is up.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';

interface Input {
  buffer: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  workers: number;
  cacheName: string;
  limitMs: number;
}

const { buffer, barrier: barrierBuffer, workers, cacheName, limitMs } = workerData as Input;
const kernel = Kernel.attach(buffer);
const barrier = new Int32Array(barrierBuffer);
const cache = kernel.slab.cache(cacheName);
const contended = (): number => kernel.slab.lockStats().find((l) => l.name === `slab ${cacheName} slab list`)?.contended ?? 0;
Atomics.add(barrier, 0, 1);
const deadline = Date.now() + limitMs;
while (Atomics.load(barrier, 0) < workers && Date.now() < deadline);
let pairs = 0;
const held: number[] = [];
while (Date.now() < deadline && contended() === 0) {
  for (let i = 0; i < 500; i++) {
    held.push(cache.alloc() as number);
    if (held.length > 8) cache.free(held.shift() as number);
    pairs++;
  }
}
for (const addr of held) cache.free(addr);
kernel.detach();
parentPort?.postMessage({ pairs });

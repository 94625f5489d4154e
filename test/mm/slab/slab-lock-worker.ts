// Worker side of the slab-lock statistics test: attach to the shared arena, meet the other workers
// at a barrier, then allocate and free objects of a slow-only (poisoned) cache, each of which takes
// the cache's slab lock, until that lock's arena record shows a contended acquisition or time is up.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { meetAtBarrier } from '../../helpers/barrier.ts';

interface Input {
  buffer: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  workers: number;
  cacheName: string;
  limitMs: number;
}

const { buffer, barrier, workers, cacheName, limitMs } = workerData as Input;
const kernel = Kernel.attach(buffer);
const cache = kernel.slab.cache(cacheName);
const contended = (): number => kernel.slab.lockStats().find((l) => l.name === `slab ${cacheName} slab list`)?.contended ?? 0;
const deadline = Date.now() + limitMs;
meetAtBarrier(barrier, workers, deadline);
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

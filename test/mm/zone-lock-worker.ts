// Worker side of the zone-lock statistics test: attach to the shared arena, meet the other workers
// at a barrier, then allocate and free order-1 blocks (every one takes the zone lock, no per-CPU
// list) until the zone lock's arena statistics show a contended acquisition or the time is up.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { meetAtBarrier } from '../helpers/barrier.ts';

interface Input {
  buffer: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  workers: number;
  limitMs: number;
}

const { buffer, barrier, workers, limitMs } = workerData as Input;
const kernel = Kernel.attach(buffer);
const zone = kernel.pages.zones[kernel.pages.zones.length - 1]!;
const deadline = Date.now() + limitMs;
meetAtBarrier(barrier, workers, deadline);
let rounds = 0;
while (Date.now() < deadline && (zone.lock.stats?.values().contended ?? 0) === 0) {
  for (let i = 0; i < 1000; i++) {
    const pfn = kernel.pages.tryAllocPages(1, GFP.KERNEL | GFP.NORETRY);
    if (pfn !== null) kernel.pages.freePages(pfn, 1);
  }
  rounds++;
}
kernel.detach();
parentPort?.postMessage({ rounds });

// Worker side of the drainCpu test (page-alloc-workers.test.ts): attach to the shared arena, say
// which CPU slot this thread holds (control word 0: cpu + 1), then run order-0 pairs through this
// CPU's per-CPU lists, keeping up to 200 pages, until the main thread sets control word 1. A pfn
// handed out while this thread still held it, and any error, are counted. Every page is freed
// before the report, and the slot is left held (as a worker that exited without detach()).
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';

const { buffer, control } = workerData as { buffer: SharedArrayBuffer; control: SharedArrayBuffer };
const kernel = Kernel.attach(buffer);
const ctl = new Int32Array(control);
const claim = kernel.cpuClaim();
const held = new Set<number>();
const order: number[] = [];
let pairs = 0;
let duplicates = 0;
let errors = 0;
let first = '';
Atomics.store(ctl, 0, claim.cpu + 1);
while (Atomics.load(ctl, 1) === 0) {
  try {
    const pfn = kernel.pages.allocPages(0);
    if (held.has(pfn)) duplicates++;
    else {
      held.add(pfn);
      order.push(pfn);
    }
    if (order.length > 200) {
      const old = order.shift()!;
      held.delete(old);
      kernel.pages.freePages(old, 0);
    }
    pairs++;
  } catch (error) {
    errors++;
    if (first === '') first = String(error);
  }
}
for (const pfn of order) kernel.pages.freePages(pfn, 0);
parentPort?.postMessage({ claim, pairs, duplicates, errors, first });

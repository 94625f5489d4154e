// Worker side of the two-worker test: attach to the shared arena, allocate and free pages at
// random, claim every page it gets in a shared ownership table (a page claimed twice was handed
// out twice), stamp each page, and check the stamp before freeing.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { PAGE_SIZE } from '../../src/mm/types.ts';
import { Prng } from '../../src/util/prng.ts';

interface Input {
  buffer: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  id: number;
  ops: number;
  seed: number;
}

const { buffer, claims: claimsBuffer, id, ops, seed } = workerData as Input;
const kernel = Kernel.attach(buffer);
const claims = new Int32Array(claimsBuffer);
const words = new Int32Array(buffer);
const prng = new Prng(seed);
const live: { pfn: number; order: number }[] = [];
let doubles = 0;
let corrupt = 0;
let failures = 0;
let allocs = 0;

const free = (index: number): void => {
  const { pfn, order } = live[index]!;
  live[index] = live[live.length - 1]!;
  live.pop();
  for (let p = pfn; p < pfn + (1 << order); p++) {
    if (words[(p * PAGE_SIZE) / 4] !== id * 1_000_000 + p) corrupt++;
    if (Atomics.compareExchange(claims, p, id, 0) !== id) doubles++;
  }
  kernel.pages.freePages(pfn, order, id);
};

for (let op = 0; op < ops; op++) {
  if (live.length > 0 && (live.length > 200 || prng.chance(0.5))) {
    free(prng.int(live.length));
    continue;
  }
  const order = prng.weighted([8, 4, 2, 1]);
  const pfn = kernel.pages.tryAllocPages(order, (prng.chance(0.5) ? GFP.KERNEL : GFP.HIGHUSER_MOVABLE) | GFP.NORETRY, id);
  if (pfn === null) {
    failures++;
    continue;
  }
  allocs++;
  for (let p = pfn; p < pfn + (1 << order); p++) {
    if (Atomics.compareExchange(claims, p, 0, id) !== 0) doubles++;
    words[(p * PAGE_SIZE) / 4] = id * 1_000_000 + p;
  }
  live.push({ pfn, order });
}
while (live.length > 0) free(live.length - 1);
// This worker's CPU slot, and with it its per-CPU page lists, go back before it leaves.
kernel.detach();
parentPort?.postMessage({ id, allocs, failures, doubles, corrupt });

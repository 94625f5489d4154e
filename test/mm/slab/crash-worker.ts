// Worker side of the crash test: allocates and frees from a cache and kmalloc, records every object
// it holds in a shared table, reports its CPU claim, optionally takes a cache's slab lock, then
// hangs (spins) until the main thread terminate()s it: it never detaches.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { Prng } from '../../../src/util/prng.ts';

interface Input {
  buffer: SharedArrayBuffer;
  held: SharedArrayBuffer;
  seed: number;
  holdLock: boolean;
}
const { buffer, held, seed, holdLock } = workerData as Input;
const kernel = Kernel.attach(buffer);
const cache = kernel.slab.cache('crashy');
const table = new Int32Array(held);
const prng = new Prng(seed);
const mine: number[] = [];
for (let i = 0; i < 20_000; i++) {
  if (mine.length > 0 && prng.chance(0.45)) {
    const [tagged] = mine.splice(prng.int(mine.length), 1) as [number];
    const addr = tagged >>> 1;
    Atomics.store(table, addr >>> 3, 0);
    if ((tagged & 1) === 0) cache.free(addr);
    else kernel.kfree(addr);
  } else {
    const fromCache = prng.chance(0.5);
    const addr = fromCache ? cache.alloc() : kernel.kmalloc(prng.range(8, 1000));
    Atomics.store(table, addr >>> 3, fromCache ? 1 : 2);
    mine.push(addr * 2 + (fromCache ? 0 : 1));
  }
}
if (holdLock) cache.slabLock.acquire();
parentPort?.postMessage(kernel.cpuClaim());
for (;;) {
  // hang, holding magazines (and maybe the lock), until terminated
}

// Worker side of the mid-operation kill test (crash.test.ts): allocates and frees, forever, from a
// plain cache, a cache with a constructor, a red-zoned cache (no magazines), kmalloc (small and
// large) and the page allocator (order 0 through the per-CPU lists, and orders 1–2), shrinking now
// and then, and records in a shared table each object it holds (before it frees one, after it
// allocates one), until the main thread terminate()s it wherever it is.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { Prng } from '../../../src/util/prng.ts';
import { KILL_KINDS, KILL_OWNER, type KillKind } from './kill-kinds.ts';

const { buffer, held, seed } = workerData as { buffer: SharedArrayBuffer; held: SharedArrayBuffer; seed: number };
const kernel = Kernel.attach(buffer);
const caches = {
  plain: kernel.slab.cache('killed-plain'),
  ctor: kernel.slab.cache('killed-ctor', { ctor: (addr: number) => void (new Uint32Array(buffer)[addr >>> 2] = 0xc0ffee) }),
  redzone: kernel.slab.cache('killed-redzone'),
};
const table = new Int32Array(held);
const prng = new Prng(seed);
const mine: { addr: number; kind: KillKind }[] = [];
const sizes = [8, 64, 200, 1000, 4096, 8192, 20000];
parentPort?.postMessage(kernel.cpuClaim());
for (;;) {
  if (mine.length > 0 && (mine.length > 2000 || prng.chance(0.45))) {
    const [{ addr, kind }] = mine.splice(prng.int(mine.length), 1) as [{ addr: number; kind: KillKind }];
    Atomics.store(table, addr >>> 3, 0);
    if (kind === 'kmalloc') kernel.kfree(addr);
    else if (kind.startsWith('page')) kernel.pages.freePages(addr >>> 12, Number(kind.slice(4)), KILL_OWNER);
    else caches[kind as keyof typeof caches].free(addr);
  } else {
    const kind = KILL_KINDS[prng.int(KILL_KINDS.length)]!;
    let addr: number;
    if (kind === 'kmalloc') addr = kernel.kmalloc(sizes[prng.int(sizes.length)]!);
    else if (kind.startsWith('page')) addr = kernel.pages.allocPages(Number(kind.slice(4)), prng.chance(0.5) ? GFP.KERNEL : GFP.KERNEL | GFP.COMP, KILL_OWNER) * 4096;
    else addr = caches[kind as keyof typeof caches].alloc();
    if (kind === 'plain' && prng.chance(0.005)) caches.plain.shrink();
    Atomics.store(table, addr >>> 3, KILL_KINDS.indexOf(kind) + 1);
    mine.push({ addr, kind });
  }
}

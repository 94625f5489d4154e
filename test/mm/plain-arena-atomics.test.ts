// Over a plain (non-shared) ArrayBuffer one thread alone can use the arena, so the zone locks and
// the slab locks (lock-word.ts), the per-CPU page lists, the slab fast paths (lazy state,
// alloc-state.ts) and the slab slow paths' reads of a cache's state and drain generation
// (CacheContext.loadWord) use plain loads and stores: not one Atomics call. The global Atomics
// methods are spied on while a plain kernel runs its page and slab paths; the same run on a
// shared arena is the control (the spy sees those calls there). What the counts leave out:
// claiming a CPU slot (once per thread, done before counting: cpu-slots.ts uses Atomics on any
// arena), a boot page limit (its counter is a header word changed by Atomics.add on any arena:
// these kernels have none), and createCache / destroyCache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';

const METHODS = ['add', 'and', 'compareExchange', 'exchange', 'load', 'notify', 'or', 'store', 'sub', 'wait', 'xor'] as const;

/** Calls of each Atomics method while `fn` runs; the methods are put back afterwards, whatever happens. */
function countAtomics(fn: () => void): Record<string, number> {
  const calls: Record<string, number> = {};
  const atomics = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved = METHODS.map((name) => [name, atomics[name]!] as const);
  try {
    for (const [name, original] of saved) {
      atomics[name] = (...args: unknown[]): unknown => {
        calls[name] = (calls[name] ?? 0) + 1;
        return original.apply(Atomics, args);
      };
    }
    fn();
  } finally {
    for (const [name, original] of saved) atomics[name] = original;
  }
  return calls;
}

const total = (calls: Record<string, number>): number => Object.values(calls).reduce((sum, n) => sum + n, 0);

/** A kernel whose thread holds its CPU slot and has a cache of 64-byte objects in use. */
function warmKernel(shared: boolean): { kernel: Kernel; cache: ReturnType<Kernel['createCache']> } {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared, cpus: 2 });
  const cache = kernel.createCache('atomics_probe', 64);
  cache.free(cache.alloc());
  kernel.pages.freePages(kernel.pages.allocPages(0), 0);
  return { kernel, cache };
}

/** Order-1 pairs (the zone lock each time), order-0 pairs (the per-CPU lists, refills and drains). */
function pagePaths(kernel: Kernel): void {
  for (let i = 0; i < 1000; i++) kernel.pages.freePages(kernel.pages.allocPages(1, GFP.KERNEL), 1);
  const held = Array.from({ length: 2000 }, () => kernel.pages.allocPages(0));
  for (const pfn of held) kernel.pages.freePages(pfn, 0);
}

/**
 * The slab's slow paths: 5000 objects need magazines from the depot and new slabs (grow: the slab
 * lock, kmem_slab's and the magazine cache's, a zone lock); freeing them fills magazines back into
 * the depot; shrink() purges the depot and releases the empty slabs to the page allocator.
 */
function slabPaths(kernel: Kernel, cache: ReturnType<Kernel['createCache']>): void {
  const objects = Array.from({ length: 5000 }, () => cache.alloc());
  for (const obj of objects) cache.free(obj);
  assert.ok(cache.shrink() > 0, 'shrink released slabs');
  const again = Array.from({ length: 5000 }, () => cache.alloc());
  for (const obj of again) cache.free(obj);
  kernel.slab.shrink();
}

test('on a plain arena the zone locks, the per-CPU page lists and the slab paths (fast, grow, shrink) make no Atomics call; on a shared one they do', () => {
  const plain = warmKernel(false);
  const shared = warmKernel(true);
  const plainPages = countAtomics(() => pagePaths(plain.kernel));
  const plainSlab = countAtomics(() => slabPaths(plain.kernel, plain.cache));
  const sharedPages = countAtomics(() => pagePaths(shared.kernel));
  const sharedSlab = countAtomics(() => slabPaths(shared.kernel, shared.cache));
  assert.deepEqual(plainPages, {}, 'page allocator on a plain arena');
  assert.deepEqual(plainSlab, {}, 'slab allocator on a plain arena');
  // The control: the spy sees the shared arena's lock words and state changes.
  assert.ok((sharedPages.compareExchange ?? 0) >= 2000 && (sharedPages.exchange ?? 0) >= 2000, JSON.stringify(sharedPages));
  assert.ok(total(sharedSlab) > 10_000 && (sharedSlab.load ?? 0) > 0, JSON.stringify(sharedSlab));
  // The spy is gone: Atomics is the engine's again.
  for (const name of METHODS) assert.equal(typeof Atomics[name], 'function');
  assert.equal(Atomics.add.name, 'add');
  plain.kernel.validate();
  shared.kernel.validate();
});

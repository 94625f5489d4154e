import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import {
  CacheBusyError,
  CacheNameError,
  InteriorPointerError,
  InvalidFreeError,
  SlabDoubleFreeError,
} from '../../../src/mm/slab/errors.ts';
import { ArgumentError } from '../../../src/util/errors.ts';
import { OutOfMemoryError } from '../../../src/mm/errors.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { P_PREV_ROUNDS, P_ROUNDS, SLAB_INDEX_MASK, isSlabOwner } from '../../../src/mm/slab/types.ts';

function boot(extra: Partial<Parameters<typeof Kernel.boot>[0]> = {}): Kernel {
  return Kernel.boot({ ramBytes: '32MiB', ...extra });
}

test('a cache hands out distinct, aligned objects inside its slabs, and takes them back', () => {
  const kernel = boot();
  const cache = kernel.createCache('thing', 100, { align: 64 });
  assert.equal(cache.size, 128);
  const objs = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const addr = cache.alloc();
    assert.ok(addr !== null);
    assert.equal(addr % 64, 0);
    assert.ok(!objs.has(addr));
    objs.add(addr);
  }
  kernel.validate();
  const stats = kernel.slab.stats().caches.find((c) => c.name === 'thing')!;
  assert.equal(stats.inUse, 500);
  for (const addr of objs) cache.free(addr);
  kernel.validate();
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'thing')!.inUse, 0);
});

test('objects stay constructed: the constructor runs once per object, state survives free and alloc', () => {
  const kernel = boot();
  let constructed = 0;
  const ctor = (addr: number): void => {
    constructed++;
    kernel.ram.bytes.fill(0x42, addr, addr + 40);
  };
  const cache = kernel.createCache('ctor40', 40, { ctor });
  const a = cache.alloc() as number;
  assert.equal(constructed, cache.objs, 'a new slab constructs all its objects');
  assert.ok(kernel.ram.bytes.subarray(a, a + 40).every((b) => b === 0x42));
  cache.free(a);
  const b = cache.alloc() as number;
  assert.equal(b, a, 'LIFO magazines hand the same object back');
  assert.ok(kernel.ram.bytes.subarray(b, b + 40).every((x) => x === 0x42), 'the free marker lives outside a constructed object');
  assert.equal(constructed, cache.objs);
  // Another worker's view must register the constructor.
  const other = Kernel.attach(kernel.buffer);
  assert.throws(() => other.slab.cache('ctor40'), /has a constructor/);
  assert.ok(other.slab.cache('ctor40', { ctor }).objs === cache.objs);
  cache.free(b);
  kernel.validate();
});

test('Bonwick layout colours successive slabs 0, 8, …, 64 and wraps', () => {
  const kernel = boot({ slab: { layout: 'bonwick' } });
  const cache = kernel.createCache('b200', 200, { align: 8, magazineRounds: 1 });
  assert.equal(cache.objs, 20);
  const colours: number[] = [];
  const firsts = new Set<number>();
  for (let i = 0; i < 20 * 11; i++) {
    const addr = cache.alloc() as number;
    const first = kernel.memMap.firstObject[addr >>> 12] as number;
    if (!firsts.has(first)) {
      firsts.add(first);
      colours.push(first % 4096);
    }
  }
  assert.deepEqual(colours, [0, 8, 16, 24, 32, 40, 48, 56, 64, 0, 8]);
  kernel.validate();
});

test('frees of foreign, interior, slack and freed addresses are typed errors that change nothing', () => {
  const kernel = boot();
  const a = kernel.createCache('a64', 64);
  const b = kernel.createCache('b64', 64);
  const x = a.alloc() as number;
  const y = b.alloc() as number;
  const before = JSON.stringify(kernel.slab.stats());
  const check = (fn: () => void, type: new (...args: never[]) => Error, text: RegExp): void => {
    assert.throws(fn, (e: unknown) => e instanceof type && text.test((e as Error).message));
    assert.equal(JSON.stringify(kernel.slab.stats()), before);
    kernel.validate();
  };
  check(() => a.free(y), InvalidFreeError, /belongs to cache 'b64'/);
  check(() => a.free(x + 8), InteriorPointerError, /8 bytes into the object/);
  check(() => a.free(x + 1), InteriorPointerError, /1 bytes into the object/);
  check(() => a.free(4096), InvalidFreeError, /not slab memory/);
  check(() => a.free(-64), InvalidFreeError, /not an address in RAM/);
  check(() => a.free(2 ** 40), InvalidFreeError, /not an address in RAM/);
  check(() => a.free(x + 0.5), InvalidFreeError, /not an address in RAM/);
  a.free(x);
  const after = JSON.stringify(kernel.slab.stats());
  assert.throws(() => a.free(x), SlabDoubleFreeError);
  assert.equal(JSON.stringify(kernel.slab.stats()), after);
  kernel.validate();
});

test('magazines: frees fill the loaded and previous magazines, then the depot; shrink empties them', () => {
  const kernel = boot();
  const cache = kernel.createCache('m32', 32, { magazineRounds: 4 });
  const objs = Array.from({ length: 40 }, () => cache.alloc() as number);
  for (const addr of objs) cache.free(addr);
  let stats = kernel.slab.stats().caches.find((c) => c.name === 'm32')!;
  assert.equal(stats.inUse, 0);
  assert.ok(stats.depot.full >= 1, 'full magazines went to the depot');
  const w = new Int32Array(kernel.buffer);
  const cpuRounds = Math.max(0, w[cache.pcpu + P_ROUNDS] as number) + Math.max(0, w[cache.pcpu + P_PREV_ROUNDS] as number);
  assert.equal(stats.inMagazines, stats.depot.full * 4 + cpuRounds);
  assert.equal(stats.freeInSlabs + stats.inMagazines, stats.totalObjs);
  kernel.validate();
  const pages = cache.shrink();
  assert.ok(pages >= 1, 'empty slabs went back to the page allocator');
  stats = kernel.slab.stats().caches.find((c) => c.name === 'm32')!;
  assert.equal(stats.inMagazines, 0);
  assert.equal(stats.slabs.total, 0);
  kernel.validate();
});

test('destroy reports leaked objects and keeps the cache; a clean destroy frees the name', () => {
  const kernel = boot();
  const cache = kernel.createCache('leaky', 48);
  const a = cache.alloc() as number;
  const b = cache.alloc() as number;
  cache.free(b);
  assert.throws(() => kernel.slab.destroyCache(cache), (e: unknown) => e instanceof CacheBusyError && e.leaked === 1 && e.leakedAddrs[0] === a);
  kernel.validate();
  cache.free(a);
  kernel.slab.destroyCache(cache);
  kernel.validate();
  assert.throws(() => kernel.slab.cache('leaky'), CacheNameError);
  const again = kernel.createCache('leaky', 16);
  assert.ok(again.alloc() !== null);
});

test("kmem's own caches cannot be looked up, and kfree refuses their objects", () => {
  const kernel = boot();
  const cache = kernel.createCache('users', 40);
  const obj = cache.alloc() as number;
  assert.throws(() => kernel.slab.cache('kmem_slab'), CacheNameError);
  assert.throws(() => kernel.slab.cache('kmem_magazine_63'), CacheNameError);
  // Free the object so that this CPU's magazine (an object of kmem_magazine_63) is in use, then try to kfree it.
  cache.free(obj);
  const stats = kernel.slab.stats().caches.find((c) => c.name === 'kmem_magazine_63')!;
  assert.ok(stats.inUse >= 1);
  const before = JSON.stringify(kernel.slab.stats());
  let tried = 0;
  for (let pfn = 0; pfn < kernel.pages.nrPages; pfn++) {
    const owner = kernel.memMap.owner[pfn] as number;
    if (isSlabOwner(owner) && kernel.slab.isInternal(owner & SLAB_INDEX_MASK)) {
      const addr = kernel.memMap.firstObject[pfn] as number;
      assert.throws(() => kernel.kfree(addr), (e: unknown) => e instanceof InvalidFreeError && /kmem's own/.test(e.message));
      tried++;
    }
  }
  assert.ok(tried >= 1, 'a magazine page exists');
  assert.equal(JSON.stringify(kernel.slab.stats()), before);
  kernel.validate();
});

test('cache names and options are checked', () => {
  const kernel = boot();
  kernel.createCache('dup', 8);
  assert.throws(() => kernel.createCache('dup', 8), CacheNameError);
  assert.throws(() => kernel.createCache('', 8), CacheNameError);
  assert.throws(() => kernel.createCache('has space', 8), CacheNameError);
  assert.throws(() => kernel.createCache('x'.repeat(25), 8), CacheNameError);
  assert.throws(() => kernel.createCache('neg', 0), ArgumentError);
  assert.throws(() => kernel.createCache('align', 8, { align: 3 }), ArgumentError);
  assert.throws(() => kernel.createCache('flags', 8, { flags: SlabFlag.NO_MAGAZINE }), ArgumentError);
  kernel.validate();
});

test('a slab falls back to a smaller order when its own will not come', () => {
  const kernel = Kernel.boot({ ramBytes: '4MiB', cpus: 8 });
  const cache = kernel.createCache('big1k', 1000, { magazineRounds: 1 });
  assert.equal(cache.order, 3);
  // Leave no free block above order 1: take every order-1 block, then give one back.
  const held: number[] = [];
  for (;;) {
    const pfn = kernel.pages.allocPages(1, GFP.KERNEL | GFP.NORETRY);
    if (pfn === null) break;
    held.push(pfn);
  }
  kernel.pages.freePages(held.pop() as number, 1);
  const addr = cache.alloc();
  assert.ok(addr !== null);
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'big1k')!.events.orderFallbacks, 1);
  kernel.validate();
  cache.free(addr);
  kernel.validate();
  for (const pfn of held) kernel.pages.freePages(pfn, 1);
});

test('exhaustion: null from tryAlloc, OutOfMemoryError from alloc (NORETRY or not), after the shrinkers ran', () => {
  const kernel = Kernel.boot({ ramBytes: '2MiB' });
  const cache = kernel.createCache('fill', 2000);
  const held: number[] = [];
  for (;;) {
    const addr = cache.tryAlloc();
    if (addr === null) break;
    held.push(addr);
  }
  assert.ok(held.length > 100);
  let runs = kernel.shrinkers.runs;
  assert.throws(() => cache.alloc(GFP.NORETRY), OutOfMemoryError);
  assert.equal(kernel.shrinkers.runs, runs, 'NORETRY: no shrinkers');
  assert.equal(kernel.tryKmalloc(1500), null);
  assert.throws(() => kernel.kmalloc(1500, GFP.NORETRY), OutOfMemoryError);
  assert.throws(() => kernel.kmalloc(40_000, GFP.NORETRY), OutOfMemoryError);
  assert.equal(kernel.tryKmalloc(40_000), null);
  runs = kernel.shrinkers.runs;
  assert.throws(() => cache.alloc(), OutOfMemoryError);
  assert.ok(kernel.shrinkers.runs > runs, 'the shrinkers ran before the error');
  kernel.validate();
  for (const addr of held) cache.free(addr);
  kernel.validate();
});

test('shrink() returns the pages it gave back to the page allocator, for a cache and for the allocator', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const cache = kernel.createCache('shrinkme', 200);
  const objects = Array.from({ length: 20_000 }, () => cache.alloc());
  for (const addr of objects) cache.free(addr);
  let before = kernel.pages.stats().freePages;
  const pages = cache.shrink();
  assert.ok(pages > 100, `pages ${pages}`);
  assert.equal(kernel.pages.stats().freePages - before, pages);
  const km = Array.from({ length: 5000 }, (_, i) => kernel.kmalloc(64 + (i % 300)));
  for (const addr of km) kernel.kfree(addr);
  before = kernel.pages.stats().freePages;
  const all = kernel.slab.shrink();
  assert.ok(all > 0);
  assert.equal(kernel.pages.stats().freePages - before, all);
  kernel.validate();
});

test('README typing: alloc() and kmalloc() are numbers on the common path (strict tsc checks this file)', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const tasks = kernel.createCache('task_struct', 1664, { align: 64 });
  const task: number = tasks.alloc();
  kernel.ram.bytes[task] = 1;
  tasks.free(task);
  const buf: number = kernel.kmalloc(100);
  assert.equal(kernel.ksize(buf), 128);
  const zeroed: number = kernel.kzalloc(40);
  const maybe: number | null = kernel.tryKmalloc(100);
  kernel.kfree(buf);
  kernel.kfree(zeroed);
  kernel.kfree(maybe ?? 0);
});

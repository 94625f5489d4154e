/**
 * Seeded fuzzing of the slab allocator (caches and kmalloc) against a shadow model, checked after
 * every operation.
 *
 * Shadow: owner[granule] = id of the live object covering each 8-byte granule of RAM. After every
 * alloc the object is aligned, inside RAM, inside a page its cache owns, and overlaps no live
 * object; its first word gets a stamp. Before every free the stamp must still be there. Misuse is
 * mixed in: double frees, interior pointers, another cache's objects, garbage addresses; each must
 * raise its typed error and change no figure of stats(). validate() runs periodically and at the
 * end; after freeing everything and shrinking every cache, the page allocator's free lists are back
 * to their state before the first allocation.
 */
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { SlabFlag } from '../../src/mm/slab/layout.ts';
import type { KmemCache } from '../../src/mm/slab/cache.ts';
import { InteriorPointerError, InvalidFreeError, SlabDoubleFreeError } from '../../src/mm/slab/errors.ts';
import { isSlabOwner } from '../../src/mm/slab/types.ts';
import { Prng } from '../../src/util/prng.ts';

export interface SlabFuzzOptions {
  seed: number;
  ops: number;
  validateEvery?: number;
  layout?: 'slub' | 'bonwick';
}

export interface SlabFuzzReport {
  ops: number;
  allocs: number;
  frees: number;
  reallocs: number;
  misuses: number;
  failures: number;
  peakLive: number;
}

interface Live {
  addr: number;
  size: number;
  cache: KmemCache | null;
  id: number;
}

export function fuzzSlab(options: SlabFuzzOptions): SlabFuzzReport {
  const kernel = Kernel.boot({ ramBytes: '12MiB', cpus: 2, slab: { layout: options.layout ?? 'slub' } });
  const bytes = kernel.ram.bytes;
  const w32 = new Int32Array(kernel.buffer);
  const prng = new Prng(options.seed);
  const validateEvery = options.validateEvery ?? 50_000;
  const bootFree = kernel.pages.stats().zones.map((z) => z.freeBlocks.join(','));
  let ctorRuns = 0;
  const caches: KmemCache[] = [
    kernel.createCache('fuzz24', 24),
    kernel.createCache('fuzz200c', 200, { ctor: () => ctorRuns++, align: 8 }),
    kernel.createCache('fuzz1000', 1000, { flags: SlabFlag.HWCACHE_ALIGN }),
    kernel.createCache('fuzz-debug', 72, { flags: SlabFlag.RED_ZONE | SlabFlag.POISON }),
  ];
  const owner = new Int32Array(kernel.ram.sizeBytes / 8);
  const live: Live[] = [];
  const liveStarts = new Set<number>();
  let nextId = 1;
  let recentlyFreed: Live | null = null;
  const report: SlabFuzzReport = { ops: 0, allocs: 0, frees: 0, reallocs: 0, misuses: 0, failures: 0, peakLive: 0 };

  const claim = (obj: Live): void => {
    assert.ok(obj.addr > 0 && obj.addr + obj.size <= kernel.ram.sizeBytes, `object 0x${obj.addr.toString(16)} outside RAM`);
    for (let g = obj.addr >>> 3; g < (obj.addr + obj.size + 7) >>> 3; g++) {
      if (owner[g] !== 0) assert.fail(`object 0x${obj.addr.toString(16)} (${obj.size} B) overlaps live object ${owner[g]}`);
      owner[g] = obj.id;
    }
    if (obj.size >= 4) w32[obj.addr >>> 2] = obj.id;
    liveStarts.add(obj.addr);
  };
  const release = (obj: Live): void => {
    if (obj.size >= 4 && w32[obj.addr >>> 2] !== obj.id) assert.fail(`stamp of object 0x${obj.addr.toString(16)} overwritten while live`);
    for (let g = obj.addr >>> 3; g < (obj.addr + obj.size + 7) >>> 3; g++) owner[g] = 0;
    liveStarts.delete(obj.addr);
  };

  const doAlloc = (): void => {
    const useCache = prng.chance(0.5);
    const gfp = prng.chance(0.9) ? GFP.NORETRY : GFP.KERNEL;
    let addr: number | null;
    let size: number;
    let cache: KmemCache | null = null;
    if (useCache) {
      cache = caches[prng.int(caches.length)] as KmemCache;
      size = cache.objectSize;
      try {
        addr = gfp === GFP.NORETRY ? cache.tryAlloc() : cache.alloc(gfp);
      } catch (error) {
        assert.ok(gfp === GFP.KERNEL && (error as Error).name === 'OutOfMemoryError', String(error));
        addr = null;
      }
      if (addr !== null) {
        assert.equal(addr % cache.align, 0, `${cache.name} object misaligned`);
        assert.equal(kernel.memMap.owner[addr >>> 12]! & ~0x8000, cache.tag, 'object outside its cache');
      }
    } else {
      size = prng.chance(0.97) ? prng.range(1, 2048) : prng.range(2049, 40000);
      try {
        const zero = prng.chance(0.1) ? GFP.ZERO : 0;
        addr = gfp === GFP.NORETRY ? kernel.tryKmalloc(size, zero) : kernel.kmalloc(size, zero);
      } catch (error) {
        assert.ok(gfp === GFP.KERNEL && (error as Error).name === 'OutOfMemoryError', String(error));
        addr = null;
      }
      if (addr !== null) assert.ok(kernel.ksize(addr) >= size, 'ksize smaller than asked');
    }
    if (addr === null) {
      report.failures++;
      return;
    }
    const obj: Live = { addr, size, cache, id: nextId++ };
    claim(obj);
    live.push(obj);
    report.allocs++;
    report.peakLive = Math.max(report.peakLive, live.length);
  };

  const takeRandomLive = (): Live => {
    const index = prng.int(live.length);
    const obj = live[index] as Live;
    live[index] = live[live.length - 1] as Live;
    live.pop();
    return obj;
  };

  const doFree = (): void => {
    const obj = takeRandomLive();
    release(obj);
    if (obj.cache !== null) obj.cache.free(obj.addr);
    else if (prng.chance(0.1)) kernel.kfreeSensitive(obj.addr);
    else kernel.kfree(obj.addr);
    recentlyFreed = obj;
    report.frees++;
  };

  const doRealloc = (): void => {
    const index = live.findIndex((o) => o.cache === null);
    if (index < 0) return;
    const obj = live[index] as Live;
    const size = prng.range(1, 3000);
    const keep = Math.min(obj.size, size);
    const before = bytes.slice(obj.addr + 4, obj.addr + Math.max(4, keep));
    release(obj);
    let next: number;
    try {
      next = kernel.krealloc(obj.addr, size, GFP.NORETRY);
    } catch (error) {
      assert.equal((error as Error).name, 'OutOfMemoryError', String(error));
      claim(obj); // the old object is untouched
      return;
    }
    assert.deepEqual(bytes.subarray(next + 4, next + Math.max(4, keep)), before, 'krealloc lost bytes');
    const moved: Live = { addr: next, size, cache: null, id: obj.id };
    claim(moved);
    live[index] = moved;
    report.reallocs++;
  };

  const expectError = (fn: () => void, ...types: (new (...args: never[]) => Error)[]): void => {
    const before = JSON.stringify(kernel.slab.stats());
    assert.throws(fn, (e: unknown) => types.some((type) => e instanceof type), `expected ${types.map((t) => t.name).join(' or ')}`);
    assert.equal(JSON.stringify(kernel.slab.stats()), before, 'a failed call changed the slab');
    report.misuses++;
  };

  const doMisuse = (): void => {
    const kind = prng.int(4);
    const target = live.length > 0 ? (live[prng.int(live.length)] as Live) : null;
    const freed = recentlyFreed;
    if (kind === 0 && freed !== null && !liveStarts.has(freed.addr) && isSlabOwner(kernel.memMap.owner[freed.addr >>> 12] ?? 0)) {
      // Free it again, the way it was freed.
      expectError(() => (freed.cache === null ? kernel.kfree(freed.addr) : freed.cache.free(freed.addr)), SlabDoubleFreeError);
    } else if (kind === 1 && target !== null && target.size > 8) {
      expectError(() => kernel.kfree(target.addr + 8 * prng.range(1, Math.floor((target.size - 1) / 8))), InteriorPointerError);
    } else if (kind === 2 && target !== null && target.cache !== null) {
      const other = caches[(caches.indexOf(target.cache) + 1) % caches.length] as KmemCache;
      expectError(() => other.free(target.addr), InvalidFreeError);
    } else if (kind === 3) {
      // A random address that is no live object's start: free memory, a free object, inside one, a reserved page.
      const addr = 8 * prng.int(kernel.ram.sizeBytes / 8);
      if (!liveStarts.has(addr)) expectError(() => kernel.kfree(addr === 0 ? 8 : addr), InvalidFreeError, SlabDoubleFreeError, InteriorPointerError);
    }
  };

  for (let op = 0; op < options.ops; op++) {
    const r = prng.nextFloat();
    const pressure = live.length / 20_000;
    if (r < 0.005) doMisuse();
    else if (r < 0.01) doRealloc();
    else if (live.length > 0 && r < 0.35 + pressure * 0.3) doFree();
    else doAlloc();
    if ((op + 1) % validateEvery === 0) kernel.validate();
    report.ops++;
  }
  kernel.validate();
  while (live.length > 0) doFree();
  kernel.validate();
  assert.ok(ctorRuns > 0);
  for (const stats of kernel.slab.stats().caches) {
    if (!stats.name.startsWith('kmem_')) assert.equal(stats.inUse, 0, `${stats.name} still has objects in use`);
  }
  kernel.slab.shrink();
  kernel.validate();
  for (const stats of kernel.slab.stats().caches) {
    assert.equal(stats.slabs.total, 0, `${stats.name} still has slabs after shrinking`);
  }
  assert.deepEqual(
    kernel.pages.stats().zones.map((z) => z.freeBlocks.join(',')),
    bootFree,
    'after freeing everything and shrinking, the page allocator is back to its boot state',
  );
  return report;
}

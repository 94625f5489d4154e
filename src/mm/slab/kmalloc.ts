/**
 * kmalloc (include/linux/slab.h, mm/slab_common.c): general-purpose allocation from size-class
 * caches, and from the page allocator beyond them.
 *
 *   size classes   kmalloc-8, 16, 32, 64, 96, 128, 192, 256, 512, 1k, 2k, 4k, 8k
 *                  (KMALLOC_SHIFT_LOW 3 .. KMALLOC_SHIFT_HIGH 13, plus 96 and 192)
 *   size → class   ≤ 192 bytes by the kernel's kmalloc_size_index[] table, above by fls(size − 1)
 *   > 8 KiB        KMALLOC_MAX_CACHE_SIZE: a compound page of order get_order(size), not in slabinfo
 *   0 bytes        ZERO_SIZE_PTR (16): not null, but nothing may be read or written there
 *   GFP.DMA        dma-kmalloc-N caches; GFP.RECLAIMABLE: kmalloc-rcl-N (kmalloc_type()),
 *                  both created the first time they are asked for
 *
 * ksize() is what the slot really offers (slab_ksize(): the whole slot without debugging, the
 * object size with red zones or poison; 4 KiB · 2^order for a large block); krealloc() keeps the
 * address while the new size fits; kfreeSensitive() zeroes ksize() bytes before freeing.
 */
import { ArgumentError } from '../../util/errors.ts';
import { GFP, GFP_VALID_MASK } from '../gfp.ts';
import { MAX_PAGE_ORDER, PAGE_SHIFT, PAGE_SIZE, PageFlag } from '../types.ts';
import type { KmemCache } from './cache.ts';
import { ROW_WORDS } from './cpu-slab.ts';
import type { CpuSlab, KmallocClasses } from './cpu-slab.ts';
import { InteriorPointerError, InvalidFreeError, InvalidPointerError } from './errors.ts';
import { SlabFlag, getOrder } from './layout.ts';
import type { SlabAllocator } from './allocator.ts';
import { GFP_MAY_FAIL, KMALLOC_LARGE_OWNER, SLAB_INDEX_MASK, SLAB_OWNER_BASE, SLAB_OWNER_FALLBACK, ZERO_SIZE_PTR, isSlabOwner } from './types.ts';

export const KMALLOC_MAX_CACHE_SIZE = 8192;
export const KMALLOC_MAX_SIZE = PAGE_SIZE << MAX_PAGE_ORDER;

/** kmalloc_info[]: size-class sizes and names by index (index 0 unused). */
const KMALLOC_INFO: readonly [number, string][] = [
  [0, ''],
  [96, '96'],
  [192, '192'],
  [8, '8'],
  [16, '16'],
  [32, '32'],
  [64, '64'],
  [128, '128'],
  [256, '256'],
  [512, '512'],
  [1024, '1k'],
  [2048, '2k'],
  [4096, '4k'],
  [8192, '8k'],
];

/** kmalloc_size_index[]: the class index of sizes 1..192, by (size − 1) / 8. */
const KMALLOC_SIZE_INDEX: readonly number[] = [3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2];

/** The kmalloc class index for `size` (1..8192), as kmalloc_slab(). */
export function kmallocIndex(size: number): number {
  if (size <= 192) return KMALLOC_SIZE_INDEX[(size - 1) >> 3] as number;
  return 32 - Math.clz32(size - 1);
}

/** The object size of the kmalloc class serving `size` (1..8192): what ksize() reports for it. */
export function kmallocClassBytes(size: number): number {
  return (KMALLOC_INFO[kmallocIndex(size)] as [number, string])[0];
}

type KmallocType = 'normal' | 'dma' | 'rcl';
const TYPE_PREFIX: Record<KmallocType, string> = { normal: 'kmalloc-', dma: 'dma-kmalloc-', rcl: 'kmalloc-rcl-' };
const TYPE_FLAGS: Record<KmallocType, number> = { normal: 0, dma: SlabFlag.CACHE_DMA, rcl: SlabFlag.RECLAIM_ACCOUNT };

/** GFP bits as module-local constants: V8 folds these in the hot paths, not imported bindings. */
const GFP_ZERO = GFP.ZERO;
const GFP_TYPE_MASK = GFP.DMA | GFP.RECLAIMABLE;
const PAGE_SHIFT_LOCAL = PAGE_SHIFT;
const SLAB_OWNER_HIGH = SLAB_OWNER_BASE >>> 20;
const SLOT_MASK = SLAB_INDEX_MASK;
const TAG_MASK = ~SLAB_OWNER_FALLBACK;

/** Class index of every size 0..KMALLOC_MAX_CACHE_SIZE (0 for size 0), for the fast path. */
export const KMALLOC_CLASSES: KmallocClasses = {
  classOf: Uint8Array.from({ length: KMALLOC_MAX_CACHE_SIZE + 1 }, (_, size) => (size === 0 ? 0 : kmallocIndex(size))),
  classes: KMALLOC_INFO.length,
};

/**
 * A sampling allocator in front of kmalloc's slow path (mm/secret/kfence.ts installs one): `alloc`
 * answers null for every allocation it does not sample; `owns` tells its addresses apart.
 */
export interface KmallocSampler {
  alloc(size: number): number | null;
  owns(addr: number): boolean;
  free(addr: number): void;
  ksize(addr: number): number;
}

export class Kmalloc {
  /** KFENCE's hook: asked on the slow path only (see docs/secrets.md), null when off. */
  sampler: KmallocSampler | null = null;
  /** Caches by class index, per type; created on first use in this worker. */
  private readonly caches: Record<KmallocType, (KmemCache | undefined)[]> = { normal: [], dma: [], rcl: [] };
  /** Every cache this worker has touched, by table slot, for kfree. */
  private readonly bySlot: (KmemCache | undefined)[];
  private readonly classOf = KMALLOC_CLASSES.classOf;
  private readonly owner: Uint32Array;
  /** This worker's fast paths (cpu-slab.ts). */
  private readonly cpu: CpuSlab;

  constructor(private readonly slab: SlabAllocator) {
    this.cpu = slab.cpuSlab;
    this.owner = slab.memMap.owner;
    this.bySlot = new Array<KmemCache | undefined>(slab.maxCaches).fill(undefined);
  }

  /** Boot: the kmalloc-* caches in create_kmalloc_caches() order (96 after 64, 192 after 128). */
  createBootCaches(): void {
    for (const index of [3, 4, 5, 6, 1, 7, 2, 8, 9, 10, 11, 12, 13]) this.cacheFor('normal', index);
  }

  /** kmalloc(): an object of at least `size` bytes; OutOfMemoryError on exhaustion (tryKmalloc: null). */
  kmalloc(size: number, gfp?: number): number {
    // Fast path: a plain request (GFP.KERNEL) popped straight off its class's magazine. Kept this
    // small on purpose: its bytecode counts against V8's inlining budget of the caller's loop
    // (cpu-slab.ts, ROW_FIELDS).
    if (!gfp) {
      const addr = this.cpu.kmalloc(size);
      if (addr !== 0) return addr;
    }
    return this.kmallocMustSucceed(size, gfp);
  }

  /** The slow path of kmalloc(): without GFP_MAY_FAIL it returns an address or throws. */
  private kmallocMustSucceed(size: number, gfp: number | undefined): number {
    return this.kmallocSlow(size, (gfp ?? 0) & ~GFP_MAY_FAIL) as number;
  }

  /** kmalloc() with GFP.NORETRY: null at once when memory is exhausted. */
  tryKmalloc(size: number, gfp?: number): number | null {
    return this.kmallocSlow(size, (gfp ?? 0) | GFP.NORETRY | GFP_MAY_FAIL);
  }

  private kmallocSlow(size: number, flags: number): number | null {
    if (this.sampler !== null && size > 0 && size <= PAGE_SIZE) {
      const sampled = this.sampler.alloc(size);
      if (sampled !== null) {
        if ((flags & GFP_ZERO) !== 0) this.slab.ram.bytes.fill(0, sampled, sampled + size);
        return sampled;
      }
    }
    if (!(size > 0 && size <= KMALLOC_MAX_CACHE_SIZE && (size | 0) === size)) return size === 0 ? ZERO_SIZE_PTR : this.kmallocLarge(size, flags);
    const index = this.classOf[size] as number;
    const cache = (flags & GFP_TYPE_MASK) === 0 ? (this.caches.normal[index] ?? this.cacheFor('normal', index)) : this.typedCache(flags, index);
    const addr = (flags & GFP_MAY_FAIL) !== 0 ? cache.tryAlloc(flags) : cache.alloc(flags);
    if (addr !== null && (flags & GFP_ZERO) !== 0) this.slab.ram.bytes.fill(0, addr, addr + cache.objectSize);
    return addr;
  }

  /** kzalloc(): kmalloc with GFP.ZERO. */
  kzalloc(size: number, gfp?: number): number {
    return this.kmalloc(size, (gfp ?? 0) | GFP_ZERO);
  }

  /** kfree(): frees what kmalloc (or any cache) returned; 0 and ZERO_SIZE_PTR are ignored. */
  kfree(addr: number): void {
    if (!this.cpu.freeAny(addr)) this.kfreeSlow(addr);
  }

  private kfreeSlow(addr: number): void {
    const owner = this.owner[addr >>> PAGE_SHIFT_LOCAL];
    if (owner !== undefined && owner >>> 20 === SLAB_OWNER_HIGH && addr === addr >>> 0) {
      this.cacheOf(owner, addr, 'free').freeChecked(addr);
      return;
    }
    if (addr === 0 || addr === ZERO_SIZE_PTR) return;
    if (this.sampler?.owns(addr) === true) {
      this.sampler.free(addr);
      return;
    }
    const { pfn, order } = this.largeBlock(addr, 'free');
    this.slab.pages.freePages(pfn, order, KMALLOC_LARGE_OWNER);
  }

  /** ksize(): the bytes usable at `addr`. */
  ksize(addr: number): number {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return 0;
    const owner = this.owner[addr >>> PAGE_SHIFT_LOCAL];
    if (owner !== undefined && isSlabOwner(owner)) {
      const cache = this.cacheOf(owner, addr, 'ksize');
      this.checkObjectStart(cache, addr);
      if (cache.debug) return cache.objectSize;
      return cache.freeOffset >= cache.objectSize ? cache.freeOffset : cache.size;
    }
    if (this.sampler?.owns(addr) === true) return this.sampler.ksize(addr);
    return PAGE_SIZE << this.largeBlock(addr, 'ksize').order;
  }

  /** krealloc(): `addr` itself while `size` fits in ksize(), else a new object holding the old bytes. */
  krealloc(addr: number, size: number, gfp?: number): number {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return this.kmalloc(size, gfp);
    const old = this.ksize(addr);
    if (size === 0) {
      this.kfree(addr);
      return ZERO_SIZE_PTR;
    }
    if (size <= old) return addr;
    const next = this.kmalloc(size, gfp);
    this.slab.ram.bytes.copyWithin(next, addr, addr + old);
    this.kfree(addr);
    return next;
  }

  /** kfree_sensitive(): zeroes the whole ksize() area, then frees. */
  kfreeSensitive(addr: number): void {
    const size = this.ksize(addr);
    if (size > 0) this.slab.ram.bytes.fill(0, addr, addr + size);
    this.kfree(addr);
  }

  /** The handle of the cache whose owner tag is `owner` (this worker's, made or refreshed on a miss). */
  private cacheOf(owner: number, addr: number, op: 'free' | 'ksize'): KmemCache {
    const slot = owner & SLOT_MASK;
    const cache = this.bySlot[slot];
    return cache !== undefined && cache.tag === (owner & TAG_MASK) ? cache : this.slotCache(slot, addr, op);
  }

  /** This worker's handle on the cache in table slot `slot`; kmem's own caches are refused. */
  private slotCache(slot: number, addr: number, op: 'free' | 'ksize'): KmemCache {
    if (this.slab.isInternal(slot)) {
      const Err = op === 'free' ? InvalidFreeError : InvalidPointerError;
      throw new Err(addr, 'kmalloc', `${this.slab.describeAddress(addr)}, one of kmem's own caches; nothing there was handed out by kmalloc`);
    }
    const cache = this.slab.wrap(slot);
    this.bySlot[slot] = cache;
    return cache;
  }

  /** The DMA or reclaimable cache of class `index`. */
  private typedCache(gfp: number, index: number): KmemCache {
    const type: KmallocType = (gfp & GFP.DMA) !== 0 ? 'dma' : 'rcl';
    return this.caches[type][index] ?? this.cacheFor(type, index);
  }

  /** The cache of class `index` and `type`, created under its Linux name the first time. */
  private cacheFor(type: KmallocType, index: number): KmemCache {
    const info = KMALLOC_INFO[index];
    if (info === undefined || info[0] === 0) throw new ArgumentError(`kmalloc class ${index} does not exist`);
    const cache = this.slab.kmallocCache(`${TYPE_PREFIX[type]}${info[1]}`, info[0], SlabFlag.KMALLOC | TYPE_FLAGS[type]);
    this.caches[type][index] = cache;
    if (type === 'normal') this.cpu.setKmallocRow(index, cache.index * ROW_WORDS);
    return cache;
  }

  private kmallocLarge(size: number, gfp: number): number | null {
    if (!Number.isSafeInteger(size) || size < 0) throw new ArgumentError(`kmalloc size ${size}: expected a whole number of bytes`);
    if (size > KMALLOC_MAX_SIZE) throw new ArgumentError(`kmalloc size ${size}: larger than KMALLOC_MAX_SIZE (${KMALLOC_MAX_SIZE} bytes)`);
    const order = getOrder(size);
    const flags = (gfp & GFP_VALID_MASK) | GFP.COMP;
    // tryKmalloc (GFP_MAY_FAIL) asks the page allocator for null on failure; kmalloc lets it throw.
    if ((gfp & GFP_MAY_FAIL) === 0) return this.slab.pages.allocPages(order, flags, KMALLOC_LARGE_OWNER) * PAGE_SIZE;
    const pfn = this.slab.pages.tryAllocPages(order, flags, KMALLOC_LARGE_OWNER);
    return pfn === null ? null : pfn * PAGE_SIZE;
  }

  /** The large kmalloc block at `addr`, or a typed error explaining why it is not one. */
  private largeBlock(addr: number, op: 'free' | 'ksize'): { pfn: number; order: number } {
    const Err = op === 'free' ? InvalidFreeError : InvalidPointerError;
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.slab.ram.sizeBytes) throw new Err(addr, 'kmalloc', this.slab.describeAddress(addr));
    const mm = this.slab.memMap;
    let pfn = addr >>> PAGE_SHIFT;
    if (((mm.flags[pfn] as number) & PageFlag.Tail) !== 0) pfn = mm.head[pfn] as number;
    if (mm.owner[pfn] !== KMALLOC_LARGE_OWNER || ((mm.flags[pfn] as number) & PageFlag.Allocated) === 0) {
      throw new Err(addr, 'kmalloc', this.slab.describeAddress(addr));
    }
    if (addr !== pfn * PAGE_SIZE) throw new InteriorPointerError(addr, 'kmalloc', pfn * PAGE_SIZE);
    return { pfn, order: mm.order[pfn] as number };
  }

  private checkObjectStart(cache: KmemCache, addr: number): void {
    const error = cache.objectStartError(addr);
    if (error !== null) throw error;
    if (cache.isFree(addr)) throw new InvalidPointerError(addr, cache.name, 'the object is free');
  }
}

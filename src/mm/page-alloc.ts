/**
 * The buddy page allocator (Linux mm/page_alloc.c): blocks of 2^order pages, order 0..10, on free
 * lists per zone, order and migratetype, linked through struct page in the arena.
 *
 * Fast path (this file): pick the zones the GFP flags allow, highest first; under the zone lock
 * take the smallest free block of the wanted migratetype that is large enough and split it
 * (__rmqueue_smallest + expand). Freeing merges the block with its buddy, pfn ^ 2^order, while the
 * buddy is free and of the same order (__free_one_page), and puts the result at the tail of its list
 * when a further merge looks likely (buddy_merge_likely), at the head otherwise.
 *
 * Slow path (page-alloc-fallback.ts): no block of the wanted migratetype, so steal from another
 * type's list and perhaps claim the whole pageblock. Then the shrinkers, then failure.
 *
 * Locking: each zone has a lock word in its descriptor; every free-list change and every check of
 * a block's state happens under it, so workers sharing one arena never see a half-made change.
 * Zero-filling happens after the lock is dropped.
 *
 * Invariants: see types.ts; PageAllocator.validate() (page-alloc-validate.ts) checks all of them.
 */
import type { Ram } from '../machine/ram.ts';
import { PAGE_SIZE } from '../machine/ram.ts';
import { assert } from '../util/assert.ts';
import { H } from './arena-header.ts';
import type { ArenaHeader } from './arena-header.ts';
import {
  DoubleFreeError,
  NotAllocatedError,
  OrderError,
  OutOfMemoryError,
  PfnRangeError,
  ReservedPageError,
  WrongOrderError,
} from './errors.ts';
import { GFP, GFP_VALID_MASK, checkGfp, gfpMigratetype } from './gfp.ts';
import type { MemMap } from './mem-map.ts';
import type { Memblock } from './memblock.ts';
import { rmqueueFallback } from './page-alloc-fallback.ts';
import { validatePageAllocator } from './page-alloc-validate.ts';
import type { ShrinkerRegistry } from './shrinker.ts';
import {
  DMA_ZONE_BYTES,
  LOWMEM_RESERVE_RATIO_DMA,
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_PCPTYPES,
  MigrateType,
  NO_PFN,
  PAGEBLOCK_ORDER,
  PAGE_FLAG_MT_SHIFT,
  PageFlag,
  ZoneId,
} from './types.ts';
import { pageAllocStats } from './vmstat.ts';
import type { PageAllocStats } from './vmstat.ts';
import { ZONE_STATS, ZONE_WORDS, Z, Zone, ZoneStat } from './zone.ts';

const DMA_ZONE_PAGES = DMA_ZONE_BYTES / PAGE_SIZE;

export interface PageAllocatorConfig {
  /** Group pageblocks by migratetype (Linux's default); off is `page_group_by_mobility_disabled`. */
  readonly groupByMobility: boolean;
  /** At most this many pages in use at once; 0 for no limit. */
  readonly pageLimit: number;
}

/** What a failed allocation ran into (for the OutOfMemoryError and for scenarios). */
export type AllocFailure = 'exhausted' | 'limit';

export class PageAllocator {
  readonly nrPages: number;
  /** Present zones, indexed by ZoneId (DMA is always present; Normal when RAM > 16 MiB). */
  readonly zones: readonly Zone[];
  readonly groupByMobility: boolean;
  readonly pageLimit: number;
  /** The migratetype of each pageblock (Linux's pageblock_flags). */
  readonly pageblockMt: Uint8Array;
  lastFailure: AllocFailure | null = null;
  private readonly flags: Uint32Array;
  private readonly order: Uint8Array;

  private constructor(
    readonly ram: Ram,
    readonly header: ArenaHeader,
    readonly memMap: MemMap,
    readonly shrinkers: ShrinkerRegistry,
  ) {
    this.nrPages = ram.nrPages;
    this.flags = memMap.flags;
    this.order = memMap.order;
    const zoneWords = ram.i32(header.requireRegion('zones').paddr, MAX_NR_ZONES * ZONE_WORDS);
    const zoneStats = ram.f64(header.requireRegion('zones.vmstat').paddr, MAX_NR_ZONES * ZONE_STATS);
    const zones: Zone[] = [];
    for (let id = 0; id < nrZones(this.nrPages); id++) {
      zones.push(
        new Zone(
          id,
          zoneWords.subarray(id * ZONE_WORDS, (id + 1) * ZONE_WORDS),
          zoneStats.subarray(id * ZONE_STATS, (id + 1) * ZONE_STATS),
          memMap,
        ),
      );
    }
    this.zones = zones;
    this.pageblockMt = ram.u8(header.requireRegion('pageblock_flags').paddr, nrPageblocks(this.nrPages));
    this.groupByMobility = (header.get(H.BOOT_FLAGS) & 1) !== 0;
    this.pageLimit = header.get(H.PAGE_LIMIT);
  }

  /** Boot, before any frame is free: carves the zone descriptors and the pageblock flags. */
  static reserve(ram: Ram, memblock: Memblock): void {
    memblock.alloc('zones', MAX_NR_ZONES * ZONE_WORDS * 4);
    memblock.alloc('zones.vmstat', MAX_NR_ZONES * ZONE_STATS * 8);
    memblock.alloc('pageblock_flags', nrPageblocks(ram.nrPages));
  }

  /**
   * Boot, after every reservation: lays out the zones, marks reserved frames, and frees every other
   * frame into the buddy lists (memblock_free_all), each pageblock starting Movable as in Linux.
   */
  static init(ram: Ram, header: ArenaHeader, memMap: MemMap, shrinkers: ShrinkerRegistry, firstReservedPfn: number): PageAllocator {
    const n = ram.nrPages;
    const zoneWords = ram.i32(header.requireRegion('zones').paddr, MAX_NR_ZONES * ZONE_WORDS);
    for (let id = 0; id < nrZones(n); id++) {
      const start = id === ZoneId.DMA ? 0 : DMA_ZONE_PAGES;
      const end = id === ZoneId.DMA ? Math.min(n, DMA_ZONE_PAGES) : n;
      const w = zoneWords.subarray(id * ZONE_WORDS, (id + 1) * ZONE_WORDS);
      w.fill(0);
      w[Z.START_PFN] = start;
      w[Z.SPANNED] = end - start;
      for (let i = Z.LISTS; i < ZONE_WORDS; i += 3) {
        w[i] = NO_PFN;
        w[i + 1] = NO_PFN;
        w[i + 2] = 0;
      }
    }
    memMap.next.fill(NO_PFN);
    memMap.prev.fill(NO_PFN);
    memMap.head.fill(NO_PFN);
    const reserve = (pfn: number): void => {
      memMap.flags[pfn] = PageFlag.Reserved;
      memMap.refcount[pfn] = 1;
    };
    reserve(0);
    for (let pfn = firstReservedPfn; pfn < n; pfn++) reserve(pfn);

    const pa = new PageAllocator(ram, header, memMap, shrinkers);
    pa.pageblockMt.fill(MigrateType.Movable);
    for (const zone of pa.zones) {
      let reserved = 0;
      for (let pfn = zone.startPfn; pfn < zone.endPfn; pfn++) if ((memMap.flags[pfn] as number) & PageFlag.Reserved) reserved++;
      zone.words[Z.MANAGED] = zone.spannedPages - reserved;
      // Free the unreserved range of the zone in the largest aligned blocks that fit.
      let pfn = Math.max(zone.startPfn, 1);
      const end = Math.min(zone.endPfn, firstReservedPfn);
      while (pfn < end) {
        let order = MAX_PAGE_ORDER;
        while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) order--;
        pa.freeOneBlock(zone, pfn, order);
        pfn += 1 << order;
      }
    }
    const normal = pa.zones[ZoneId.Normal];
    const dma = pa.zones[ZoneId.DMA];
    if (normal !== undefined && dma !== undefined) {
      dma.words[Z.LOWMEM_RESERVE] = Math.floor(normal.managedPages / LOWMEM_RESERVE_RATIO_DMA);
    }
    return pa;
  }

  /** Rebuilds the wrapper over an arena booted elsewhere. Writes nothing. */
  static attach(ram: Ram, header: ArenaHeader, memMap: MemMap, shrinkers: ShrinkerRegistry): PageAllocator {
    return new PageAllocator(ram, header, memMap, shrinkers);
  }

  /**
   * Allocates 2^order contiguous frames and returns the first pfn. On failure: null with
   * GFP.NORETRY; otherwise the shrinkers run, the allocation is retried once, and if it still fails
   * an OutOfMemoryError is raised. `owner` is an opaque tag stored with the block.
   */
  allocPages(order: number, gfp: number = GFP.KERNEL, owner = 0): number | null {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    if ((gfp & ~GFP_VALID_MASK) !== 0 || (gfp | 0) !== gfp || (gfp & (GFP.MOVABLE | GFP.RECLAIMABLE)) === (GFP.MOVABLE | GFP.RECLAIMABLE)) {
      checkGfp(gfp);
    }
    const mt = gfpMigratetype(gfp, this.groupByMobility);
    let pfn = this.tryAlloc(order, gfp, mt);
    if (pfn === NO_PFN && (gfp & GFP.NORETRY) === 0 && this.shrinkers.shrinkAll() > 0) {
      pfn = this.tryAlloc(order, gfp, mt);
    }
    if (pfn === NO_PFN) return this.allocFailed(order, gfp);
    this.prepNewPage(pfn, order, gfp, owner);
    return pfn;
  }

  /** Frees a block that allocPages returned, with the order it was allocated with. */
  freePages(pfn: number, order: number): void {
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    try {
      const flags = this.flags[pfn] as number;
      if ((flags & PageFlag.Allocated) === 0 || (this.order[pfn] as number) !== order) this.diagnoseBadFree(pfn, order);
      if ((flags & PageFlag.Head) !== 0) this.clearCompound(pfn, order);
      this.flags[pfn] = (flags & ~(PageFlag.Allocated | PageFlag.Head | (0x7 << PAGE_FLAG_MT_SHIFT))) | PageFlag.Freed;
      this.memMap.refcount[pfn] = 0;
      this.memMap.owner[pfn] = 0;
      zone.count(ZoneStat.freeBlocks);
      zone.count(ZoneStat.freePages, 1 << order);
      this.freeOneBlock(zone, pfn, order);
    } finally {
      zone.lock.release();
    }
    if (this.pageLimit > 0) Atomics.sub(this.header.words, H.PAGES_LIMITED, 1 << order);
  }

  /**
   * __isolate_free_page() for compaction's free scanner: takes the free block that `pfn` heads off
   * its free list and hands it out as an allocated movable block of its order (owner `owner`).
   * Returns the order, or −1 when pfn heads no free block.
   */
  isolateFreeBlock(pfn: number, owner: number): number {
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    let order: number;
    try {
      if (((this.flags[pfn] as number) & PageFlag.Buddy) === 0) return -1;
      order = this.order[pfn] as number;
      zone.delFree(pfn, order, this.pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number);
      zone.count(ZoneStat.allocBlocks);
      zone.count(ZoneStat.allocPages, 1 << order);
    } finally {
      zone.lock.release();
    }
    if (this.pageLimit > 0) Atomics.add(this.header.words, H.PAGES_LIMITED, 1 << order);
    this.prepNewPage(pfn, order, GFP.MOVABLE, owner);
    return order;
  }

  /**
   * split_page(): turns an allocated, non-compound block of 2^order pages into 2^order allocated
   * order-0 pages, each with refcount 1, the block's owner tag and mobility, so that each can be
   * freed alone (transparent huge pages are split this way). Counted as 2^order − 1 more blocks.
   */
  splitPage(pfn: number, order: number): void {
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    try {
      const flags = this.flags[pfn] as number;
      if ((flags & PageFlag.Allocated) === 0 || (this.order[pfn] as number) !== order) this.diagnoseBadFree(pfn, order);
      assert((flags & PageFlag.Head) === 0, () => `split_page of pfn ${pfn}: a compound page; expected a block allocated without GFP.COMP`);
      const owner = this.memMap.owner[pfn] as number;
      for (let p = pfn + 1; p < pfn + (1 << order); p++) {
        this.flags[p] = flags;
        this.order[p] = 0;
        this.memMap.refcount[p] = 1;
        this.memMap.mapcount[p] = 0;
        this.memMap.pincount[p] = 0;
        this.memMap.owner[p] = owner;
      }
      this.order[pfn] = 0;
      zone.count(ZoneStat.allocBlocks, (1 << order) - 1);
    } finally {
      zone.lock.release();
    }
  }

  /** Walks every free list and frame and checks every invariant; throws InvariantError. */
  validate(): void {
    validatePageAllocator(this);
  }

  /** Structured, JSON-ready figures: zones, free blocks per order and type, pageblocks, events. */
  stats(): PageAllocStats {
    return pageAllocStats(this);
  }

  /** The zone that holds `pfn` (which must be in range). */
  zoneOf(pfn: number): Zone {
    return (pfn >= DMA_ZONE_PAGES ? this.zones[ZoneId.Normal] : this.zones[ZoneId.DMA]) as Zone;
  }

  /** The free block that contains `pfn`, if `pfn` is free. Call with the zone lock held, or racy. */
  findFreeBlock(pfn: number): { pfn: number; order: number } | null {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const start = pfn - (pfn % (1 << order));
      if ((this.flags[start] as number) & PageFlag.Buddy && (this.order[start] as number) === order) {
        return { pfn: start, order };
      }
    }
    return null;
  }

  /** The allocated block whose first page is `pfn`, or that contains it. */
  findAllocatedBlock(pfn: number): { pfn: number; order: number } | null {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const start = pfn - (pfn % (1 << order));
      if ((this.flags[start] as number) & PageFlag.Allocated && pfn < start + (1 << (this.order[start] as number))) {
        return { pfn: start, order: this.order[start] as number };
      }
    }
    return null;
  }

  get freePagesTotal(): number {
    let total = 0;
    for (const zone of this.zones) total += zone.freePages;
    return total;
  }

  get managedPagesTotal(): number {
    let total = 0;
    for (const zone of this.zones) total += zone.managedPages;
    return total;
  }

  // ---- internals shared with the slow path and the validator ----

  /** __free_one_page: merges with free buddies, then lists the block. Zone lock held. */
  freeOneBlock(zone: Zone, pfn: number, order: number): void {
    const mt = this.pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number;
    while (order < MAX_PAGE_ORDER) {
      const buddy = pfn ^ (1 << order);
      if (buddy < zone.startPfn || buddy >= zone.endPfn) break;
      if (((this.flags[buddy] as number) & PageFlag.Buddy) === 0 || (this.order[buddy] as number) !== order) break;
      let buddyMt = mt;
      if (order >= PAGEBLOCK_ORDER) {
        buddyMt = this.pageblockMt[buddy >>> PAGEBLOCK_ORDER] as number;
        if (buddyMt !== mt && (buddyMt >= MIGRATE_PCPTYPES || mt >= MIGRATE_PCPTYPES)) break;
      }
      zone.delFree(buddy, order, buddyMt);
      // Match the buddy's pageblocks to ours, so that a later split lists every part correctly.
      if (buddyMt !== mt) this.setPageblockRange(buddy, order, mt);
      pfn &= buddy;
      order++;
      zone.count(ZoneStat.merges);
    }
    zone.addFree(pfn, order, mt, this.buddyMergeLikely(zone, pfn, order));
  }

  /** __rmqueue_smallest + expand: the smallest free block of `mt` that fits. Zone lock held. */
  rmqueueSmallest(zone: Zone, order: number, mt: number): number {
    for (let current = order; current <= MAX_PAGE_ORDER; current++) {
      const pfn = zone.listHead(current, mt);
      if (pfn === NO_PFN) continue;
      zone.delFree(pfn, current, mt);
      this.expand(zone, pfn, order, current, mt);
      return pfn;
    }
    return NO_PFN;
  }

  /** Lists the upper halves of a block split down from order `high` to `low`. Zone lock held. */
  expand(zone: Zone, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      zone.addFree(pfn + (1 << high), high, mt, false);
      zone.count(ZoneStat.splits);
    }
  }

  /**
   * Sets the migratetype of every pageblock in a block of `order` at `pfn`. With grouping by
   * mobility off, every type that has fallbacks is written as Unmovable (set_pageblock_migratetype).
   */
  setPageblockRange(pfn: number, order: number, mt: number): void {
    if (!this.groupByMobility && mt < MIGRATE_PCPTYPES) mt = MigrateType.Unmovable;
    const first = pfn >>> PAGEBLOCK_ORDER;
    const count = order >= PAGEBLOCK_ORDER ? 1 << (order - PAGEBLOCK_ORDER) : 1;
    this.pageblockMt.fill(mt, first, first + count);
  }

  private buddyMergeLikely(zone: Zone, pfn: number, order: number): boolean {
    if (order >= MAX_PAGE_ORDER - 1) return false;
    const higher = pfn & ~((1 << (order + 1)) - 1);
    const higherBuddy = higher ^ (1 << (order + 1));
    if (higherBuddy < zone.startPfn || higherBuddy >= zone.endPfn) return false;
    return ((this.flags[higherBuddy] as number) & PageFlag.Buddy) !== 0 && (this.order[higherBuddy] as number) === order + 1;
  }

  private tryAlloc(order: number, gfp: number, mt: number): number {
    if (this.pageLimit > 0) {
      const after = Atomics.add(this.header.words, H.PAGES_LIMITED, 1 << order) + (1 << order);
      if (after > this.pageLimit) {
        Atomics.sub(this.header.words, H.PAGES_LIMITED, 1 << order);
        this.lastFailure = 'limit';
        return NO_PFN;
      }
    }
    const highest = (gfp & GFP.DMA) !== 0 ? ZoneId.DMA : this.zones.length - 1;
    for (let id = highest; id >= 0; id--) {
      const zone = this.zones[id] as Zone;
      zone.lock.acquire();
      let pfn = NO_PFN;
      try {
        // A lower zone keeps its lowmem reserve from allocations that could have used a higher one.
        if (id === highest || zone.freePages - (1 << order) >= zone.lowmemReserve) {
          pfn = this.rmqueueSmallest(zone, order, mt);
          if (pfn === NO_PFN && mt < MIGRATE_PCPTYPES) pfn = rmqueueFallback(this, zone, order, mt);
        }
        if (pfn !== NO_PFN) {
          zone.count(ZoneStat.allocBlocks);
          zone.count(ZoneStat.allocPages, 1 << order);
        }
      } finally {
        zone.lock.release();
      }
      if (pfn !== NO_PFN) return pfn;
    }
    if (this.pageLimit > 0) Atomics.sub(this.header.words, H.PAGES_LIMITED, 1 << order);
    this.lastFailure = 'exhausted';
    return NO_PFN;
  }

  /**
   * Marks a block allocated. The flags keep the mobility the caller asked for (true even when
   * grouping by mobility is off and the block came from an Unmovable list), as Linux knows an LRU
   * page is movable whatever list it came from.
   */
  private prepNewPage(pfn: number, order: number, gfp: number, owner: number): void {
    const compound = (gfp & GFP.COMP) !== 0 && order > 0;
    const mobility = gfpMigratetype(gfp, true);
    this.flags[pfn] = PageFlag.Allocated | (compound ? PageFlag.Head : 0) | (mobility << PAGE_FLAG_MT_SHIFT);
    this.order[pfn] = order;
    this.memMap.refcount[pfn] = 1;
    this.memMap.mapcount[pfn] = 0;
    this.memMap.pincount[pfn] = 0;
    this.memMap.owner[pfn] = owner;
    if (compound) {
      const end = pfn + (1 << order);
      for (let tail = pfn + 1; tail < end; tail++) {
        this.flags[tail] = PageFlag.Tail;
        this.memMap.head[tail] = pfn;
      }
    }
    if ((gfp & GFP.ZERO) !== 0) this.ram.bytes.fill(0, pfn * PAGE_SIZE, (pfn + (1 << order)) * PAGE_SIZE);
  }

  private clearCompound(pfn: number, order: number): void {
    const end = pfn + (1 << order);
    for (let tail = pfn + 1; tail < end; tail++) {
      assert(
        (this.flags[tail] as number) === PageFlag.Tail && this.memMap.head[tail] === pfn,
        () => `compound page at pfn ${pfn}: tail ${tail} has flags 0x${(this.flags[tail] ?? 0).toString(16)} head ${this.memMap.head[tail]}; expected a tail pointing to ${pfn}`,
      );
      this.flags[tail] = 0;
      this.memMap.head[tail] = NO_PFN;
    }
  }

  private allocFailed(order: number, gfp: number): null {
    const reason = this.lastFailure ?? 'exhausted';
    if ((gfp & GFP.NOWARN) === 0) {
      const zone = this.zones[(gfp & GFP.DMA) !== 0 ? ZoneId.DMA : this.zones.length - 1] as Zone;
      zone.lock.acquire();
      zone.count(ZoneStat.allocFailures);
      zone.lock.release();
    }
    if ((gfp & GFP.NORETRY) !== 0) return null;
    const detail =
      reason === 'limit'
        ? `the limit of ${this.pageLimit} pages in use would be exceeded`
        : `${this.freePagesTotal} pages free, largest free blocks per zone: ${this.zones.map((z) => `${z.name} ${largestFreeOrder(z)}`).join(', ')}`;
    throw new OutOfMemoryError(order, gfp, reason, detail);
  }

  /** Works out why `freePages(pfn, order)` is wrong and throws the matching error. Zone lock held. */
  private diagnoseBadFree(pfn: number, order: number): never {
    const flags = this.flags[pfn] as number;
    if ((flags & PageFlag.Reserved) !== 0) {
      const region = this.header.regions().find((r) => pfn * PAGE_SIZE >= r.paddr && pfn * PAGE_SIZE < r.paddr + r.sizeBytes);
      throw new ReservedPageError(pfn, region === undefined ? 'the boot header' : `memblock region '${region.name}'`);
    }
    if ((flags & PageFlag.Allocated) !== 0) throw new WrongOrderError(pfn, order, this.order[pfn] as number);
    const free = this.findFreeBlock(pfn);
    if (free !== null) {
      if ((flags & PageFlag.Freed) !== 0) throw new DoubleFreeError(pfn, free.pfn, free.order);
      throw new NotAllocatedError(pfn, `it lies in the free block at pfn ${free.pfn} of order ${free.order}`);
    }
    const block = this.findAllocatedBlock(pfn);
    throw new NotAllocatedError(
      pfn,
      block === null ? 'it is in no block' : `it lies inside the block allocated at pfn ${block.pfn} of order ${block.order}; free that pfn`,
    );
  }
}

function nrZones(nrPages: number): number {
  return nrPages > DMA_ZONE_PAGES ? 2 : 1;
}

function nrPageblocks(nrPages: number): number {
  return Math.ceil(nrPages / (1 << PAGEBLOCK_ORDER));
}

function largestFreeOrder(zone: Zone): string {
  for (let order = MAX_PAGE_ORDER; order >= 0; order--) if (zone.nrFree(order) > 0) return `order ${order}`;
  return 'none';
}

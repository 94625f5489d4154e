/**
 * The buddy page allocator (Linux mm/page_alloc.c): blocks of 2^order pages, order 0..10, on free
 * lists per zone, order and migratetype, linked through struct page in the arena.
 *
 * Fastest path (pcp.ts): an order-0 request pops a page off this CPU's per-CPU list of its zone and
 * migratetype, and an order-0 free pushes one back, with no lock; the lists are refilled and drained
 * in batches under the zone lock.
 *
 * Fast path (this file, buddy.ts): pick the zones the GFP flags allow, highest first; under the zone
 * lock take the smallest free block of the wanted migratetype that is large enough and split it
 * (__rmqueue_smallest + expand). Freeing merges the block with its buddy, pfn ^ 2^order, while the
 * buddy is free and of the same order (__free_one_page), and puts the result at the tail of its list
 * when a further merge looks likely (buddy_merge_likely), at the head otherwise.
 *
 * Slow path (page-alloc-fallback.ts): no block of the wanted migratetype, so steal from another
 * type's list and perhaps claim the whole pageblock. Then this CPU's per-CPU lists are drained and
 * the allocation retried, then the shrinkers run (unless GFP.NORETRY), then failure.
 *
 * Ownership: `freePages(pfn, order, owner)` frees only a block allocated with that order and owner
 * tag (0 unless the caller named one) that no slab holds; anything else is a typed error that
 * names the owner, with nothing changed. The slab allocator and kmalloc free their pages with their
 * own tags, so a page they hold cannot be freed out from under them through the public API.
 *
 * Locking: each zone has a lock word in its descriptor; every free-list change and every check of
 * a block's state on the buddy path happens under it, so workers sharing one arena never see a
 * half-made change. A per-CPU list belongs to the thread holding that CPU slot: no lock, no Atomics;
 * on a shared arena the one word that decides who frees a page (its flags, Allocated → Pcp) changes
 * by compareExchange, so of two racing frees of one page exactly one wins. Lock order: zone lock
 * only (never two zone locks at once); the slab's locks are taken before it. Zero-filling happens
 * after the lock is dropped.
 *
 * Invariants: see types.ts; PageAllocator.validate() (page-alloc-validate.ts) checks all of them.
 */
import type { Ram } from '../machine/ram.ts';
import { PAGE_SIZE } from '../machine/ram.ts';
import { LockStatsRecord, type LockStatValues } from '../sync/lock-stats.ts';
import { LOCK_STAT_COUNT } from '../sync/types.ts';
import type { LockOwner } from '../sync/lock-word.ts';
import type { CpuSlots } from './cpu-slots.ts';
import { assert } from '../util/assert.ts';
import { ArgumentError } from '../util/errors.ts';
import { BootFlag, H } from './arena-header.ts';
import type { ArenaHeader } from './arena-header.ts';
import { freeOneBlock, freeRange, rmqueueSmallest } from './buddy.ts';
import type { BuddyCore } from './buddy.ts';
import {
  DoubleFreeError,
  NotAllocatedError,
  OrderError,
  OutOfMemoryError,
  PageError,
  PageOwnerError,
  PfnRangeError,
  ReservedPageError,
  WrongOrderError,
  PageInUseError,
} from './errors.ts';
import type { PageOp } from './errors.ts';
import { GFP, GFP_VALID_MASK, checkGfp, gfpMigratetype } from './gfp.ts';
import type { MemMap } from './mem-map.ts';
import type { Memblock } from './memblock.ts';
import { rmqueueFallback } from './page-alloc-fallback.ts';
import { repairZone } from './page-alloc-repair.ts';
import { validatePageAllocator } from './page-alloc-validate.ts';
import {
  P,
  PCP_FREES_FOLD,
  PCP_STATS,
  PCP_WORDS,
  PcpStat,
  pcpBaseOf,
  pcpCapacity,
  pcpCpu,
  pcpEmpty,
  pcpFoldFrees,
  pcpInit,
  pcpList,
  pcpPopCold,
  pcpPopHot,
  pcpPushCold,
  pcpPushHot,
  pcpRegionWords,
  pcpRing,
  pcpFlagsCpu,
  pcpPageFlags,
  pcpStatBase,
  pcpZoneId,
  zoneBatchsize,
  zoneHighsize,
} from './pcp.ts';
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
  PAGE_SENSITIVITY_TAGS,
  PageFlag,
  ZoneId,
} from './types.ts';
import { pageAllocStats } from './vmstat.ts';
import type { PageAllocStats } from './vmstat.ts';
import { ZONE_STATS, ZONE_WORDS, Z, Zone, ZoneStat, delFree, resetFreeLists } from './zone.ts';

const DMA_ZONE_PAGES = DMA_ZONE_BYTES / PAGE_SIZE;
// The order-0 fast paths (#installFastPaths) write their constants as number literals, each with
// the name of the constant it copies in a comment: a literal is a small immediate in bytecode,
// where a module-level const costs a context load and a hole check (6 bytes) at each use, and V8
// inlines those paths into a caller's loop only while their bytecode stays under its inlining
// budget (an imported binding is worse still: optimized code loads it from the module's cell on
// every use). A const enum would do the same under tsx, but tsc with isolatedModules emits it as
// an object and leaves the property loads in dist/. The values are checked here when the module loads.
assert(
  PageFlag.Allocated === 0x4 &&
    (PageFlag.Allocated | PageFlag.Slab) === 0x44 &&
    PageFlag.Pcp === 0x80 &&
    MigrateType.Unmovable === 0 &&
    MigrateType.Movable === 1 &&
    MigrateType.Reclaimable === 2 &&
    MIGRATE_PCPTYPES === 3 &&
    NO_PFN === -1 &&
    GFP_VALID_MASK === 0x7f &&
    PAGEBLOCK_ORDER === 9 &&
    PageFlag.SlowFree === 0x100000 &&
    PCP_FREES_FOLD === 0x3fffffff,
  'page-alloc.ts: a constant the order-0 fast paths copy as a literal has changed; update #installFastPaths',
);

export interface PageAllocatorConfig {
  /** Group pageblocks by migratetype (Linux's default); off is `page_group_by_mobility_disabled`. */
  readonly groupByMobility: boolean;
  /** At most this many pages in use at once; 0 for no limit. */
  readonly pageLimit: number;
}

/** What a failed allocation ran into (for the OutOfMemoryError and for scenarios). */
export type AllocFailure = 'exhausted' | 'limit';

/** One CPU's per-CPU list of one zone, as /proc/zoneinfo's "pagesets" shows it. */
export interface Pageset {
  cpu: number;
  zone: string;
  count: number;
  high: number;
  batch: number;
}

/** The page allocator's arena state for the validator and vmstat (not part of kmem's public API). */
export interface PageAllocInternals {
  readonly core: BuddyCore;
  /** The 'pcp' region: cpus · MAX_NR_ZONES · PCP_WORDS words, then the rings (pcp.ts). */
  readonly pcp: Int32Array;
  readonly pcpStats: Float64Array;
  readonly cpus: number;
}

let internalsOf: (pa: PageAllocator) => PageAllocInternals;

/** The page allocator's internals (validator, vmstat, tests of the layout); not exported by index.ts. */
export function pageAllocInternals(pa: PageAllocator): PageAllocInternals {
  return internalsOf(pa);
}

export class PageAllocator {
  readonly nrPages: number;
  /** Present zones, indexed by ZoneId (DMA is always present; Normal when RAM > 16 MiB). */
  readonly zones: readonly Zone[];
  readonly groupByMobility: boolean;
  readonly pageLimit: number;
  /** Whether order-0 pages go through per-CPU lists (the boot option `pcp`, default on). */
  readonly pcpEnabled: boolean;
  /** The expensive assertion tier (boot option `pageDebug`): validate() after every allocation and free. */
  readonly debug: boolean;
  /** @internal The migratetype of each pageblock (Linux's pageblock_flags); writable, so not published. */
  readonly pageblockMt: Uint8Array;
  lastFailure: AllocFailure | null = null;
  readonly #core: BuddyCore;
  readonly #flags: Uint32Array;
  readonly #order: Uint8Array;
  readonly #owner: Uint32Array;
  readonly #refcount: Int32Array;
  readonly #pcp: Int32Array;
  readonly #pcpStats: Float64Array;
  /** The whole arena as 32-bit words, for the order-0 fast paths (#installFastPaths). */
  readonly #arenaWords: Int32Array;
  readonly #cpus: number;
  readonly #shared: boolean;
  /** The zone an order-0 request without GFP.DMA tries first (its pcp). */
  readonly #topZone: number;
  /** Word index of this CPU's first pcp, −1 until this wrapper knows its CPU. */
  #pcpBase = -1;
  /**
   * Index in the 'pcp' words of this CPU's page-limit in-flight word (P.LIMIT_IN_FLIGHT), or −1
   * without a page limit or a CPU: set with #pcpBase, or by #learnLimitWord before the counter's
   * first change where there is no per-CPU list yet (or none at all). Each write sits in one run of
   * stores with the change it accounts for, with no call between (#uncharge holds both its own).
   */
  #limitWord = -1;
  #cpuSource: (() => number) | null = null;
  /**
   * The order-0 fast paths: closures over this CPU's pcp and the struct-page arrays (closures read
   * their typed arrays faster than methods reading them from `this`). Each is a whole order-0
   * allocation or free: where it cannot finish (a refill, a drain, a misuse to diagnose, a page
   * limit, a shared arena's compareExchange) it calls the general path itself.
   */
  #fastAlloc: (gfp: number, owner: number) => number = this.#claimThenAlloc;
  #fastFree: (pfn: number, owner: number) => void = this.#claimThenFree;
  #describeOwner: (pfn: number) => string = () => 'it belongs to another owner';
  /** CpuInUseError unless no other thread holds CPU slot `cpu` (CpuSlots.checkFlushable). */
  #checkFlushable: (cpu: number, call: string, what: string) => void = () => undefined;

  static {
    internalsOf = (pa) => ({ core: pa.#core, pcp: pa.#pcp, pcpStats: pa.#pcpStats, cpus: pa.#cpus });
  }

  private constructor(
    readonly ram: Ram,
    /** @internal The boot header (its writers would corrupt the kernel). */
    readonly header: ArenaHeader,
    /** @internal struct page: writable views of every page's state. */
    readonly memMap: MemMap,
    readonly shrinkers: ShrinkerRegistry,
  ) {
    this.nrPages = ram.nrPages;
    this.#flags = memMap.flags;
    this.#order = memMap.order;
    this.#owner = memMap.owner;
    this.#refcount = memMap.refcount;
    this.#shared = ram.shared;
    const zoneWords = ram.i32(header.requireRegion('zones').paddr, MAX_NR_ZONES * ZONE_WORDS);
    const zoneStats = ram.f64(header.requireRegion('zones.vmstat').paddr, MAX_NR_ZONES * ZONE_STATS);
    const zoneLockStats = ram.f64(header.requireRegion('zones.lockstat').paddr, MAX_NR_ZONES * LOCK_STAT_COUNT);
    const zones: Zone[] = [];
    for (let id = 0; id < nrZones(this.nrPages); id++) {
      zones.push(
        new Zone(
          id,
          zoneWords.subarray(id * ZONE_WORDS, (id + 1) * ZONE_WORDS),
          zoneStats.subarray(id * ZONE_STATS, (id + 1) * ZONE_STATS),
          memMap,
          new LockStatsRecord(zoneLockStats, id * LOCK_STAT_COUNT),
        ),
      );
    }
    this.zones = zones;
    this.#topZone = zones.length - 1;
    this.pageblockMt = ram.u8(header.requireRegion('pageblock_flags').paddr, nrPageblocks(this.nrPages));
    const bootFlags = header.get(H.BOOT_FLAGS);
    this.groupByMobility = (bootFlags & BootFlag.GroupByMobility) !== 0;
    this.pcpEnabled = (bootFlags & BootFlag.NoPcp) === 0;
    this.debug = (bootFlags & BootFlag.PageDebug) !== 0;
    this.pageLimit = header.get(H.PAGE_LIMIT);
    this.#cpus = header.get(H.NR_CPUS);
    const pcpRegion = header.requireRegion('pcp');
    this.#pcp = ram.i32(pcpRegion.paddr, pcpRegion.sizeBytes >>> 2);
    this.#pcpStats = ram.f64(header.requireRegion('pcp.vmstat').paddr, this.#cpus * MAX_NR_ZONES * PCP_STATS);
    // sizeBytes / 4, not >>> 2: a 4 GiB arena's size is 2^32, which >>> wraps to 0.
    this.#arenaWords = ram.i32(0, ram.sizeBytes / 4);
    this.#core = { memMap, flags: memMap.flags, order: memMap.order, pageblockMt: this.pageblockMt, groupByMobility: this.groupByMobility };
  }

  /** Boot, before any frame is free: carves the zone descriptors, the pageblock flags and the pcp lists. */
  static reserve(ram: Ram, memblock: Memblock, cpus: number): void {
    memblock.alloc('zones', MAX_NR_ZONES * ZONE_WORDS * 4);
    memblock.alloc('zones.vmstat', MAX_NR_ZONES * ZONE_STATS * 8);
    memblock.alloc('zones.lockstat', MAX_NR_ZONES * LOCK_STAT_COUNT * 8);
    memblock.alloc('pageblock_flags', nrPageblocks(ram.nrPages));
    memblock.alloc('pcp', pcpRegionWords(ram.nrPages, cpus) * 4);
    memblock.alloc('pcp.vmstat', cpus * MAX_NR_ZONES * PCP_STATS * 8);
  }

  /**
   * Boot, after every reservation: lays out the zones, marks reserved frames, and frees every other
   * frame into the buddy lists (memblock_free_all), each pageblock starting Movable as in Linux;
   * then sizes every CPU's per-CPU lists (zone_pcp_init, zone_set_pageset_high_and_batch).
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
      resetFreeLists(zone);
      let reserved = 0;
      for (let pfn = zone.startPfn; pfn < zone.endPfn; pfn++) if ((memMap.flags[pfn] as number) & PageFlag.Reserved) reserved++;
      zone.words[Z.MANAGED] = zone.spannedPages - reserved;
      freeRange(pa.#core, zone, Math.max(zone.startPfn, 1), Math.min(zone.endPfn, firstReservedPfn));
    }
    const normal = pa.zones[ZoneId.Normal];
    const dma = pa.zones[ZoneId.DMA];
    if (normal !== undefined && dma !== undefined) {
      dma.words[Z.LOWMEM_RESERVE] = Math.floor(normal.managedPages / LOWMEM_RESERVE_RATIO_DMA);
    }
    const lowmemPages = pa.managedPagesTotal;
    const capacity = pcpCapacity(n, pa.#cpus);
    const rings = pa.#cpus * MAX_NR_ZONES * PCP_WORDS;
    for (const zone of pa.zones) {
      const batch = zoneBatchsize(zone.managedPages);
      const high = zoneHighsize(zone.managedPages, lowmemPages, batch, pa.#cpus);
      for (let cpu = 0; cpu < pa.#cpus; cpu++) {
        const base = pcpBaseOf(cpu, zone.id);
        pcpInit(pa.#pcp, base, high, batch, rings + (base / PCP_WORDS) * MIGRATE_PCPTYPES * capacity, capacity);
      }
    }
    return pa;
  }

  /** Rebuilds the wrapper over an arena booted elsewhere. Writes nothing. */
  static attach(ram: Ram, header: ArenaHeader, memMap: MemMap, shrinkers: ShrinkerRegistry): PageAllocator {
    return new PageAllocator(ram, header, memMap, shrinkers);
  }

  /**
   * @internal The kernel names where this wrapper's CPU comes from (asked once, on the first
   * order-0 allocation or free), how to name a page's owner in errors, and who holds a CPU slot
   * when another thread does (drainCpu refuses those). Until then, order-0 pages bypass the
   * per-CPU lists.
   */
  connect(cpuSource: () => number, describeOwner: (pfn: number) => string, slots: LockOwner & Pick<CpuSlots, 'checkFlushable'>): void {
    this.#cpuSource = cpuSource;
    this.#describeOwner = describeOwner;
    this.#checkFlushable = (cpu, call, what) => slots.checkFlushable(cpu, call, what);
    // A zone lock a worker died holding is taken over, and the zone rebuilt first (page-alloc-repair.ts).
    for (const zone of this.zones) zone.adoptLockOwner(slots, () => repairZone(this.#core, zone));
  }

  /** The CPU whose per-CPU lists this wrapper uses, or −1 while it has none. */
  get cpu(): number {
    return this.#pcpBase < 0 ? -1 : this.#pcpBase / (MAX_NR_ZONES * PCP_WORDS);
  }

  /**
   * Allocates 2^order contiguous frames and returns the first pfn. On failure this CPU's per-CPU
   * lists are drained and the allocation retried; then, without GFP.NORETRY, the shrinkers run and
   * it is retried once more; if it still fails an OutOfMemoryError is raised. `owner` is an opaque
   * tag (an unsigned 32-bit integer) stored with the block: freePages must name the same tag.
   */
  allocPages(order: number, gfp = 0, owner = 0): number {
    return order === 0 ? this.#fastAlloc(gfp, owner) : this.#allocSlow(order, gfp, owner);
  }

  /** allocPages' general path: refills, the buddy lists, reclaim, then OutOfMemoryError. */
  #allocSlow(order: number, gfp: number, owner: number): number {
    const pfn = this.#allocate(order, gfp, owner);
    if (this.debug) this.validate();
    if (pfn !== NO_PFN) return pfn;
    this.#countFailure(gfp);
    return this.#raiseOom(order, gfp);
  }

  /** allocPages, but null instead of an OutOfMemoryError on failure (with GFP.NORETRY: no shrinkers). */
  tryAllocPages(order: number, gfp: number = GFP.KERNEL, owner = 0): number | null {
    const pfn = this.#allocate(order, gfp, owner);
    if (this.debug) this.validate();
    if (pfn !== NO_PFN) return pfn;
    this.#countFailure(gfp);
    return null;
  }

  /**
   * Frees a block that allocPages returned, with the order and the owner tag it was allocated with.
   * Anything else (a slab's page, a large kmalloc block, a tail page, a wrong order, a free page) is
   * a typed error, and nothing changes.
   */
  freePages(pfn: number, order: number, owner = 0): void {
    if (order === 0) this.#fastFree(pfn, owner);
    else this.#freeSlow(pfn, order, owner);
  }

  /** freePages' general path (kept out of freePages, so that callers' loops inline the fast one). */
  #freeSlow(pfn: number, order: number, owner: number): void {
    if (this.#limitWord < 0) this.#learnLimitWord();
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    const flags = this.#flags[pfn] as number;
    if (!this.#isOwnedBlock(flags, pfn, order, owner)) this.#diagnoseBadFree(pfn, order, owner);
    this.#checkNotInUse(pfn, order);
    if (order === 0 && (this.#pcpBase >= 0 || this.#claimPcp())) {
      const mt = this.pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number;
      if (mt < MIGRATE_PCPTYPES) {
        this.#pcpFree(pfn, flags, this.#pcpBase + (pfn >= DMA_ZONE_PAGES ? PCP_WORDS : 0));
        if (this.debug) this.validate();
        return;
      }
    }
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    try {
      // Checked again under the lock: another worker may have freed it meanwhile.
      const locked = this.#flags[pfn] as number;
      if (!this.#isOwnedBlock(locked, pfn, order, owner)) this.#diagnoseBadFree(pfn, order, owner);
      if ((locked & PageFlag.Head) !== 0) this.#clearCompound(pfn, order);
      // A free page carries no sensitivity tag (mm/secret): the tags describe what a page holds now.
      else clearSensitivityTags(this.#flags, pfn + 1, pfn + (1 << order));
      this.#flags[pfn] = (locked & ~(PageFlag.Allocated | PageFlag.SlowFree | PageFlag.Head | PAGE_SENSITIVITY_TAGS | (0x7 << PAGE_FLAG_MT_SHIFT))) | PageFlag.Freed;
      if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 1 << order;
      this.#refcount[pfn] = 0;
      this.#owner[pfn] = 0;
      zone.count(ZoneStat.freeBlocks);
      zone.count(ZoneStat.freePages, 1 << order);
      freeOneBlock(this.#core, zone, pfn, order);
    } finally {
      zone.lock.release();
    }
    if (this.pageLimit > 0) this.#uncharge(1 << order);
    if (this.debug) this.validate();
  }

  /**
   * Gives every page on this CPU's per-CPU lists back to the buddy allocator (drain_local_pages);
   * returns the pages drained.
   */
  drainPages(): number {
    return this.#pcpBase < 0 ? 0 : this.#drainCpuAt(this.#pcpBase);
  }

  /**
   * Drains CPU `cpu`'s per-CPU lists (page_alloc_cpu_dead's drain). Only where no other thread can
   * be using them: a slot that is offline (or being taken offline), or one this thread holds
   * through any kernel handle (calls on one thread never interleave); a slot another thread holds
   * raises CpuInUseError and nothing changes. Returns the pages drained.
   */
  drainCpu(cpu: number): number {
    this.#checkDrainable(cpu, 'drainCpu');
    let pages = 0;
    for (const zone of this.zones) pages += this.#reclaimPcp(zone, cpu);
    return pages;
  }

  /**
   * drainCpu's work in one zone, under its lock: the CPU's pages are found by what struct page says
   * (flags Pcp with the CPU's owner tag: pcpPageFlags), not by the lists' words, because the thread that
   * held the CPU may have been killed half-way through an operation: a page it had taken off its
   * list and not yet handed out, a page added to a ring but not yet counted, a count that was not
   * yet updated. Then the lists are emptied and the pages freed to the buddy allocator. O(pages of
   * the zone), once per offline.
   */
  #reclaimPcp(zone: Zone, cpu: number): number {
    const w = this.#pcp;
    const base = pcpBaseOf(cpu, zone.id);
    const pcpFlags = pcpPageFlags(cpu);
    const flags = this.#flags;
    let n = 0;
    zone.lock.acquire();
    try {
      const pages: number[] = [];
      for (let pfn = zone.startPfn; pfn < zone.endPfn; pfn++) {
        if (flags[pfn] === pcpFlags) pages.push(pfn);
      }
      pcpFoldFrees(w, this.#pcpStats, base);
      pcpEmpty(w, base);
      for (const pfn of pages) {
        flags[pfn] = PageFlag.Freed;
        // A free the worker did not finish may have left the page's refcount and owner tag.
        this.#refcount[pfn] = 0;
        this.#owner[pfn] = 0;
        freeOneBlock(this.#core, zone, pfn, 0);
      }
      n = pages.length;
      zone.count(ZoneStat.freeBlocks, n);
      zone.count(ZoneStat.freePages, n);
    } finally {
      zone.lock.release();
    }
    const stat = pcpStatBase(base);
    this.#pcpStats[stat + PcpStat.drains] = (this.#pcpStats[stat + PcpStat.drains] as number) + 1;
    this.#pcpStats[stat + PcpStat.drainPages] = (this.#pcpStats[stat + PcpStat.drainPages] as number) + n;
    return n;
  }

  /**
   * @internal CPU `cpu` goes offline (page_alloc_cpu_dead, run by the kernel's CPU slots): its lists
   * go back to the buddy allocator, and if it was this wrapper's CPU, the next order-0 operation
   * asks for a CPU again.
   */
  offlineCpu(cpu: number): void {
    // The kernel's CPU slots call this with the slot marked offlining (or for this thread's own).
    this.#checkDrainable(cpu, 'offlineCpu');
    // The page-limit counter, corrected by what the CPU had in flight (P.LIMIT_IN_FLIGHT).
    const inFlight = pcpBaseOf(cpu, 0) + P.LIMIT_IN_FLIGHT;
    const pages = this.#pcp[inFlight] as number;
    if (pages !== 0) {
      Atomics.sub(this.header.words, H.PAGES_LIMITED, pages);
      this.#pcp[inFlight] = 0;
    }
    for (const zone of this.zones) this.#reclaimPcp(zone, cpu);
    // This wrapper's word, learned with or without per-CPU lists (#learnLimitWord): asked again.
    if (this.#limitWord === inFlight) this.#limitWord = -1;
    if (cpu !== this.cpu) return;
    this.#pcpBase = -1;
    this.#fastAlloc = this.#claimThenAlloc;
    this.#fastFree = this.#claimThenFree;
  }

  /**
   * Before `call` empties CPU `cpu`'s lists: an ArgumentError for no such slot, and CpuInUseError
   * when another thread holds it, nothing changed either way. That thread may be half-way through
   * a pop or a push on those lists, and emptying them under it would hand one pfn out twice
   * (issue 9: duplicate pfns, false DoubleFreeErrors, then validate() failing).
   */
  #checkDrainable(cpu: number, call: string): void {
    if (!(Number.isInteger(cpu) && cpu >= 0 && cpu < this.#cpus)) throw new ArgumentError(`${call}: cpu ${cpu}: expected a CPU slot, an integer in [0, ${this.#cpus})`);
    this.#checkFlushable(cpu, call, 'per-CPU page lists');
  }

  /** Every CPU's per-CPU list of every zone (count, high, batch), as /proc/zoneinfo's pagesets. */
  pagesets(): Pageset[] {
    const out: Pageset[] = [];
    for (const zone of this.zones) {
      for (let cpu = 0; cpu < this.#cpus; cpu++) {
        const base = pcpBaseOf(cpu, zone.id);
        out.push({ cpu, zone: zone.name, count: this.#pcp[base + P.COUNT] as number, high: this.#pcp[base + P.HIGH] as number, batch: this.#pcp[base + P.BATCH] as number });
      }
    }
    return out;
  }

  /** Pages on every CPU's per-CPU lists of `zone` (all zones when omitted). */
  pcpPages(zone?: Zone): number {
    let total = 0;
    for (const z of zone === undefined ? this.zones : [zone]) {
      for (let cpu = 0; cpu < this.#cpus; cpu++) total += this.#pcp[pcpBaseOf(cpu, z.id) + P.COUNT] as number;
    }
    return total;
  }

  /**
   * __isolate_free_page() for compaction's free scanner: takes the free block that `pfn` heads off
   * its free list and hands it out as an allocated movable block of its order (owner `owner`).
   * Returns the order, or −1 when pfn heads no free block.
   */
  isolateFreeBlock(pfn: number, owner: number): number {
    if (this.#limitWord < 0) this.#learnLimitWord();
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    let order: number;
    try {
      if (((this.#flags[pfn] as number) & PageFlag.Buddy) === 0) return -1;
      order = this.#order[pfn] as number;
      delFree(zone, pfn, order, this.pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number);
      // Marked under the lock: a block off the lists and not yet marked is, to repairZone, lost.
      this.#prepNewPage(pfn, order, GFP.MOVABLE, owner);
      if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = -(1 << order);
      zone.count(ZoneStat.allocBlocks);
      zone.count(ZoneStat.allocPages, 1 << order);
    } finally {
      zone.lock.release();
    }
    if (this.pageLimit > 0) {
      Atomics.add(this.header.words, H.PAGES_LIMITED, 1 << order);
      if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 0;
    }
    return order;
  }

  /**
   * split_page(): turns an allocated, non-compound block of 2^order pages into 2^order allocated
   * order-0 pages, each with refcount 1, the block's owner tag and mobility, so that each can be
   * freed alone (transparent huge pages are split this way). Counted as 2^order − 1 more blocks.
   * As freePages, only the block's owner may: `owner` must be the tag it was allocated with, and a
   * slab's page, a large kmalloc block, a free page or a wrong order is the typed error freePages
   * raises for it, worded for the split, with nothing changed.
   */
  splitPage(pfn: number, order: number, owner = 0): void {
    if (!(pfn >= 0 && pfn < this.nrPages && (pfn | 0) === pfn)) throw new PfnRangeError(pfn, this.nrPages);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    // Checked before the lock (a refused split changes nothing, not even the lock's statistics),
    // and again under it: another worker may have freed the block meanwhile.
    this.#checkSplit(pfn, order, owner);
    const zone = this.zoneOf(pfn);
    zone.lock.acquire();
    try {
      this.#checkSplit(pfn, order, owner);
      // Order 0 now: each page is plain unless it carries an owner tag (PageFlag.SlowFree).
      const flags = ((this.#flags[pfn] as number) & ~PageFlag.SlowFree) | (owner !== 0 ? PageFlag.SlowFree : 0);
      this.#flags[pfn] = flags;
      for (let p = pfn + 1; p < pfn + (1 << order); p++) {
        this.#flags[p] = flags;
        this.#order[p] = 0;
        this.memMap.refcount[p] = 1;
        this.memMap.mapcount[p] = 0;
        this.memMap.pincount[p] = 0;
        this.memMap.owner[p] = owner;
      }
      this.#order[pfn] = 0;
      zone.count(ZoneStat.allocBlocks, (1 << order) - 1);
    } finally {
      zone.lock.release();
    }
  }

  /** Whether the block at `pfn` (its flags word `flags`) is an allocation of `order` and `owner` that no slab holds: what a free or a split may change. */
  #isOwnedBlock(flags: number, pfn: number, order: number, owner: number): boolean {
    return (flags & (PageFlag.Allocated | PageFlag.Slab)) === PageFlag.Allocated && (this.#order[pfn] as number) === order && this.#owner[pfn] === owner;
  }

  /** splitPage's precondition: an allocated block of `order` and `owner` that no slab holds, not compound. */
  #checkSplit(pfn: number, order: number, owner: number): void {
    const flags = this.#flags[pfn] as number;
    if (!this.#isOwnedBlock(flags, pfn, order, owner)) this.#diagnoseBadFree(pfn, order, owner, 'split');
    if ((flags & PageFlag.Head) !== 0) throw new PageError(pfn, `split of pfn ${pfn} with order ${order}: a compound page (GFP.COMP); expected a block allocated without GFP.COMP`);
  }

  /** Walks every free list, per-CPU list and frame and checks every invariant; throws InvariantError. */
  validate(): void {
    validatePageAllocator(this);
  }

  /** Structured, JSON-ready figures: zones, free blocks per order and type, pagesets, pageblocks, events. */
  stats(): PageAllocStats {
    return pageAllocStats(this);
  }

  /** The zone locks' contention statistics, by lock name ('zone DMA', 'zone Normal'). */
  lockStats(): ({ name: string } & LockStatValues)[] {
    return this.zones.map((zone) => ({ name: `zone ${zone.name}`, ...(zone.lock.stats as LockStatsRecord).values() }));
  }

  /** The zone that holds `pfn` (which must be in range). */
  zoneOf(pfn: number): Zone {
    return (pfn >= DMA_ZONE_PAGES ? this.zones[ZoneId.Normal] : this.zones[ZoneId.DMA]) as Zone;
  }

  /** The free block that contains `pfn`, if `pfn` is free. Call with the zone lock held, or racy. */
  findFreeBlock(pfn: number): { pfn: number; order: number } | null {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const start = pfn - (pfn % (1 << order));
      if ((this.#flags[start] as number) & PageFlag.Buddy && (this.#order[start] as number) === order) {
        return { pfn: start, order };
      }
    }
    return null;
  }

  /** The allocated block whose first page is `pfn`, or that contains it. */
  findAllocatedBlock(pfn: number): { pfn: number; order: number } | null {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const start = pfn - (pfn % (1 << order));
      if ((this.#flags[start] as number) & PageFlag.Allocated && pfn < start + (1 << (this.#order[start] as number))) {
        return { pfn: start, order: this.#order[start] as number };
      }
    }
    return null;
  }

  /** Free pages: on the buddy lists and on every CPU's per-CPU lists. */
  get freePagesTotal(): number {
    return this.buddyFreePagesTotal + this.pcpPages();
  }

  /** Free pages on the buddy lists only (Linux's NR_FREE_PAGES, which leaves out the pcp lists). */
  get buddyFreePagesTotal(): number {
    let total = 0;
    for (const zone of this.zones) total += zone.freePages;
    return total;
  }

  get managedPagesTotal(): number {
    let total = 0;
    for (const zone of this.zones) total += zone.managedPages;
    return total;
  }

  // ---- internals ----

  #allocate(order: number, gfp: number, owner: number): number {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) throw new OrderError(order);
    if ((gfp & ~GFP_VALID_MASK) !== 0 || (gfp | 0) !== gfp || (gfp & (GFP.MOVABLE | GFP.RECLAIMABLE)) === (GFP.MOVABLE | GFP.RECLAIMABLE)) {
      checkGfp(gfp);
    }
    if (owner !== 0 && (owner >>> 0) !== owner) throw new ArgumentError(`owner tag ${owner}: expected an unsigned 32-bit integer`);
    const mt = gfpMigratetype(gfp, this.groupByMobility);
    let pfn = this.#attempt(order, gfp, mt, owner);
    // Pages parked on this CPU's lists are free too: give them back and try again (drain_all_pages
    // in __alloc_pages_direct_reclaim, before the shrinkers and the OOM killer).
    if (pfn === NO_PFN && this.drainPages() > 0) pfn = this.#attempt(order, gfp, mt, owner);
    if (pfn === NO_PFN && (gfp & GFP.NORETRY) === 0 && this.shrinkers.shrinkAll() > 0) {
      this.drainPages();
      pfn = this.#attempt(order, gfp, mt, owner);
    }
    if (pfn !== NO_PFN && (gfp & GFP.ZERO) !== 0) this.ram.bytes.fill(0, pfn * PAGE_SIZE, (pfn + (1 << order)) * PAGE_SIZE);
    return pfn;
  }

  /**
   * One try: the per-CPU list (order 0), else the buddy lists zone by zone; the block is marked
   * allocated to `owner` where it is taken (off the list, or under the zone lock). NO_PFN on failure.
   */
  #attempt(order: number, gfp: number, mt: number, owner: number): number {
    // Each change of the page-limit counter and of the block it accounts for sits in one run of
    // stores with a change of this CPU's in-flight word (#limitWord), with no call between (a
    // terminated worker stops only at calls): learn the CPU's word first.
    if (this.#limitWord < 0) this.#learnLimitWord();
    if (this.pageLimit > 0) {
      const after = Atomics.add(this.header.words, H.PAGES_LIMITED, 1 << order) + (1 << order);
      if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 1 << order;
      if (after > this.pageLimit) {
        this.#uncharge(1 << order);
        this.lastFailure = 'limit';
        return NO_PFN;
      }
    }
    let pfn = NO_PFN;
    if (order === 0 && (this.#pcpBase >= 0 || this.#claimPcp())) {
      pfn = this.#pcpAlloc(this.#pcpBase + ((gfp & GFP.DMA) !== 0 ? 0 : this.#topZone * PCP_WORDS), mt);
      if (pfn !== NO_PFN) this.#prepNewPage(pfn, 0, gfp, owner);
    }
    if (pfn === NO_PFN) pfn = this.#buddyAlloc(order, gfp, mt, owner);
    if (pfn === NO_PFN) {
      if (this.pageLimit > 0) this.#uncharge(1 << order);
      this.lastFailure = 'exhausted';
    }
    return pfn;
  }

  /** rmqueue_pcplist: a page off this CPU's list of `mt` in the pcp at `base`, refilled if empty. */
  #pcpAlloc(base: number, mt: number): number {
    const w = this.#pcp;
    const list = pcpList(base, mt);
    const ring = pcpRing(w, base, mt);
    const mask = (w[base + P.CAPACITY] as number) - 1;
    let pfn = pcpPopHot(w, list, ring, mask);
    if (pfn === NO_PFN) {
      if (this.#pcpRefill(base, mt) === 0) return NO_PFN;
      pfn = pcpPopHot(w, list, ring, mask);
    }
    // Not counted: allocations are what the other counters leave (pcpAllocs in pcp.ts).
    w[base + P.COUNT] = (w[base + P.COUNT] as number) - 1;
    return pfn;
  }

  /** free_unref_page: onto the head of this CPU's list; a batch goes back when the list reaches high. */
  #pcpFree(pfn: number, flags: number, base: number): void {
    // One store makes the page Pcp and names its CPU (pcpPageFlags). Owner 0 and refcount 1 are
    // what every Pcp page has (pcp.ts), and what the fast allocation hands out without writing.
    const pcpFlags = pcpPageFlags(pcpCpu(base));
    if (this.#shared) {
      // The one word that decides who frees the page: of two racing frees exactly one changes it.
      if (Atomics.compareExchange(this.#flags, pfn, flags, pcpFlags) !== flags) this.#diagnoseBadFree(pfn, 0, this.#owner[pfn] as number);
    } else {
      this.#flags[pfn] = pcpFlags;
    }
    if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 1;
    this.#refcount[pfn] = 1;
    this.#owner[pfn] = 0;
    const w = this.#pcp;
    const mt = this.pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number;
    pcpPushHot(w, pcpList(base, mt), pcpRing(w, base, mt), (w[base + P.CAPACITY] as number) - 1, pfn);
    const count = (w[base + P.COUNT] as number) + 1;
    w[base + P.COUNT] = count;
    pcpFoldFrees(w, this.#pcpStats, base);
    const stat = pcpStatBase(base) + PcpStat.frees;
    this.#pcpStats[stat] = (this.#pcpStats[stat] as number) + 1;
    if (count >= (w[base + P.HIGH] as number)) this.#pcpDrain(base, w[base + P.BATCH] as number);
    if (this.pageLimit > 0) this.#uncharge(1);
  }

  /**
   * Takes `pages` off the page-limit counter and clears this CPU's in-flight word, which said they
   * were still counted. One call for both: V8 stops a terminated worker at the call's entry (the
   * word still names the pages) or not at all before the store that follows the Atomics call.
   */
  #uncharge(pages: number): void {
    Atomics.sub(this.header.words, H.PAGES_LIMITED, pages);
    if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 0;
  }

  /** rmqueue_bulk: up to `batch` order-0 pages of `mt` from the buddy lists onto the list. Returns the count. */
  #pcpRefill(base: number, mt: number): number {
    const w = this.#pcp;
    const zone = this.zones[pcpZoneId(base)] as Zone;
    const batch = w[base + P.BATCH] as number;
    const list = pcpList(base, mt);
    const ring = pcpRing(w, base, mt);
    const mask = (w[base + P.CAPACITY] as number) - 1;
    const pcpFlags = pcpPageFlags(pcpCpu(base));
    let n = 0;
    zone.lock.acquire();
    try {
      for (; n < batch; n++) {
        let pfn = rmqueueSmallest(zone, 0, mt);
        if (pfn === NO_PFN && mt < MIGRATE_PCPTYPES) pfn = rmqueueFallback(this.#core, zone, 0, mt);
        if (pfn === NO_PFN) break;
        this.#owner[pfn] = 0;
        this.#refcount[pfn] = 1;
        this.#order[pfn] = 0;
        this.#flags[pfn] = pcpFlags;
        pcpPushCold(w, list, ring, mask, pfn);
      }
      if (n > 0) {
        zone.count(ZoneStat.allocBlocks, n);
        zone.count(ZoneStat.allocPages, n);
      }
    } finally {
      zone.lock.release();
    }
    w[base + P.COUNT] = (w[base + P.COUNT] as number) + n;
    const stat = pcpStatBase(base);
    this.#pcpStats[stat + PcpStat.refills] = (this.#pcpStats[stat + PcpStat.refills] as number) + 1;
    this.#pcpStats[stat + PcpStat.refillPages] = (this.#pcpStats[stat + PcpStat.refillPages] as number) + n;
    return n;
  }

  /** free_pcppages_bulk: `n` of the coldest pages, the lists taken in turn, back to the buddy allocator. */
  #pcpDrain(base: number, n: number): number {
    const w = this.#pcp;
    const count = w[base + P.COUNT] as number;
    if (n > count) n = count;
    if (n === 0) return 0;
    const zone = this.zones[pcpZoneId(base)] as Zone;
    let mt = w[base + P.DRAIN_NEXT] as number;
    zone.lock.acquire();
    try {
      for (let done = 0, empty = 0; done < n && empty < MIGRATE_PCPTYPES; ) {
        const pfn = pcpPopCold(w, pcpList(base, mt), pcpRing(w, base, mt), (w[base + P.CAPACITY] as number) - 1);
        mt = mt + 1 === MIGRATE_PCPTYPES ? 0 : mt + 1;
        if (pfn === NO_PFN) {
          empty++;
          continue;
        }
        empty = 0;
        this.#flags[pfn] = PageFlag.Freed;
        this.#refcount[pfn] = 0;
        freeOneBlock(this.#core, zone, pfn, 0);
        done++;
      }
      zone.count(ZoneStat.freeBlocks, n);
      zone.count(ZoneStat.freePages, n);
    } finally {
      zone.lock.release();
    }
    w[base + P.DRAIN_NEXT] = mt;
    w[base + P.COUNT] = count - n;
    const stat = pcpStatBase(base);
    this.#pcpStats[stat + PcpStat.drains] = (this.#pcpStats[stat + PcpStat.drains] as number) + 1;
    this.#pcpStats[stat + PcpStat.drainPages] = (this.#pcpStats[stat + PcpStat.drainPages] as number) + n;
    return n;
  }

  #drainCpuAt(cpuBase: number): number {
    let pages = 0;
    for (const zone of this.zones) {
      const base = cpuBase + zone.id * PCP_WORDS;
      pages += this.#pcpDrain(base, this.#pcp[base + P.COUNT] as number);
    }
    return pages;
  }

  /** The order-0 allocation while this wrapper has no CPU: claim one (which installs the fast paths), else the general path. */
  #claimThenAlloc(gfp: number, owner: number): number {
    return this.#claimPcp() ? this.#fastAlloc(gfp, owner) : this.#allocSlow(0, gfp, owner);
  }

  /** The order-0 free while this wrapper has no CPU (see #claimThenAlloc). */
  #claimThenFree(pfn: number, owner: number): void {
    if (this.#claimPcp()) this.#fastFree(pfn, owner);
    else this.#freeSlow(pfn, 0, owner);
  }

  /** Learns this wrapper's CPU from the kernel; false while there is none (boot) or pcp is off. */
  #claimPcp(): boolean {
    if (!this.pcpEnabled) return false;
    const cpu = this.#askCpu();
    if (cpu < 0) return false;
    this.#pcpBase = cpu * MAX_NR_ZONES * PCP_WORDS;
    this.#limitWord = this.pageLimit > 0 ? this.#pcpBase + P.LIMIT_IN_FLIGHT : -1;
    this.#installFastPaths();
    return true;
  }

  /**
   * With a page limit, learns this wrapper's in-flight word (#limitWord) before its first change of
   * the counter, whatever the order and whether or not per-CPU lists are on: the word belongs to
   * the CPU, not to its lists. Without a CPU (boot) the word stays −1, and nothing can be lost:
   * only a CPU's worker can be killed.
   */
  #learnLimitWord(): void {
    if (this.pageLimit === 0) return;
    const cpu = this.#askCpu();
    if (cpu >= 0) this.#limitWord = pcpBaseOf(cpu, 0) + P.LIMIT_IN_FLIGHT;
  }

  /** This wrapper's CPU as the kernel says, or −1 while it has none. */
  #askCpu(): number {
    if (this.#cpuSource === null) return -1;
    const cpu = this.#cpuSource();
    return Number.isInteger(cpu) && cpu >= 0 && cpu < this.#cpus ? cpu : -1;
  }

  /**
   * Builds the order-0 fast paths over this CPU's pcp of the top zone (see #fastAlloc): a pop or a
   * push at the hot end of one ring (pcp.ts) and the flags word of one plain page (PageFlag.SlowFree:
   * order 0, owner tag 0, refcount 1, unmapped, unpinned; a Pcp page has the same fields, so only
   * the flags change). Everything else (an owner tag, a refill, a drain at high, an unusual GFP
   * flag, a page of another zone, a page that is not plain, a misuse to diagnose) is the general
   * path's. Small on purpose: V8 inlines both into a caller's loop only while they
   * stay under its inlining budget. What each line costs, and the hand-written floor of the same
   * work (bench/baselines/pcp-pages.ts), are in docs/benchmarks.md, "Per-CPU page lists" and
   * "Per-CPU page lists: one view of the arena".
   */
  #installFastPaths(): void {
    // The whole arena as one Int32Array and one Uint8Array: every word the fast paths touch (struct
    // page, the pcp words and rings) is an index into these two, so the compiled loop keeps one or
    // two base registers, where a view per field costs a 64-bit address per field per operation
    // (docs/benchmarks.md, "Per-CPU page lists: one view of the arena"). Same bytes, same layout.
    const M = this.#arenaWords;
    const B = this.ram.bytes;
    const w = this.#pcp;
    const nrPages = this.nrPages;
    const base = this.#pcpBase + this.#topZone * PCP_WORDS;
    // Pcp and this CPU's owner tag: a free page's flags (pcpPageFlags), as an int32.
    const pcpFlags = pcpPageFlags(pcpCpu(base)) | 0;
    const firstPfn = (this.zones[this.#topZone] as Zone).startPfn;
    // Word (or byte) indices into M (B) of field 0 of each struct-page array and of the pcp region.
    const FLAGS = wordIndexOf(M, this.#flags);
    const PAGEBLOCK = this.pageblockMt.byteOffset;
    assert(M.length * 4 === this.ram.sizeBytes && B.length === this.ram.sizeBytes && this.pageblockMt.buffer === B.buffer, () => `the fast paths' views of the arena cover ${M.length * 4} and ${B.length} of its ${this.ram.sizeBytes} bytes`);
    const PCPW = wordIndexOf(M, w);
    const countWord = PCPW + base + P.COUNT;
    const highWord = PCPW + base + P.HIGH;
    const freesWord = PCPW + base + P.FREES;
    const capacity = w[base + P.CAPACITY] as number;
    const mask = capacity - 1;
    // The end word and slot 0 of the Unmovable list's ring; list mt's are 2 · mt words and
    // mt · capacity slots on.
    const end0 = PCPW + base + P.LISTS + 1;
    const ring0 = PCPW + (w[base + P.RINGS] as number);
    // Per GFP value (the bits a plain request may carry): the page's flags and its list, 0 / −1
    // where the fast path does not serve it (DMA, ZERO, COMP, or MOVABLE with RECLAIMABLE).
    const fastFlags = new Int32Array(GFP_VALID_MASK + 1);
    const fastMt = new Int8Array(GFP_VALID_MASK + 1).fill(-1);
    for (let gfp = 0; gfp <= GFP_VALID_MASK; gfp++) {
      if ((gfp & (GFP.DMA | GFP.ZERO | GFP.COMP)) !== 0 || (gfp & (GFP.MOVABLE | GFP.RECLAIMABLE)) === (GFP.MOVABLE | GFP.RECLAIMABLE)) continue;
      const mobility = gfpMigratetype(gfp, true);
      fastFlags[gfp] = PageFlag.Allocated | (mobility << PAGE_FLAG_MT_SHIFT);
      fastMt[gfp] = this.groupByMobility ? mobility : MigrateType.Unmovable;
    }
    // GFP_KERNEL (0) needs no table: its list is Unmovable's, its flags these.
    const kernelFlags = fastFlags[GFP.KERNEL] as number;
    assert(fastMt[GFP.KERNEL] === MigrateType.Unmovable, () => `GFP_KERNEL's pcp list is ${fastMt[GFP.KERNEL]}, expected Unmovable`);
    // A miss (and every call, where a fast path does not apply) goes to the general path, called
    // from inside the fast path: the caller's inlined code then has no result to test. The
    // allocation writes `allocSlow(…) | 0`: until the call first runs, V8 compiles it as a
    // deoptimization exit, but once a refill has gone through it, as a call whose result merges
    // into the caller's loop, a tagged number the free after it must untag and range-check again;
    // `| 0` keeps the pfn an int32 (docs/benchmarks.md, "after a refill").
    const allocSlow = (gfp: number, owner: number): number => this.#allocSlow(0, gfp, owner);
    const freeSlow = (pfn: number, owner: number): void => this.#freeSlow(pfn, 0, owner);
    this.#fastAlloc = allocSlow;
    this.#fastFree = freeSlow;
    if (this.pageLimit > 0 || this.debug) return;
    // Each closure reads M into a local once and computes each struct-page index once: every read
    // of a captured const costs bytecode (a context load and a hole check), and V8 inlines a
    // function into the caller's loop only while its bytecode stays under a budget (460 bytes each,
    // 920 for everything inlined into one function: --max-inlined-bytecode-size{,-cumulative}).
    this.#fastAlloc = (gfp, owner) => {
      const m = M;
      let endWord = end0;
      let ring = ring0;
      let flags = kernelFlags;
      if (gfp !== 0) {
        const mt = fastMt[gfp & 0x7f] as number; // GFP_VALID_MASK
        if (mt < 0 || (gfp & 0x7f) !== gfp) return allocSlow(gfp, owner) | 0;
        endWord = end0 + 2 * mt;
        ring = ring0 + mt * capacity;
        flags = fastFlags[gfp] as number;
      }
      // An owner tag makes the page not plain (PageFlag.SlowFree): the general path marks it.
      if (owner !== 0) return allocSlow(gfp, owner) | 0;
      const end = ((m[endWord] as number) - 1) & mask;
      const pfn = m[ring + end] as number;
      if (pfn === -1) return allocSlow(gfp, owner) | 0; // NO_PFN, the sentinel: the list is empty, the general path refills it
      m[endWord] = end;
      m[countWord] = ((m[countWord] as number) - 1) | 0;
      // Owner 0, refcount 1, mapcount and pincount 0: already, on every Pcp page (validate()).
      m[FLAGS + pfn] = flags;
      return pfn;
    };
    if (this.#shared) return;
    this.#fastFree = (pfn, owner) => {
      const m = M;
      // `| 0`: the same int32 index the allocation computed, so V8 computes and checks it once.
      const flagsAt = (FLAGS + pfn) | 0;
      // Cheap, always on: the page is a plain allocated page (owner tag 0, no slab's, not SlowFree:
      // flags & (SlowFree | Slab | Allocated) === Allocated, 0x100044 and 0x4). Plain means order 0,
      // refcount 1, not mapped and not pinned, so one load decides what six did (PageFlag.SlowFree).
      // One test, one exit: each exit costs bytecode, and the two fast paths stay inside V8's
      // inlining budget. Anything else (an owner tag, another order, a page in use, a misuse) is
      // the general path's, which checks each field and names what is wrong.
      if (owner !== 0 || (pfn >>> 0) !== pfn || pfn >= nrPages || pfn < firstPfn || ((m[flagsAt] as number) & 0x100044) !== 0x4) {
        return freeSlow(pfn, owner);
      }
      const mt = B[PAGEBLOCK + (pfn >>> 9)] as number; // PAGEBLOCK_ORDER
      const count = ((m[countWord] as number) + 1) | 0;
      const frees = ((m[freesWord] as number) + 1) | 0;
      // One exit for the rest of the general path's cases: a pageblock of no pcp list (Linux frees
      // such pages to the buddy allocator), the list at high (a batch is drained), the frees word
      // past PCP_FREES_FOLD (it is folded into the f64 counter). Each exit costs bytecode, and V8
      // charges this closure at 1.2× its size when it is the last it considers inlining into the
      // caller's loop: with three exits, #fastAlloc then #fastFree passed the budget in some
      // processes and the pair ran at 10–17 ns (docs/benchmarks.md, "Per-CPU page lists: the
      // inlining budget in any order"; test/mm/pcp-inlining.test.ts).
      if (mt > 2 || count >= (m[highWord] as number) || frees > 0x3fffffff) return freeSlow(pfn, owner); // MIGRATE_PCPTYPES − 1, PCP_FREES_FOLD
      // The pageblock's migratetype picks the list. Unmovable's by a branch, not by arithmetic, so
      // that the push's address does not wait for the migratetype's load (a load of the pfn that
      // the allocation before it popped): the processor predicts the branch and runs ahead.
      let endWord = end0;
      let ring = ring0;
      if (mt !== 0) {
        // Movable, Reclaimable
        endWord = end0 + 2 * mt;
        ring = ring0 + mt * capacity;
      }
      m[countWord] = count;
      // Pcp and this CPU's tag, in one store; owner 0 and refcount 1 stay as they were (pcp.ts).
      m[flagsAt] = pcpFlags;
      const end = m[endWord] as number;
      m[ring + end] = pfn;
      m[endWord] = (end + 1) & mask;
      m[freesWord] = frees;
    };
  }

  #buddyAlloc(order: number, gfp: number, mt: number, owner: number): number {
    const highest = (gfp & GFP.DMA) !== 0 ? ZoneId.DMA : this.zones.length - 1;
    for (let id = highest; id >= 0; id--) {
      const zone = this.zones[id] as Zone;
      zone.lock.acquire();
      let pfn = NO_PFN;
      try {
        // A lower zone keeps its lowmem reserve from allocations that could have used a higher one.
        if (id === highest || zone.freePages - (1 << order) >= zone.lowmemReserve) {
          pfn = rmqueueSmallest(zone, order, mt);
          if (pfn === NO_PFN && mt < MIGRATE_PCPTYPES) pfn = rmqueueFallback(this.#core, zone, order, mt);
        }
        if (pfn !== NO_PFN) {
          // Under the lock: a block off the lists and not yet marked is, to repairZone, lost and free.
          this.#prepNewPage(pfn, order, gfp, owner);
          zone.count(ZoneStat.allocBlocks);
          zone.count(ZoneStat.allocPages, 1 << order);
        }
      } finally {
        zone.lock.release();
      }
      if (pfn !== NO_PFN) return pfn;
    }
    return NO_PFN;
  }

  /**
   * Marks a block allocated. The flags keep the mobility the caller asked for (true even when
   * grouping by mobility is off and the block came from an Unmovable list), as Linux knows an LRU
   * page is movable whatever list it came from. The head first, then the tails: a holder that stops
   * half-way leaves an allocated compound head whose tails repairZone completes.
   */
  #prepNewPage(pfn: number, order: number, gfp: number, owner: number): void {
    const compound = (gfp & GFP.COMP) !== 0 && order > 0;
    const mobility = gfpMigratetype(gfp, true);
    // Not plain (PageFlag.SlowFree) with an order or an owner tag: its free takes the general path.
    const slowFree = order !== 0 || owner !== 0 ? PageFlag.SlowFree : 0;
    this.#flags[pfn] = PageFlag.Allocated | slowFree | (compound ? PageFlag.Head : 0) | (mobility << PAGE_FLAG_MT_SHIFT);
    // Counted and now allocated: nothing of this allocation is in flight for the page limit.
    if (this.#limitWord >= 0) this.#pcp[this.#limitWord] = 0;
    this.#order[pfn] = order;
    this.#refcount[pfn] = 1;
    this.memMap.mapcount[pfn] = 0;
    this.memMap.pincount[pfn] = 0;
    this.#owner[pfn] = owner;
    if (compound) {
      const end = pfn + (1 << order);
      for (let tail = pfn + 1; tail < end; tail++) {
        this.#flags[tail] = PageFlag.Tail;
        this.memMap.head[tail] = pfn;
      }
    }
  }

  #clearCompound(pfn: number, order: number): void {
    const end = pfn + (1 << order);
    for (let tail = pfn + 1; tail < end; tail++) {
      // Cheap, always on: a compound free must find every tail pointing at its head.
      if ((this.#flags[tail] as number) !== PageFlag.Tail || this.memMap.head[tail] !== pfn) {
        throw new NotAllocatedError(pfn, `compound tail ${tail} has flags 0x${(this.#flags[tail] ?? 0).toString(16)} and head ${this.memMap.head[tail]}; expected a tail pointing to ${pfn}`);
      }
    }
    for (let tail = pfn + 1; tail < end; tail++) {
      this.#flags[tail] = 0;
      this.memMap.head[tail] = NO_PFN;
    }
  }

  #countFailure(gfp: number): void {
    if ((gfp & GFP.NOWARN) !== 0) return;
    const zone = this.zones[(gfp & GFP.DMA) !== 0 ? ZoneId.DMA : this.zones.length - 1] as Zone;
    zone.lock.acquire();
    zone.count(ZoneStat.allocFailures);
    zone.lock.release();
  }

  #raiseOom(order: number, gfp: number): never {
    const reason = this.lastFailure ?? 'exhausted';
    const detail =
      reason === 'limit'
        ? `the limit of ${this.pageLimit} pages in use would be exceeded`
        : `${this.freePagesTotal} pages free, largest free blocks per zone: ${this.zones.map((z) => `${z.name} ${largestFreeOrder(z)}`).join(', ')}`;
    throw new OutOfMemoryError(order, gfp, reason, detail);
  }

  /** Works out why `freePages(pfn, order, owner)` is wrong and throws the matching error. Changes nothing. */
  /** Cheap, always on (Linux's free_page_is_bad(): "nonzero mapcount", and the _refcount that
   *  put_page_testzero() must bring to zero): the block holds no reference beyond the allocation's
   *  own (a get_page or an order-0 page's FOLL_PIN bias would raise it), and no page of it is still
   *  mapped by a page table or pinned for DMA. Checked before anything changes. (Under the
   *  zone lock the check is not repeated: a mapping or a pin takes a page its owner holds, and the
   *  owner is the one freeing it.) */
  #checkNotInUse(pfn: number, order: number): void {
    const mapcount = this.memMap.mapcount;
    const pincount = this.memMap.pincount;
    const refcount = this.#refcount;
    // The block's reference count is its first page's; at most the allocation's own may be left
    // (0: a caller that dropped it first, as put_page_testzero() does before the free).
    if ((refcount[pfn] as number) >>> 1 !== 0) throw new PageInUseError(pfn, mapcount[pfn] as number, pincount[pfn] as number, refcount[pfn] as number);
    const end = pfn + (1 << order);
    // One OR over the block, one test after it (a block of 512 pages is checked at every free of a
    // 2 MiB block); the page to name is looked for only when some page is in use.
    if (anyNonZero(mapcount, pincount, pfn, end)) {
      for (let p = pfn; p < end; p++) {
        if (((mapcount[p] as number) | (pincount[p] as number)) !== 0) throw new PageInUseError(p, mapcount[p] as number, pincount[p] as number, 1);
      }
    }
  }

  #diagnoseBadFree(pfn: number, order: number, owner: number, op: PageOp = 'free'): never {
    const flags = this.#flags[pfn] as number;
    if ((flags & PageFlag.Reserved) !== 0) {
      const region = this.header.regions().find((r) => pfn * PAGE_SIZE >= r.paddr && pfn * PAGE_SIZE < r.paddr + r.sizeBytes);
      throw new ReservedPageError(pfn, region === undefined ? 'the boot header' : `memblock region '${region.name}'`);
    }
    if ((flags & PageFlag.Slab) !== 0) throw new PageOwnerError(pfn, this.#owner[pfn] as number, owner, `a slab page: ${this.#describeOwner(pfn)}`, op);
    if ((flags & PageFlag.Allocated) !== 0) {
      if ((this.#owner[pfn] as number) !== owner) throw new PageOwnerError(pfn, this.#owner[pfn] as number, owner, this.#describeOwner(pfn), op);
      throw new WrongOrderError(pfn, order, this.#order[pfn] as number, op);
    }
    // A page on a per-CPU list carries its CPU's owner tag in its flags (pcpPageFlags).
    if ((flags & PageFlag.Pcp) !== 0) throw new DoubleFreeError(pfn, { pcpCpu: pcpFlagsCpu(flags, this.#cpus) }, op);
    const free = this.findFreeBlock(pfn);
    if (free !== null) {
      if ((flags & PageFlag.Freed) !== 0) throw new DoubleFreeError(pfn, { block: free }, op);
      throw new NotAllocatedError(pfn, `it lies in the free block at pfn ${free.pfn} of order ${free.order}`, op);
    }
    const block = this.findAllocatedBlock(pfn);
    if (block !== null && (this.#owner[block.pfn] as number) !== owner) {
      throw new PageOwnerError(pfn, this.#owner[block.pfn] as number, owner, `${this.#describeOwner(block.pfn)}; pfn ${pfn} is inside its block at pfn ${block.pfn} of order ${block.order}`, op);
    }
    throw new NotAllocatedError(
      pfn,
      block === null ? 'it is in no block' : `it lies inside the block allocated at pfn ${block.pfn} of order ${block.order}; ${op} that pfn`,
      op,
    );
  }
}

/** Whether a[p] | b[p] is non-zero for any p in [start, end): one branch for the whole range. */
function anyNonZero(a: Int32Array, b: Int32Array, start: number, end: number): boolean {
  let any = 0;
  for (let p = start; p < end; p++) any |= (a[p] as number) | (b[p] as number);
  return any !== 0;
}

/** Clears the sensitivity tags of pages [start, end) (a free page carries none: mm/secret). */
function clearSensitivityTags(flags: Uint32Array, start: number, end: number): void {
  const keep = ~PAGE_SENSITIVITY_TAGS;
  for (let p = start; p < end; p++) flags[p] = (flags[p] as number) & keep;
}

/** The index in `words` (a view of the whole arena) of element 0 of `view`, a 4-byte view of the same buffer. */
function wordIndexOf(words: Int32Array, view: Int32Array | Uint32Array): number {
  assert(view.buffer === words.buffer && words.byteOffset === 0 && (view.byteOffset & 3) === 0, () => `a struct-page or pcp view at byte ${view.byteOffset} is not a word of the arena`);
  return view.byteOffset >>> 2;
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

/**
 * The map of kmem's memory manager: the constants every mm module shares, and where each piece of
 * kernel state lives. Read this file first.
 *
 * Physical memory (one ArrayBuffer / SharedArrayBuffer, see machine/ram.ts):
 *
 *   pfn 0              the boot header: magic, boot parameters, kernel globals, the region
 *                      directory naming every range memblock reserved (see arena-header.ts)
 *   pfn 1 ..           free memory, handed to the buddy allocator at the end of boot
 *   .. nrPages-1       memblock's reservations, carved top-down as Linux's memblock does, so the
 *                      DMA zone at the bottom stays free for devices: the struct-page arrays
 *                      (mem_map.*), the pageblock migratetypes, the zone descriptors, and what
 *                      later subsystems reserve at boot
 *
 * Zones: DMA covers [0, 16 MiB) (x86's ZONE_DMA, for ISA-era devices), Normal the rest.
 *
 * struct page is a struct of arrays indexed by pfn (mem-map.ts):
 *   flags u32 | order u8 | refcount i32 | mapcount i32 | pincount i32 | owner u32 |
 *   next i32 | prev i32 | head i32 | private i32 | firstObject i32
 * Free blocks of 2^order pages are linked through next/prev of their first page, on the list of
 * (zone, order, migratetype) in the zone descriptor (zone.ts).
 *
 * Invariants of the buddy allocator (checked by PageAllocator.validate()):
 *   a free block of order o starts at a pfn with pfn mod 2^o = 0 and lies inside one zone
 *   free blocks never overlap, and no two free buddies of the same order are left unmerged
 *   every pageblock covered by a free block has the migratetype of the list that holds it
 *   Σ over lists of count · 2^order = zone free pages (buddy free, Linux's NR_FREE_PAGES)
 *   a pcp list holds Pcp pages of order 0 of its zone; 0 ≤ count < high  (pcp.ts)
 *   buddy free + Σ pcp counts + allocated + reserved = spanned
 *   an allocated block's first page records its order and owner tag; freePages(pfn, order, owner)
 *   must name both, and no slab may hold it (PageFlag.Slab clear)
 *
 * Lock order (outermost first): the slab allocator's locks (cache table → depot → a cache's slab
 * lock → a kmem_magazine_<M> slab lock → kmem_slab's slab lock: mm/slab/types.ts), then one zone
 * lock. The page allocator never holds two zone locks at once and never calls out (shrinkers run
 * with no zone lock held). A CPU's pcp lists take no lock: only the thread holding that CPU slot
 * touches them, or whoever offlines it.
 *
 * Arena-resident (survives a byte copy; every worker sees it): struct page (mem-map.ts), zone
 * descriptors and their event counters, pageblock migratetypes, every CPU's pcp lists and their
 * counters (regions 'pcp', 'pcp.vmstat'), the page-limit counter in the boot header.
 * Host-side (per wrapper, rebuilt by Kernel.attach, safe to lose): the typed-array views, the
 * BuddyCore object, which CPU slot this wrapper's pcp uses (asked again on first use; its lists
 * are in the arena, and a lost holder's lists are drained when its slot is offlined), the order-0
 * fast-path closures, the owner describer used in error messages, the check of who holds a CPU
 * slot (drainCpu), `lastFailure` (docs/buddy.md, "What a byte copy keeps").
 *
 * Assertion tiers:
 *   cheap, always on    argument and state checks of every allocPages/freePages (typed errors,
 *                       nothing changed); a compound free finds every tail pointing at its head
 *   internal, always on list operations check their precondition in one load: Zone.addFree takes
 *                       a block on no list, Zone.delFree a Buddy block of that order
 *   expensive, opt-in   boot option `pageDebug`: validate() (every list, frame and pcp, O(pages))
 *                       after every allocation and free; tests and fuzzing also call it directly
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../machine/ram.ts';

export { PAGE_SHIFT, PAGE_SIZE };

/** Largest buddy order: blocks of 2^10 pages = 4 MiB (Linux's MAX_PAGE_ORDER on x86-64). */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Pageblocks group 2^9 pages = 2 MiB, the huge-page size; each carries one migratetype. */
export const PAGEBLOCK_ORDER = 9;
export const PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER;

/** Linux's migrate types (include/linux/mmzone.h), in its order. */
export const MigrateType = {
  Unmovable: 0,
  Movable: 1,
  Reclaimable: 2,
  /** Linux reserves pageblocks here for high-order atomic allocations; kmem never does (see docs). */
  HighAtomic: 3,
} as const;
export type MigrateType = (typeof MigrateType)[keyof typeof MigrateType];
/** Types that have per-CPU lists and fall back to each other: Unmovable, Movable, Reclaimable. */
export const MIGRATE_PCPTYPES = 3;
export const MIGRATE_TYPES = 4;
/** As `migratetype_names[]` in mm/page_alloc.c (a kernel built without CMA and memory isolation). */
export const MIGRATETYPE_NAMES: readonly string[] = ['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic'];

/**
 * Where an allocation falls back when its own free lists are empty (mm/page_alloc.c `fallbacks[]`):
 * each type tries the others, the "least harmful" first.
 */
export const FALLBACKS: readonly (readonly MigrateType[])[] = [
  [MigrateType.Reclaimable, MigrateType.Movable],
  [MigrateType.Reclaimable, MigrateType.Unmovable],
  [MigrateType.Unmovable, MigrateType.Movable],
];

export const ZoneId = { DMA: 0, Normal: 1 } as const;
export type ZoneId = (typeof ZoneId)[keyof typeof ZoneId];
export const ZONE_NAMES: readonly string[] = ['DMA', 'Normal'];
export const MAX_NR_ZONES = 2;
/** x86's ZONE_DMA: the first 16 MiB, all that ISA DMA can address. */
export const DMA_ZONE_BYTES = 16 << 20;
/** Linux's default `lowmem_reserve_ratio` for DMA: a Normal-zone fallback leaves managed/256 pages. */
export const LOWMEM_RESERVE_RATIO_DMA = 256;

/** Bits of `mem_map.flags` (Linux's PG_* flags, the ones kmem models). */
export const PageFlag = {
  /** Never handed to the buddy allocator: the boot header and memblock's reservations. */
  Reserved: 1 << 0,
  /** First page of a free block on a buddy free list (Linux's PageBuddy page type). */
  Buddy: 1 << 1,
  /** First page of a block the page allocator handed out. */
  Allocated: 1 << 2,
  /** First page of a compound allocation (__GFP_COMP). */
  Head: 1 << 3,
  /** Any other page of a compound allocation; `head` holds the first page's pfn. */
  Tail: 1 << 4,
  /** Was the first page of a block that was freed: tells a double free from a stray pfn. */
  Freed: 1 << 5,
  /** The page belongs to a slab. */
  Slab: 1 << 6,
  /** A free order-0 page on a CPU's per-CPU list (pcp.ts): free to its users, not to the buddy allocator. */
  Pcp: 1 << 7,
  /**
   * Sensitivity tags (mm/secret, and every subsystem that writes RAM out): the page holds a secret
   * (memfd_secret, or memory the owner tagged). Swap never writes it, hibernation and crash dumps
   * leave it out or zero it, and it is wiped before it returns to the buddy allocator.
   */
  Sensitive: 1 << 8,
  /** Never saved in a hibernation image (Linux's PageNosave / register_nosave_region). */
  NoSave: 1 << 9,
  /** Never written to a crash dump (MADV_DONTDUMP's effect on the pages, makedumpfile's exclusion). */
  NoDump: 1 << 10,
  /** Locked in RAM: reclaim never swaps it out (PG_mlocked, mlock(2), memfd_secret). */
  Mlocked: 1 << 11,
  /**
   * An anonymous page only one page-table entry maps and no fork shares (Linux's PageAnonExclusive):
   * a write fault may reuse it in place; fork clears it when it shares the page copy-on-write.
   * Bit 15: bits 12..14 are the migrate type.
   */
  AnonExclusive: 1 << 15,
  /** On one of the LRU lists reclaim scans (PG_lru; mm/swap/lru.ts). */
  Lru: 1 << 16,
  /** On the active list (PG_active). */
  Active: 1 << 17,
  /** On the unevictable list: locked or secret, never reclaimed (PG_unevictable). */
  Unevictable: 1 << 18,
  /** Seen referenced once by reclaim: a second reference activates it (PG_referenced). */
  Referenced: 1 << 19,
  /**
   * An allocated block that is not plain (kmem's own bit; Linux has none): its free must take the
   * page allocator's general path. Plain means order 0, owner tag 0, refcount exactly 1, mapcount
   * and pincount 0; the bit is set exactly when one of those fails (PageAllocator.validate() checks
   * the equivalence on every allocated block no slab holds; MemMap.syncSlowFree keeps it after a
   * change of the refcount or the pincount). The order-0 fast free then decides with one load of
   * the flags word where it read six words (docs/benchmarks.md, "A plain page").
   */
  SlowFree: 1 << 20,
} as const;

/**
 * Bits 21..31 of a Pcp page's flags: the owner tag of the CPU whose list holds it, or held it last
 * (pcp.ts, pcpPageFlags). Written with the Pcp bit in one store, so a page is never Pcp without
 * its CPU. No other page carries these bits.
 */
export const PAGE_FLAG_PCP_TAG_SHIFT = 21;
export const PAGE_FLAG_PCP_TAG_MASK = 0x7ff << PAGE_FLAG_PCP_TAG_SHIFT;

/** The tags subsystems that write RAM out (swap, hibernation, crash dumps) must honour. */
export const PAGE_SENSITIVITY_TAGS = PageFlag.Sensitive | PageFlag.NoSave | PageFlag.NoDump | PageFlag.Mlocked;

/** The mobility an allocated block was asked for (a MigrateType), kept in its first page's flags. */
export const PAGE_FLAG_MT_SHIFT = 12;
export const PAGE_FLAG_MT_MASK = 0x7 << PAGE_FLAG_MT_SHIFT;

/** No pfn: the end of a list. */
export const NO_PFN = -1;

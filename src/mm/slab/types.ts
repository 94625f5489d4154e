/**
 * The map of the slab allocator: where every piece of its state lives in the arena, as 32-bit word
 * offsets. Read this before the other slab files.
 *
 * Region 'slab' (memblock, at boot):
 *   header      HEADER_WORDS words: cookie, cache count, table lock, CPU slots and possible
 *               CPUs, limits, and a word that always holds −1 (the round count a detached
 *               handle reads). Which thread holds which CPU slot is the kernel's (cpu-slots.ts).
 *   cache table maxCaches × CACHE_WORDS: one kmem_cache descriptor per slot (C_* below)
 *   per-CPU     maxCaches × cpus × PCPU_WORDS: each CPU's loaded and previous magazine per cache
 *               (P_* below); one 64-byte line per (cache, CPU), so CPUs never share a line
 *
 * A slab is 2^order pages from the page allocator (a compound page, as SLUB allocates them). Every
 * page of it has mem_map.owner = the cache's owner tag and mem_map.private = the paddr of its slab
 * descriptor (D_* below, 8 words): off the slab, from the internal cache kmem_slab, or, for
 * Bonwick-layout small-object caches, in the last 32 bytes of the slab itself.
 *
 * A free object carries the slab free-list link (the first word of its free word). Whether an
 * object is allocated is kept outside every object (alloc-state.ts), so that no caller's bytes can
 * fake it, in one of two modes fixed at boot (H_STATE_MODE):
 *   eager (shared arenas)  one bit of the region 'slab-state' per object: set while allocated. On a
 *                          shared arena each bit changes by one Atomics.and / Atomics.or, so of
 *                          two racing frees exactly one wins.
 *   lazy (plain arenas)    the bit is set while the object is off its slab's free list (allocated
 *                          or in a magazine); a round in a magazine also carries FREE_MARK ^ addr
 *                          in its mark word. Fast paths test the bit and the mark, change neither
 *                          the bitmap nor anything but the mark; a mark found by chance in a live
 *                          object sends its free to a search of the magazines (exact).
 *
 * A magazine is an object of a kmem_magazine_<M> cache: word 0 links it into the depot's full or
 * empty list, words 1..M hold object addresses ("rounds").
 *
 * Lock order (a thread holding one may take those to its right, never to its left):
 *   table lock → cache depot lock → cache slab lock → kmem_magazine_<M> slab lock →
 *   kmem_slab slab lock → zone lock (page allocator). The two internal caches' slab locks nest: a
 *   magazine cache's slab takes its descriptor from kmem_slab (internalTake) while it grows under
 *   its slab lock, and gives it back (internalPut) when it is released; kmem_slab's descriptors are
 *   on its own slabs, so it takes no other slab lock. destroyCache takes table → depot → slab;
 *   constructors run with the slab lock dropped; CPU-slot claims and allocation bits are single
 *   atomic words, under no lock (test/mm/slab/lock-order.test.ts watches the nestings).
 *
 * Region 'slab.lockstat' (memblock, at boot): the slab locks' contention statistics, one
 * sync/lock-stats.ts record (LOCK_STAT_COUNT float64) per lock, so that every worker's acquisitions
 * add up in one place: record 0 is the table lock's, then per cache slot i its depot lock's
 * (1 + 2i) and its slab lock's (2 + 2i) — slabLockStatRecord(). A slot's two records are zeroed,
 * under both its locks, when a new cache is given the slot (each is written only by its lock's holder).
 *
 * Arena-resident: everything above, the allocation bitmap (region 'slab-state', alloc-state.ts) and
 * the CPU slots (region 'cpus', cpu-slots.ts). Host-side, per thread, rebuilt on demand, so safe to
 * lose (a worker that dies, a copy resumed in a new process): cache handles and their cached layout
 * figures, the fast-path rows (cpu-slab.ts), constructors (registered again by name), this thread's
 * slot claim. docs/slab.md, "Resuming a byte copy", has the table.
 *
 * Invariants (checked by validate.ts):
 *   slab.inuse = objs − |slab free list|; the slab is on the empty, partial or full list by inuse
 *   every object is in exactly one place: a slab free list, a magazine, or in use
 *   a CPU's previous magazine is full or empty (Bonwick 2001, §3.1); depot magazines are full or empty
 *   C_FREE_IN_SLABS = Σ slab free lists; objects in slabs = slabs × objs (per-slab objs)
 */

export const HEADER_WORDS = 16;
/** Word 0 is unused (it held the free-marker cookie before alloc-state.ts). */
export const H_NR_CACHES = 1;
export const H_TABLE_LOCK = 2;
export const H_MAX_CACHES = 3;
export const H_CPUS = 4;
export const H_LAYOUT = 5;
/** Always −1: handles detached from their CPU point their round-count word here (cache.ts). */
export const H_NEVER = 6;
/** nr_cpu_ids, which calculate_order() sizes slabs for (the `possibleCpus` boot option). */
export const H_POSSIBLE_CPUS = 7;
/** STATE_LAZY when the slab state is lazy (booted over a plain ArrayBuffer: alloc-state.ts), else 0. */
export const H_STATE_MODE = 8;
export const STATE_LAZY = 1;
/** HAND_WORDS words: the hands of every thread that has no CPU slot (types below: HAND_*). */
export const H_NO_CPU_HANDS = 9;

/** kmem_cache descriptor words. */
export const CACHE_WORDS = 64;
export const C_STATE = 0;
export const C_FLAGS = 1;
export const C_OBJECT_SIZE = 2;
export const C_SIZE = 3;
export const C_ALIGN = 4;
export const C_INUSE = 5;
export const C_FREE_OFFSET = 6;
export const C_RED_LEFT_PAD = 7;
export const C_ORDER = 8;
export const C_OBJS = 9;
export const C_ONSLAB_HEADER = 10;
export const C_COLOUR_MAX = 11;
export const C_COLOUR_STEP = 12;
export const C_COLOUR_NEXT = 13;
export const C_ROUNDS = 14;
export const C_SLAB_LOCK = 15;
export const C_DEPOT_LOCK = 16;
/** Slab lists: the descriptor paddr of the first slab, 0 for none. */
export const C_PARTIAL = 17;
export const C_FULL = 18;
export const C_EMPTY = 19;
export const C_NR_PARTIAL = 20;
export const C_NR_FULL = 21;
export const C_NR_EMPTY = 22;
export const C_FREE_IN_SLABS = 23;
/** Depot: magazine lists (magazine paddr, 0 for none) and their lengths. */
export const C_DEPOT_FULL = 24;
export const C_DEPOT_EMPTY = 25;
export const C_NR_DEPOT_FULL = 26;
export const C_NR_DEPOT_EMPTY = 27;
/** Bumped to ask every CPU to return its magazines at its next slow path. */
export const C_DRAIN_GEN = 28;
/** The cache that holds this cache's magazines (table index + 1; 0 for none). */
export const C_MAGAZINE_CACHE = 29;
/** Bumped each time the slot is given to a new cache: part of the owner tag, so stale handles miss. */
export const C_GEN = 30;
export const C_NAME = 40;
export const NAME_BYTES = 24;
/** Event counters as float64, 8 of them, at words 48..63. */
export const C_STATS = 48;

/** The slab locks that keep statistics in 'slab.lockstat', and the record of each (see above). */
export type SlabLockName = 'table' | 'depot' | 'slab';

/** Index of the 'slab.lockstat' record of the table lock (`index` ignored) or of slot `index`'s lock. */
export function slabLockStatRecord(lock: SlabLockName, index = 0): number {
  return lock === 'table' ? 0 : 1 + 2 * index + (lock === 'slab' ? 1 : 0);
}

/** Records in 'slab.lockstat' for a table of `maxCaches` slots. */
export function slabLockStatRecords(maxCaches: number): number {
  return 1 + 2 * maxCaches;
}

/** Free → Live (createCache) → Dying (destroyCache, under the depot and slab locks) → Free. */
export const CacheState = { Free: 0, Live: 1, Dying: 2 } as const;

/** Event counters (float64 slots from C_STATS), each counted under the lock of its layer. */
export const CacheStat = {
  slabsCreated: 0,
  slabsFreed: 1,
  depotFullHits: 2,
  depotEmptyHits: 3,
  slabAllocs: 4,
  slabFrees: 5,
  orderFallbacks: 6,
  /** Pages of slabs given back to the page allocator (shrink() reports the change). */
  pagesFreed: 7,
} as const;
export type CacheStatName = keyof typeof CacheStat;

/** Per-CPU words, per (cache, CPU). */
export const PCPU_WORDS = 16;
export const P_LOADED = 0;
/** Rounds in the loaded magazine; −1 when there is none. */
export const P_ROUNDS = 1;
export const P_PREV = 2;
export const P_PREV_ROUNDS = 3;
export const P_DRAIN_GEN = 4;
/**
 * The CPU's hands (HAND_* words from here): what its slow path of this cache holds between two
 * places, so that offlining the CPU of a worker killed half-way through puts it back (repair.ts).
 */
export const P_HANDS = 5;
/** Per-CPU event counters, float64, from this word (counted by the owning CPU alone). */
export const P_STATS = 12;
export const PcpuStat = { magazineSwaps: 0 } as const;

/**
 * A CPU's hands for one cache, word offsets from P_HANDS (or, for a thread without a CPU slot, from
 * H_NO_CPU_HANDS: written, never read, since such a thread cannot be offlined). Each word is set,
 * in the same run of stores as the step that takes the thing out of its place (no call between, so
 * no point where V8 can stop a terminated worker), and cleared in the same run as the step that
 * puts it in its new place:
 *   HAND_OBJ     an object taken off its slab's free list or out of a magazine whose state bit is
 *                still clear, or one whose bit a free cleared and that is not yet in a magazine
 *                or on its free list
 *   HAND_MAG     a magazine of this cache off the depot and not yet in the CPU's words (or
 *                leaving them), HAND_ROUNDS its rounds
 *   HAND_SLAB    a slab being made or released: head pfn | order << 24, HAND_DESC its descriptor
 *                (0 until it has one)
 */
export const HAND_OBJ = 0;
export const HAND_MAG = 1;
export const HAND_ROUNDS = 2;
export const HAND_SLAB = 3;
export const HAND_DESC = 4;
export const HAND_WORDS = 5;

/** Slab descriptor words (struct slab). */
const DESC_WORDS = 8;
export const DESC_BYTES = DESC_WORDS * 4;
export const D_CACHE = 0;
export const D_INUSE = 1;
export const D_FREELIST = 2;
export const D_NEXT = 3;
export const D_PREV = 4;
/** Paddr of object 0 (colour and left red zone included). */
export const D_SMEM = 5;
export const D_OBJS = 6;
/** Head pfn | order << 24 (packPfnOrder). */
export const D_PFN_ORDER = 7;

/** A slab's head pfn and order in one word (D_PFN_ORDER, HAND_SLAB): pfn | order << 24 (pfns below 2^24). */
export function packPfnOrder(pfn: number, order: number): number {
  return pfn | (order << 24);
}

/** The head pfn of a packPfnOrder word. */
export function packedPfn(word: number): number {
  return word & 0xffffff;
}

/** The order of a packPfnOrder word. */
export function packedOrder(word: number): number {
  return word >>> 24;
}

/**
 * mem_map.owner of slab pages, the cache's owner tag: SLAB_OWNER_BASE | generation (4 bits, at 16)
 * | table index (15 bits), with SLAB_OWNER_FALLBACK added for a slab of a smaller order than its
 * cache's (its frees take the checked slow path). The generation changes each time a slot is
 * reused, so a handle to a destroyed cache never matches its successor's pages. Large kmalloc
 * blocks: KMALLOC_LARGE_OWNER on their head page. All below 2^30: V8 keeps them small integers.
 */
export const SLAB_OWNER_BASE = 0x3ab00000;
export const SLAB_OWNER_FALLBACK = 0x8000;
export const SLAB_INDEX_MASK = 0x7fff;
export const SLAB_GEN_MASK = 0xf;
export const MAX_CACHES = SLAB_INDEX_MASK + 1;
export const KMALLOC_LARGE_OWNER = 0x3ac00000;
/**
 * mem_map.owner of a new slab's pages until it is published: SLAB_GROW_OWNER | the growing CPU
 * (0x7ff for a thread without a slot), so that offlining a CPU killed half-way through a grow
 * finds its pages and no other CPU's (repair.ts).
 */
export const SLAB_GROW_OWNER = 0x3ad00000;

/** The owner tag of the pages of a slab CPU `cpu` (−1: none) is making. */
export function slabGrowOwner(cpu: number): number {
  return SLAB_GROW_OWNER | (cpu >= 0 ? cpu : 0x7ff);
}

/** The owner tag of the cache in slot `index`, generation `gen`. */
export function slabOwnerTag(index: number, gen: number): number {
  return SLAB_OWNER_BASE | ((gen & SLAB_GEN_MASK) << 16) | index;
}

/** Whether a mem_map.owner value marks a slab page; its cache slot is `owner & SLAB_INDEX_MASK`. */
export function isSlabOwner(owner: number): boolean {
  return owner >>> 20 === SLAB_OWNER_BASE >>> 20;
}

/** Poison bytes (include/linux/poison.h). */
export const Poison = {
  RED_INACTIVE: 0xbb,
  RED_ACTIVE: 0xcc,
  INUSE: 0x5a,
  FREE: 0x6b,
  END: 0xa5,
} as const;

/**
 * Internal gfp bit, outside GFP_VALID_MASK: the caller takes null on exhaustion (tryAlloc,
 * tryKmalloc). Without it an allocation returns a number or throws OutOfMemoryError.
 */
export const GFP_MAY_FAIL = 1 << 30;

/** kmalloc's 0-byte answer: ZERO_SIZE_PTR, a non-null address that may not be dereferenced. */
export const ZERO_SIZE_PTR = 16;

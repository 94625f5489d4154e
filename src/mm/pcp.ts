/**
 * Per-CPU page lists (Linux's struct per_cpu_pages, "pcp", mm/page_alloc.c): each CPU keeps, per
 * zone and per migratetype, a short list of free order-0 pages, so that most single-page
 * allocations and frees touch no lock and no shared cache line. The lists are refilled from the
 * buddy allocator `batch` pages at a time under the zone lock (rmqueue_bulk), and when a CPU's
 * count reaches `high` a `batch` of its coldest pages goes back (free_pcppages_bulk).
 *
 * Arena layout: the 'pcp' region holds, for cpu c and zone z, PCP_WORDS 32-bit words at
 * (c · MAX_NR_ZONES + z) · PCP_WORDS:
 *   [0] count: pages on the three lists   [1] high   [2] batch
 *   [3] the list the next drain starts at (free_pcppages_bulk's round robin)
 *   [4 + 2·mt] start, [5 + 2·mt] end of the list of migratetype mt (Unmovable, Movable,
 *       Reclaimable), both ring slots in [0, capacity)   [10] ring capacity (a power of two)
 *   [11] word of the first ring   [12] frees not yet folded into the f64 counter (below)
 *   [13] (zone 0's words only) the page-limit counter's in-flight pages of this CPU (P.LIMIT_IN_FLIGHT)
 * then, after every CPU's words, the lists themselves: one ring of `capacity` pfns per (cpu, zone,
 * migratetype). A list is the ring slots start, start + 1, …, end − 1 (mod capacity), its length
 * (end − start) mod capacity: the slot at start is its cold end (drains take it, refills add below
 * it), the slot before end its hot end (frees push at end, allocations pop end − 1), the order of
 * Linux's list_add / list_first_entry on pcp->lists. The slot before start always holds NO_PFN, a
 * sentinel: an allocation reads the slot before end and finds a pfn, or the sentinel when the list
 * is empty, so the hot end's operations read and write one list word (end), as a hand-written free
 * stack moves its top. An array rather than links through struct page: an order-0 pair then moves
 * one pfn through one slot (docs/benchmarks.md, "Per-CPU page lists").
 * The 'pcp.vmstat' region holds PCP_STATS f64 event counters per (cpu, zone): frees served by the
 * lists, refills and drains (batches and pages). Allocations are not counted but derived, so that
 * the allocation fast path writes no counter: every page a list ever held was refilled or freed
 * onto it, and left by an allocation or a drain, or is still there (pcpAllocs). The free fast path
 * counts in word [12], an int32 in the cache line it already writes, up to PCP_FREES_FOLD; the
 * general path folds that word into the f64 counter (pcpFoldFrees), and readers add both (pcpFrees),
 * so the count is exact at any moment.
 *
 * A page on a pcp list has flags Pcp and order 0: it is neither Buddy (the buddy allocator never
 * merges with it) nor Allocated (freeing it again is a double free). The same flags word carries
 * the CPU's owner tag (pcpPageFlags, bits 21..31), written with Pcp in one store, so that a page a
 * dead CPU had taken off its list, and not yet handed out, is found when that CPU is offlined. Its
 * owner word is 0 and its refcount 1, what a plain allocated page has (PageFlag.SlowFree): so the
 * order-0 fast paths write neither, the allocation only the flags word and the free only the flags
 * word. (Linux gives a page on a pcp list refcount 0; here the list holds the allocation's
 * reference until the page goes back to the buddy allocator, whose pages have refcount 0.)
 *
 * Invariants (PageAllocator.validate()):
 *   count = Σ over the three lists of their length;  0 ≤ count < high;  high + batch < capacity
 *   0 ≤ frees not yet folded ≤ PCP_FREES_FOLD
 *   each list: start, end in [0, capacity); the slot before start holds NO_PFN
 *   every page on a list is a Pcp page of order 0 inside the list's zone, on no other list, whose
 *   flags carry the list's CPU's tag, with owner 0, refcount 1, mapcount and pincount 0
 *   zone: reserved + buddy free + Σ pcp counts + allocated = spanned
 *
 * Locking: a CPU's lists are touched only by the thread that holds that CPU slot, so the list
 * operations are plain loads and stores, no Atomics. Moving pages between a list and the buddy
 * allocator (refill, drain) takes the zone lock. The lists of an offline CPU (no thread holds its
 * slot) are drained by whoever offlines it.
 *
 * batch and high follow Linux 6.6 (zone_batchsize(), zone_highsize() with
 * percpu_pagelist_high_fraction = 0, and __setup_per_zone_wmarks() for the low watermark):
 *   batch = rounddown_pow_of_two(b + b/2) − 1,  b = max(1, min(managed >> 10, 1 MiB / 4 KiB) / 4)
 *           (63 for a zone of 1 GiB or more; at least 1)
 *   min_free_kbytes = clamp(int_sqrt(lowmem_kbytes · 16), 128, 262144)
 *   min  = (min_free_kbytes / 4) · managed / lowmem_pages
 *   low  = min + max(min / 4, managed · watermark_scale_factor / 10000),  watermark_scale_factor 10
 *   high = max(low / online CPUs, 4 · batch)
 * Freeing when count ≥ high returns `batch` pages (6.6's nr_pcp_free with no free_factor boost).
 */
import { assert } from '../util/assert.ts';
import { MAX_NR_ZONES, MIGRATE_PCPTYPES, NO_PFN, PAGE_FLAG_PCP_TAG_MASK, PAGE_FLAG_PCP_TAG_SHIFT, PageFlag } from './types.ts';

export const P = {
  COUNT: 0,
  HIGH: 1,
  BATCH: 2,
  DRAIN_NEXT: 3,
  LISTS: 4,
  CAPACITY: 10,
  RINGS: 11,
  FREES: 12,
  /**
   * In zone 0's words of each CPU: pages by which the page-limit counter (arena header
   * PAGES_LIMITED) differs from the allocated pages because of an operation this CPU has under way
   * (+n: added for an allocation not yet marked, or a block marked free not yet subtracted; −n:
   * a block isolated and not yet added). Each change of it sits in one run of stores with the
   * change it accounts for, so offlining a CPU killed half-way corrects the counter by it.
   */
  LIMIT_IN_FLIGHT: 13,
} as const;
/** The most frees word [12] holds before the general path folds it into the f64 counter (an int32 never overflows). */
export const PCP_FREES_FOLD = 0x3fffffff;
/** Words per (cpu, zone): 4 + 2 · 3 list words, the ring capacity and place, padded to a 64-byte cache line. */
export const PCP_WORDS = 16; // pcpStatBase() and pcpZoneId() shift by its log2, 4

export const PcpStat = {
  /** Derived, never written: pcpAllocs(). */
  allocs: 0,
  frees: 1,
  refills: 2,
  refillPages: 3,
  drains: 4,
  drainPages: 5,
} as const;
export type PcpStatName = keyof typeof PcpStat;
export const PCP_STATS = 8; // pcpStatBase() shifts by its log2, 3

/** Linux's default watermark_scale_factor (10 = 0.1% of the zone between watermarks). */
const WATERMARK_SCALE_FACTOR = 10;

function roundDownPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** zone_batchsize() (Linux 6.6, CONFIG_MMU, 4 KiB pages). */
export function zoneBatchsize(managedPages: number): number {
  let batch = Math.min(managedPages >>> 10, (1 << 20) / 4096);
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  return Math.max(1, roundDownPow2(batch + (batch >>> 1)) - 1);
}

/** calculate_min_free_kbytes(): int_sqrt(lowmem_kbytes · 16), clamped to [128, 262144]. */
export function minFreeKbytes(lowmemPages: number): number {
  const lowmemKbytes = lowmemPages * 4;
  return Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKbytes * 16))));
}

/** low_wmark_pages() of a zone, as __setup_per_zone_wmarks() sets it. */
export function lowWatermarkPages(managedPages: number, lowmemPages: number): number {
  if (lowmemPages === 0) return 0;
  const pagesMin = minFreeKbytes(lowmemPages) >>> 2;
  const min = Math.floor((pagesMin * managedPages) / lowmemPages);
  const gap = Math.max(min >>> 2, Math.floor((managedPages * WATERMARK_SCALE_FACTOR) / 10000));
  return min + gap;
}

/** zone_highsize() with percpu_pagelist_high_fraction 0: the low watermark split across the CPUs. */
export function zoneHighsize(managedPages: number, lowmemPages: number, batch: number, onlineCpus: number): number {
  const high = Math.floor(lowWatermarkPages(managedPages, lowmemPages) / Math.max(1, onlineCpus));
  return Math.max(high, batch << 2);
}

/** Frees served by the lists of the pcp at word `base`: the f64 counter plus the frees not yet folded into it. */
export function pcpFrees(pcp: Int32Array, stats: Float64Array, base: number): number {
  return (stats[pcpStatBase(base) + PcpStat.frees] as number) + (pcp[base + P.FREES] as number);
}

/** Moves the frees counted in word [12] of the pcp at `base` into its f64 counter (general path only). */
export function pcpFoldFrees(pcp: Int32Array, stats: Float64Array, base: number): void {
  const pending = pcp[base + P.FREES] as number;
  if (pending === 0) return;
  const stat = pcpStatBase(base) + PcpStat.frees;
  stats[stat] = (stats[stat] as number) + pending;
  pcp[base + P.FREES] = 0;
}

/** Allocations served by the lists of the pcp at word `base`: refilled + freed − drained − still listed. */
export function pcpAllocs(pcp: Int32Array, stats: Float64Array, base: number): number {
  const stat = pcpStatBase(base);
  return (stats[stat + PcpStat.refillPages] as number) + pcpFrees(pcp, stats, base) - (stats[stat + PcpStat.drainPages] as number) - (pcp[base + P.COUNT] as number);
}

/** Word index of the pcp of (cpu, zone) in the 'pcp' region. */
export function pcpBaseOf(cpu: number, zoneId: number): number {
  return (cpu * MAX_NR_ZONES + zoneId) * PCP_WORDS;
}

/** Index of the first event counter of the pcp at word `base` in 'pcp.vmstat' (shifts: integer keys). */
export function pcpStatBase(base: number): number {
  return (base >>> 4) << 3;
}

/** The CPU of the pcp at word `base`. */
export function pcpCpu(base: number): number {
  return Math.floor((base >>> 4) / MAX_NR_ZONES);
}

/** The zone of the pcp at word `base`. */
export function pcpZoneId(base: number): number {
  return (base >>> 4) % MAX_NR_ZONES;
}

/** Word index of the start word of list `mt` of the pcp at `base` (its length is the next word). */
export function pcpList(base: number, mt: number): number {
  return base + P.LISTS + 2 * mt;
}

/** Word index of slot 0 of the ring of list `mt` of the pcp at `base`. */
export function pcpRing(w: Int32Array, base: number, mt: number): number {
  return (w[base + P.RINGS] as number) + mt * (w[base + P.CAPACITY] as number);
}

/**
 * Ring capacity for every list of a machine of `nrPages` pages and `cpus` CPUs: above high + batch
 * of any zone (a refill of an empty list may take count to high − 1 + batch). zone_highsize() only
 * grows with the zone and with lowmem, so the whole machine's figures bound every zone's.
 */
export function pcpCapacity(nrPages: number, cpus: number): number {
  const batch = zoneBatchsize(nrPages);
  const bound = zoneHighsize(nrPages, nrPages, batch, cpus) + batch + 1;
  let capacity = 1;
  while (capacity < bound) capacity *= 2;
  return capacity;
}

/** Words of the 'pcp' region: every CPU's words, then the rings. */
export function pcpRegionWords(nrPages: number, cpus: number): number {
  return cpus * MAX_NR_ZONES * (PCP_WORDS + MIGRATE_PCPTYPES * pcpCapacity(nrPages, cpus));
}

/** Pages on list `list`: (end − start) mod capacity. */
export function pcpLength(w: Int32Array, list: number, mask: number): number {
  return ((w[list + 1] as number) - (w[list] as number)) & mask;
}

/** Refuses a push that would leave no slot for the sentinel (internal tier: high + batch < capacity keeps the lists shorter). */
function assertRoom(w: Int32Array, list: number, mask: number): void {
  assert(pcpLength(w, list, mask) < mask, () => `pcp list at word ${list}: ${mask} pages already; a push would overwrite the NO_PFN sentinel below its start`);
}

/** Pushes `pfn` at the hot end of list `list`. No lock: the list is this CPU's. */
export function pcpPushHot(w: Int32Array, list: number, ring: number, mask: number, pfn: number): void {
  assertRoom(w, list, mask);
  const end = w[list + 1] as number;
  w[ring + end] = pfn;
  w[list + 1] = (end + 1) & mask;
}

/** Adds `pfn` at the cold end (a refill: the first page taken from the buddy allocator is used first); the sentinel moves below it. */
export function pcpPushCold(w: Int32Array, list: number, ring: number, mask: number, pfn: number): void {
  assertRoom(w, list, mask);
  const start = ((w[list] as number) - 1) & mask;
  w[ring + start] = pfn;
  w[ring + ((start - 1) & mask)] = NO_PFN;
  w[list] = start;
}

/** Takes the cold end's page of a list, or NO_PFN when it is empty; its slot becomes the sentinel. */
export function pcpPopCold(w: Int32Array, list: number, ring: number, mask: number): number {
  const start = w[list] as number;
  if (start === w[list + 1]) return NO_PFN;
  const pfn = w[ring + start] as number;
  w[ring + start] = NO_PFN;
  w[list] = (start + 1) & mask;
  return pfn;
}

/** Takes the hot end's page of a list, or NO_PFN when it is empty (the sentinel below start). */
export function pcpPopHot(w: Int32Array, list: number, ring: number, mask: number): number {
  const end = ((w[list + 1] as number) - 1) & mask;
  const pfn = w[ring + end] as number;
  if (pfn !== NO_PFN) w[list + 1] = end;
  return pfn;
}

/**
 * The owner tag of CPU `cpu` on the pages of its lists (in their flags: pcpPageFlags): which CPU's
 * list holds a page, or held it last. A CPU that stops between taking a page off its list and
 * handing it out (a worker killed mid-operation) leaves a Pcp page on no list; the tag tells whose
 * it was, so that offlining that CPU gives it back (PageAllocator.drainCpu) and no live CPU's page
 * is touched. 1 ≤ tag ≤ MAX_CPU_SLOTS (1024): 11 bits.
 */
function pcpOwnerTag(cpu: number): number {
  return cpu + 1;
}

/** The flags word of a page on CPU `cpu`'s lists: Pcp, and the CPU's owner tag in bits 21..31. */
export function pcpPageFlags(cpu: number): number {
  const tag = pcpOwnerTag(cpu);
  assert(tag >= 1 && tag <= PAGE_FLAG_PCP_TAG_MASK >>> PAGE_FLAG_PCP_TAG_SHIFT, () => `pcp: cpu ${cpu} has no owner tag in the flags' 11 bits`);
  return (PageFlag.Pcp | (tag << PAGE_FLAG_PCP_TAG_SHIFT)) >>> 0;
}

/** The CPU whose tag a Pcp page's flags carry (pcpPageFlags' inverse), or −1 where they name none of `cpus`. */
export function pcpFlagsCpu(flags: number, cpus: number): number {
  const tag = (flags & PAGE_FLAG_PCP_TAG_MASK) >>> PAGE_FLAG_PCP_TAG_SHIFT;
  return tag >= 1 && tag <= cpus ? tag - 1 : -1;
}

/**
 * Empties every list of one pcp, keeping its sizes (boot; drainCpu, once it has collected the
 * pages): each list starts at slot 0, with the sentinel in the slot before it, the ring's last.
 */
export function pcpEmpty(w: Int32Array, base: number): void {
  const capacity = w[base + P.CAPACITY] as number;
  for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++) {
    const list = pcpList(base, mt);
    w[list] = 0;
    w[list + 1] = 0;
    w[pcpRing(w, base, mt) + capacity - 1] = NO_PFN;
  }
  w[base + P.COUNT] = 0;
}

/** Empties every list of one pcp (boot); its rings start at word `rings`, `capacity` slots each. */
export function pcpInit(w: Int32Array, base: number, high: number, batch: number, rings: number, capacity: number): void {
  assert(high + batch < capacity && (capacity & (capacity - 1)) === 0, () => `pcpInit: high ${high} + batch ${batch} must stay below the ring capacity ${capacity}, a power of two`);
  w.fill(0, base, base + PCP_WORDS);
  w[base + P.HIGH] = high;
  w[base + P.BATCH] = batch;
  w[base + P.CAPACITY] = capacity;
  w[base + P.RINGS] = rings;
  pcpEmpty(w, base);
}

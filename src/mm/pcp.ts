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
 *   [4 + 2·mt] head pfn, [5 + 2·mt] tail pfn of the list of migratetype mt (Unmovable, Movable,
 *       Reclaimable); pages are linked through mem_map.next / .prev, NO_PFN ends a list
 * and the 'pcp.vmstat' region PCP_STATS f64 event counters per (cpu, zone): allocations and frees
 * served by the lists, refills and drains (batches and pages).
 *
 * A page on a pcp list has flags Pcp | Freed and order 0: it is neither Buddy (the buddy allocator
 * never merges with it) nor Allocated (freeing it again is a double free).
 *
 * Invariants (PageAllocator.validate()):
 *   count = Σ over the three lists of their length;  0 ≤ count < high
 *   every page on a list is a Pcp page of order 0 inside the list's zone, linked both ways
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
import { MAX_NR_ZONES, MIGRATE_PCPTYPES, NO_PFN } from './types.ts';

export const P = {
  COUNT: 0,
  HIGH: 1,
  BATCH: 2,
  DRAIN_NEXT: 3,
  LISTS: 4,
} as const;
/** Words per (cpu, zone): 4 + 2 · 3 list words, padded to a 64-byte cache line. */
export const PCP_WORDS = 16; // pcpStatBase() and pcpZoneId() shift by its log2, 4

export const PcpStat = {
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

/** Word index of the pcp of (cpu, zone) in the 'pcp' region. */
export function pcpBaseOf(cpu: number, zoneId: number): number {
  return (cpu * MAX_NR_ZONES + zoneId) * PCP_WORDS;
}

/** Index of the first event counter of the pcp at word `base` in 'pcp.vmstat' (shifts: integer keys). */
export function pcpStatBase(base: number): number {
  return (base >>> 4) << 3;
}

/** The zone of the pcp at word `base`. */
export function pcpZoneId(base: number): number {
  return (base >>> 4) % MAX_NR_ZONES;
}

/** Word index of the head of list `mt` of the pcp at `base`. */
export function pcpList(base: number, mt: number): number {
  return base + P.LISTS + 2 * mt;
}

/** Pushes `pfn` at the head (the hot end) of a list. No lock: the list is this CPU's. */
export function pcpPushHead(w: Int32Array, next: Int32Array, prev: Int32Array, list: number, pfn: number): void {
  const head = w[list] as number;
  next[pfn] = head;
  prev[pfn] = NO_PFN;
  if (head === NO_PFN) w[list + 1] = pfn;
  else prev[head] = pfn;
  w[list] = pfn;
}

/** Appends `pfn` at the tail (the cold end): refills keep the buddy allocator's order. */
export function pcpPushTail(w: Int32Array, next: Int32Array, prev: Int32Array, list: number, pfn: number): void {
  const tail = w[list + 1] as number;
  next[pfn] = NO_PFN;
  prev[pfn] = tail;
  if (tail === NO_PFN) w[list] = pfn;
  else next[tail] = pfn;
  w[list + 1] = pfn;
}

/** Takes the tail (coldest) page of a list, or NO_PFN when it is empty. */
export function pcpPopTail(w: Int32Array, next: Int32Array, prev: Int32Array, list: number): number {
  const pfn = w[list + 1] as number;
  if (pfn === NO_PFN) return NO_PFN;
  const before = prev[pfn] as number;
  w[list + 1] = before;
  if (before === NO_PFN) w[list] = NO_PFN;
  else next[before] = NO_PFN;
  return pfn;
}

/** Empties every list of one pcp (boot). */
export function pcpInit(w: Int32Array, base: number, high: number, batch: number): void {
  w.fill(0, base, base + PCP_WORDS);
  w[base + P.HIGH] = high;
  w[base + P.BATCH] = batch;
  for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++) {
    w[pcpList(base, mt)] = NO_PFN;
    w[pcpList(base, mt) + 1] = NO_PFN;
  }
}

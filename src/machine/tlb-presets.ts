/**
 * TLB geometry and cycle-cost presets. Every figure carries its source; where a vendor publishes
 * nothing (the sizes of Intel's paging-structure caches, the Zen 3 L2 TLB's hashed, skewed index),
 * the model's choice is named as such here and in docs/mmu.md. Costs are cycles added to a load by
 * translation, on top of the data access (`dataAccessCycles`).
 */
import type { TlbSpec } from './tlb.ts';
import { PAGE_SHIFT_1G, PAGE_SHIFT_2M, PAGE_SHIFT_4K } from './pte.ts';

export interface CycleCosts {
  /** Extra cycles of an L1 TLB hit: 0, the lookup overlaps the L1D access (VIPT). */
  l1HitCycles: number;
  /** Extra cycles of an L1 miss that hits the second-level TLB. */
  l2HitCycles: number;
  /** Fixed cycles of a walk beyond the L2 lookup that missed (walker start-up). */
  walkBaseCycles: number;
  /** Cycles of each paging-structure entry read by the walker (the model assumes it hits L2). */
  walkReadCycles: number;
  /** Cycles of the data access itself (an L1D hit; a data-cache model refines it). */
  dataAccessCycles: number;
}

export interface TlbPreset {
  name: string;
  description: string;
  tlb: TlbSpec;
  costs: CycleCosts;
}

export type PresetName = 'skylake' | 'zen3' | 'fully-associative';

/** Default sizes of the page-walk caches when a preset enables them. Intel documents that the
 *  caches exist (SDM vol. 3A §4.10.3) but not their sizes: these are the model's assumption. */
export const DEFAULT_WALK_CACHE = { pml4: 4, pdpt: 4, pde: 32 };

/**
 * Intel Skylake (client and server cores share it). Geometry: Intel 64 and IA-32 Architectures
 * Optimization Reference Manual (order no. 248966), table "TLB Parameters of the Skylake
 * Microarchitecture": DTLB 4 KiB 64 entries 4-way, 2 MiB/4 MiB 32 entries 4-way, 1 GiB 4 entries
 * 4-way; STLB 4 KiB + 2 MiB 1536 entries 12-way, 1 GiB 16 entries 4-way.
 * Costs: L1D load-to-use 4 cycles and L2 12 cycles (same manual, Skylake cache parameters table);
 * an STLB hit ≈ 12 cycles and a walk served from the caches ≈ 20 cycles measured on Haswell, the
 * same STLB design (RightMark Memory Analyzer, mynavi.jp 2013 Haswell review).
 */
export function skylake(walkCache = false): TlbPreset {
  return {
    name: 'skylake',
    description: 'Intel Skylake: L1 dTLB 64×4K 4-way, 32×2M 4-way, 4×1G; STLB 1536 12-way (4K+2M), 16×1G 4-way',
    tlb: {
      name: 'skylake',
      l1: [
        { name: 'L1 dTLB 4K', entries: 64, ways: 4, pageShifts: [PAGE_SHIFT_4K] },
        { name: 'L1 dTLB 2M', entries: 32, ways: 4, pageShifts: [PAGE_SHIFT_2M] },
        { name: 'L1 dTLB 1G', entries: 4, ways: 4, pageShifts: [PAGE_SHIFT_1G] },
      ],
      l2: [
        { name: 'STLB 4K+2M', entries: 1536, ways: 12, pageShifts: [PAGE_SHIFT_4K, PAGE_SHIFT_2M] },
        { name: 'STLB 1G', entries: 16, ways: 4, pageShifts: [PAGE_SHIFT_1G] },
      ],
      walkCache: walkCache ? DEFAULT_WALK_CACHE : null,
    },
    // A walk with one read (PDE-cache hit) then costs 12 + 12 = 24 cycles after the L1 miss, near
    // the ≈ 20 measured for a cached walk.
    costs: { l1HitCycles: 0, l2HitCycles: 12, walkBaseCycles: 0, walkReadCycles: 12, dataAccessCycles: 4 },
  };
}

/**
 * AMD Zen 3 (family 19h). Geometry: AMD Software Optimization Guide for AMD Family 19h Processors
 * (pub. 56665), TLB section: L1 DTLB 64 entries, fully associative, all page sizes; L2 DTLB 2048
 * entries holding 4 KiB and 2 MiB pages (1 GiB pages are held as 2 MiB pieces in L2; the model does
 * not cache 1 GiB pages in L2). The L2 is a skewed, hashed design whose index is not published: the
 * model uses 128 sets × 16 ways with modulo indexing.
 * Costs: L1D 4 cycles and L2 cache 12 cycles (same guide, cache sections). The guide gives no L2 TLB
 * hit latency; the model uses Skylake's STLB figure (12), an assumption.
 */
export function zen3(walkCache = false): TlbPreset {
  return {
    name: 'zen3',
    description: 'AMD Zen 3: L1 dTLB 64 fully associative (all sizes); L2 dTLB 2048 (4K+2M), modelled 16-way',
    tlb: {
      name: 'zen3',
      l1: [{ name: 'L1 dTLB', entries: 64, ways: 64, pageShifts: [PAGE_SHIFT_4K, PAGE_SHIFT_2M, PAGE_SHIFT_1G] }],
      l2: [{ name: 'L2 dTLB', entries: 2048, ways: 16, pageShifts: [PAGE_SHIFT_4K, PAGE_SHIFT_2M] }],
      walkCache: walkCache ? DEFAULT_WALK_CACHE : null,
    },
    costs: { l1HitCycles: 0, l2HitCycles: 12, walkBaseCycles: 0, walkReadCycles: 12, dataAccessCycles: 4 },
  };
}

/** One fully associative LRU array of `entries` entries for every page size and no second level:
 *  the textbook TLB whose miss rates have closed forms (validation). Unit costs make cycles count
 *  events: 1 per walk read. */
export function fullyAssociative(entries: number): TlbPreset {
  return {
    name: 'fully-associative',
    description: `one fully associative LRU TLB of ${entries} entries`,
    tlb: {
      name: `fa-${entries}`,
      l1: [{ name: `FA ${entries}`, entries, ways: entries, pageShifts: [PAGE_SHIFT_4K, PAGE_SHIFT_2M, PAGE_SHIFT_1G] }],
      l2: [],
      walkCache: null,
    },
    costs: { l1HitCycles: 0, l2HitCycles: 0, walkBaseCycles: 0, walkReadCycles: 1, dataAccessCycles: 0 },
  };
}

export function presetByName(name: PresetName, options: { walkCache?: boolean; entries?: number } = {}): TlbPreset {
  switch (name) {
    case 'skylake':
      return skylake(options.walkCache ?? false);
    case 'zen3':
      return zen3(options.walkCache ?? false);
    case 'fully-associative':
      return fullyAssociative(options.entries ?? 64);
  }
}

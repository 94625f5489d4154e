/**
 * Cache geometries and the cycle costs of the memory hierarchy, with where each figure comes from.
 * One table, so that the CPU model's own costs (TLB, page walk) can join it later.
 *
 * Figures from outside the project (cited, not measured here):
 *   Skylake client (Intel 64 and IA-32 Architectures Optimization Reference Manual, §2.2 "Skylake
 *   microarchitecture", table of cache parameters): L1D 32 KiB, 8-way, 64-byte lines, 4-5 cycles
 *   load-to-use; L2 256 KiB, 4-way, 12 cycles; shared L3 up to 2 MiB per core, 16-way (Core i7-6700:
 *   8 MiB, about 42 cycles as measured by 7-cpu.com "Intel Skylake").
 *   Skylake server (same manual, "Skylake Server microarchitecture"): L2 1 MiB, 16-way, 14 cycles.
 *   Zen 3 (AMD Software Optimization Guide for Family 19h Processors, §2 "cache hierarchy"): L1D 32 KiB,
 *   8-way, 64-byte lines, 4-5 cycles (4 used here: the integer load-to-use figure); L2 512 KiB, 8-way,
 *   12 cycles; L3 32 MiB per 8-core complex, 16-way, about 46 cycles on average.
 *   DRAM: 7-cpu.com gives "RAM latency = 42 cycles + 51 ns" for the i7-6700 at 4 GHz, about 250 cycles;
 *   kmem uses 250 cycles for every preset (a round figure of the same order for Zen 3's ~ 60-70 ns at
 *   ~ 4.5 GHz plus its L3 miss path).
 *
 * Model choices (not cited, stated so they can be changed): a write-combining store costs 1 cycle
 * (it only fills a buffer); emptying a WC buffer costs one posted bus write (`busWriteCycles`); a
 * cache-maintenance operation costs one L1 lookup per line, plus a bus write for each dirty line it
 * writes back.
 */

export interface CacheGeometry {
  /** 'L1D', 'L2', 'L3'. */
  name: string;
  sizeBytes: number;
  ways: number;
  lineBytes: number;
  /** Load-to-use latency of a hit at this level. */
  hitCycles: number;
}

export interface CacheCosts {
  /** A load or store that misses every cache (and an uncached access). */
  ramCycles: number;
  /** A write-combining store into its buffer. */
  wcStoreCycles: number;
  /** A posted line (or partial line) write to RAM: a WC buffer emptied, a dirty line cleaned. */
  busWriteCycles: number;
  /** One line looked up by a clean / invalidate / flush by address (clflush-like). */
  maintenanceCyclesPerLine: number;
}

export interface CachePreset {
  name: string;
  /** Private to each CPU, nearest first. */
  private: readonly CacheGeometry[];
  /** Shared by all CPUs (the last level), or none. */
  shared: CacheGeometry | null;
  costs: CacheCosts;
  /** Write-combining buffers per CPU (Intel SDM vol. 3 §11.3.1: the number is model-specific; fill buffers serve as WC buffers, 10 on Skylake per the optimisation manual). */
  wcBuffers: number;
  source: string;
}

const LINE_BYTES = 64;
const COSTS: CacheCosts = { ramCycles: 250, wcStoreCycles: 1, busWriteCycles: 40, maintenanceCyclesPerLine: 4 };

export const CACHE_PRESETS = {
  /** Skylake client core: private L1D + L2, shared L3 (8 MiB, Core i7-6700). */
  skylake: {
    name: 'skylake',
    private: [
      { name: 'L1D', sizeBytes: 32 << 10, ways: 8, lineBytes: LINE_BYTES, hitCycles: 4 },
      { name: 'L2', sizeBytes: 256 << 10, ways: 4, lineBytes: LINE_BYTES, hitCycles: 12 },
    ],
    shared: { name: 'L3', sizeBytes: 8 << 20, ways: 16, lineBytes: LINE_BYTES, hitCycles: 42 },
    costs: COSTS,
    wcBuffers: 10,
    source: 'Intel Optimization Reference Manual (Skylake client); 7-cpu.com (i7-6700)',
  },
  /** Skylake server core: private L1D + 1 MiB L2, no shared level modelled. */
  'skylake-server': {
    name: 'skylake-server',
    private: [
      { name: 'L1D', sizeBytes: 32 << 10, ways: 8, lineBytes: LINE_BYTES, hitCycles: 4 },
      { name: 'L2', sizeBytes: 1 << 20, ways: 16, lineBytes: LINE_BYTES, hitCycles: 14 },
    ],
    shared: null,
    costs: COSTS,
    wcBuffers: 10,
    source: 'Intel Optimization Reference Manual (Skylake server)',
  },
  /** Zen 3 core: private L1D + 512 KiB L2, shared 32 MiB L3. */
  zen3: {
    name: 'zen3',
    private: [
      { name: 'L1D', sizeBytes: 32 << 10, ways: 8, lineBytes: LINE_BYTES, hitCycles: 4 },
      { name: 'L2', sizeBytes: 512 << 10, ways: 8, lineBytes: LINE_BYTES, hitCycles: 12 },
    ],
    shared: { name: 'L3', sizeBytes: 32 << 20, ways: 16, lineBytes: LINE_BYTES, hitCycles: 46 },
    costs: COSTS,
    /** AMD documents write-combining buffers without a count kmem could cite: 4 is a model choice. */
    wcBuffers: 4,
    source: 'AMD Software Optimization Guide for Family 19h Processors',
  },
} as const satisfies Record<string, CachePreset>;

export type CachePresetName = keyof typeof CACHE_PRESETS;
export const CACHE_PRESET_NAMES = Object.keys(CACHE_PRESETS) as CachePresetName[];

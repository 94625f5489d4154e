/**
 * What Linux's mm/vmstat.c shows of the page allocator, computed from the live free lists:
 * /proc/buddyinfo, /proc/pagetypeinfo, and the external fragmentation and unusable free space
 * indices of /sys/kernel/debug/extfrag/. Text renderings follow the kernel's format strings, so
 * tools that parse the real files parse these.
 *
 * Fragmentation index of order o (__fragmentation_index), with free_blocks_total the free blocks of
 * every order, free_pages their pages and requested = 2^o:
 *   a block of order ≥ o is free               → -1000 (the allocation would succeed)
 *   no free block at all                        → 0
 *   otherwise 1000 − (1000 + free_pages·1000 / requested) / free_blocks_total  (integer division)
 * Near 0 a failure is for lack of memory, near 1000 for fragmentation; `extfrag_threshold` (500)
 * is the point above which Linux compacts rather than reclaims (Documentation/admin-guide/sysctl/vm.rst).
 * The unusable free space index is (free_pages − Σ pages in blocks of order ≥ o) · 1000 / free_pages.
 */
import type { LockStatValues } from '../sync/lock-stats.ts';
import type { PageAllocator, Pageset } from './page-alloc.ts';
import { pageAllocInternals } from './page-alloc.ts';
import { PcpStat, pcpAllocs, pcpBaseOf, pcpFrees, pcpStatBase } from './pcp.ts';
import type { PcpStatName } from './pcp.ts';
import {
  MAX_PAGE_ORDER,
  MIGRATE_TYPES,
  MIGRATETYPE_NAMES,
  MigrateType,
  NR_PAGE_ORDERS,
  PAGEBLOCK_NR_PAGES,
  PAGEBLOCK_ORDER,
  PageFlag,
} from './types.ts';
import type { Zone } from './zone.ts';
import { ZoneStat } from './zone.ts';
import type { ZoneStatName } from './zone.ts';

export interface ContigPageInfo {
  freePages: number;
  freeBlocksTotal: number;
  /** Free blocks of the requested order that could be carved from blocks of that order or more. */
  freeBlocksSuitable: number;
}

export function contigPageInfo(zone: Zone, order: number): ContigPageInfo {
  const info = { freePages: 0, freeBlocksTotal: 0, freeBlocksSuitable: 0 };
  for (let o = 0; o < NR_PAGE_ORDERS; o++) {
    const blocks = zone.nrFree(o);
    info.freeBlocksTotal += blocks;
    info.freePages += blocks * 2 ** o;
    if (o >= order) info.freeBlocksSuitable += blocks * 2 ** (o - order);
  }
  return info;
}

/** The external fragmentation index of `order` in thousandths: -1000, or 0..1000. */
export function fragmentationIndex(zone: Zone, order: number): number {
  const info = contigPageInfo(zone, order);
  if (info.freeBlocksTotal === 0) return 0;
  if (info.freeBlocksSuitable > 0) return -1000;
  const requested = 2 ** order;
  return 1000 - Math.floor((1000 + Math.floor((info.freePages * 1000) / requested)) / info.freeBlocksTotal);
}

/** The unusable free space index of `order` in thousandths: 0 (all free memory usable) .. 1000. */
export function unusableIndex(zone: Zone, order: number): number {
  const info = contigPageInfo(zone, order);
  if (info.freePages === 0) return 1000;
  return Math.floor(((info.freePages - info.freeBlocksSuitable * 2 ** order) * 1000) / info.freePages);
}

/** C's printf("%*d", width, n): right-aligned, zero-padded after the sign when `zero`. */
function cInt(n: number, width: number, zero: boolean): string {
  if (!zero) return String(n).padStart(width);
  const digits = String(Math.abs(n)).padStart(n < 0 ? width - 1 : width, '0');
  return n < 0 ? `-${digits}` : digits;
}

/**
 * Thousandths printed as the kernel does, with C's truncating division: "%2d.%03d" for
 * extfrag_index (-1000 → "-1.000", 930 → " 0.930", and -500, which the formula can give when
 * there are very few free blocks, → " 0.-500") and "%d.%03d" for unusable_index.
 */
function thousandths(value: number, wholeWidth: number): string {
  const whole = Math.trunc(value / 1000);
  const frac = value % 1000;
  return `${cInt(whole === 0 ? 0 : whole, wholeWidth, false)}.${cInt(frac === 0 ? 0 : frac, 3, true)}`;
}

function zoneLabel(zone: Zone): string {
  return `Node 0, zone ${zone.name.padStart(8)} `;
}

/** /proc/buddyinfo: free blocks per order, one line per zone. */
export function buddyinfo(pa: PageAllocator): string {
  let out = '';
  for (const zone of pa.zones) {
    out += zoneLabel(zone);
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) out += `${String(zone.nrFree(order)).padStart(6)} `;
    out += '\n';
  }
  return out;
}

/** Pageblocks of each migratetype in a zone (a pageblock cut by the zone's end included). */
export function pageblockCounts(pa: PageAllocator, zone: Zone): number[] {
  const counts = new Array<number>(MIGRATE_TYPES).fill(0);
  // As pagetypeinfo_showblockcount_print: step a pageblock at a time from the zone's first pfn.
  for (let pfn = zone.startPfn; pfn < zone.endPfn; pfn += PAGEBLOCK_NR_PAGES) {
    const mt = pa.pageblockMt[pfn >>> PAGEBLOCK_ORDER] ?? 0;
    counts[mt] = (counts[mt] ?? 0) + 1;
  }
  return counts;
}

/** /proc/pagetypeinfo: free blocks per order and migratetype, and pageblocks per migratetype. */
export function pagetypeinfo(pa: PageAllocator): string {
  let out = `Page block order: ${PAGEBLOCK_ORDER}\nPages per block:  ${PAGEBLOCK_NR_PAGES}\n\n`;
  out += `${'Free pages count per migrate type at order'.padEnd(43)} `;
  for (let order = 0; order <= MAX_PAGE_ORDER; order++) out += `${String(order).padStart(6)} `;
  out += '\n';
  for (const zone of pa.zones) {
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      out += `Node ${'0'.padStart(4)}, zone ${zone.name.padStart(8)}, type ${(MIGRATETYPE_NAMES[mt] ?? '').padStart(12)} `;
      for (let order = 0; order <= MAX_PAGE_ORDER; order++) out += `${String(zone.listCount(order, mt)).padStart(6)} `;
      out += '\n';
    }
  }
  out += `\n${'Number of blocks type '.padEnd(23)}`;
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) out += `${(MIGRATETYPE_NAMES[mt] ?? '').padStart(12)} `;
  out += '\n';
  for (const zone of pa.zones) {
    out += zoneLabel(zone);
    for (const count of pageblockCounts(pa, zone)) out += `${String(count).padStart(12)} `;
    out += '\n';
  }
  return out;
}

/**
 * The "pagesets" section of /proc/zoneinfo, under each zone's "Node 0, zone %8s" line, in Linux
 * 6.6's format (zoneinfo_show_print): "    cpu: %i" then count, high and batch as
 * "              count: %i", "              high:  %i", "              batch: %i". Linux prints the
 * online CPUs and a "vm stats threshold" line after each; kmem prints every CPU slot and has no
 * per-CPU vmstat deltas, so no threshold.
 */
export function zoneinfoPagesets(pa: PageAllocator): string {
  let out = '';
  const sets = pa.pagesets();
  for (const zone of pa.zones) {
    out += `Node 0, zone ${zone.name.padStart(8)}\n  pagesets`;
    for (const set of sets) {
      if (set.zone !== zone.name) continue;
      out += `\n    cpu: ${set.cpu}\n              count: ${set.count}\n              high:  ${set.high}\n              batch: ${set.batch}`;
    }
    out += '\n';
  }
  return out;
}

/** /sys/kernel/debug/extfrag/extfrag_index. */
export function extfragIndexText(pa: PageAllocator): string {
  return indexText(pa, fragmentationIndex, 2);
}

/** /sys/kernel/debug/extfrag/unusable_index. */
export function unusableIndexText(pa: PageAllocator): string {
  return indexText(pa, unusableIndex, 1);
}

function indexText(pa: PageAllocator, index: (zone: Zone, order: number) => number, wholeWidth: number): string {
  let out = '';
  for (const zone of pa.zones) {
    out += zoneLabel(zone);
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) out += `${thousandths(index(zone, order), wholeWidth)} `;
    out += '\n';
  }
  return out;
}

export interface ZoneStats {
  name: string;
  startPfn: number;
  spannedPages: number;
  managedPages: number;
  freePages: number;
  lowmemReservePages: number;
  /** Free blocks per order, all migratetypes (the buddyinfo row). */
  freeBlocks: number[];
  /** Free blocks per migratetype name, then per order (the pagetypeinfo rows). */
  freeBlocksByType: Record<string, number[]>;
  /** Pageblocks per migratetype name. */
  pageblocks: Record<string, number>;
  /** External fragmentation index per order, in thousandths (-1000 = would succeed). */
  fragmentationIndex: number[];
  /** Pages on every CPU's per-CPU lists of this zone (free, but not on the buddy lists). */
  pcpPages: number;
  /** Each CPU's per-CPU list of this zone: count, high, batch. */
  pagesets: Pageset[];
  /** Buddy-level events; allocations and frees served by the per-CPU lists are in `pcpEvents`. */
  events: Record<ZoneStatName, number>;
  /** Per-CPU list events, summed over the CPUs. */
  pcpEvents: Record<PcpStatName, number>;
  /** The zone lock's contention statistics (region 'zones.lockstat'; sync/lock-stats.ts). */
  lock: LockStatValues | null;
}

export interface PageAllocStats {
  nrPages: number;
  managedPages: number;
  /** Free pages: buddyFreePages + pcpPages. */
  freePages: number;
  /** Free pages on the buddy lists (Linux's NR_FREE_PAGES). */
  buddyFreePages: number;
  /** Free pages on the CPUs' per-CPU lists. */
  pcpPages: number;
  pcpEnabled: boolean;
  allocatedPages: number;
  groupByMobility: boolean;
  pageLimit: number;
  zones: ZoneStats[];
}

export function pageAllocStats(pa: PageAllocator): PageAllocStats {
  const zones = pa.zones.map((zone): ZoneStats => {
    const freeBlocksByType: Record<string, number[]> = {};
    const pageblocks: Record<string, number> = {};
    const counts = pageblockCounts(pa, zone);
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      const name = MIGRATETYPE_NAMES[mt] ?? String(mt);
      freeBlocksByType[name] = Array.from({ length: NR_PAGE_ORDERS }, (_, order) => zone.listCount(order, mt));
      pageblocks[name] = counts[mt] ?? 0;
    }
    const events = {} as Record<ZoneStatName, number>;
    for (const key of Object.keys(ZoneStat) as ZoneStatName[]) events[key] = zone.stat(key);
    const { pcp, pcpStats, cpus } = pageAllocInternals(pa);
    const pcpEvents = {} as Record<PcpStatName, number>;
    for (const key of Object.keys(PcpStat) as PcpStatName[]) {
      let sum = 0;
      for (let cpu = 0; cpu < cpus; cpu++) {
        const base = pcpBaseOf(cpu, zone.id);
        sum += key === 'allocs' ? pcpAllocs(pcp, pcpStats, base) : key === 'frees' ? pcpFrees(pcp, pcpStats, base) : (pcpStats[pcpStatBase(base) + PcpStat[key]] as number);
      }
      pcpEvents[key] = sum;
    }
    return {
      name: zone.name,
      startPfn: zone.startPfn,
      spannedPages: zone.spannedPages,
      managedPages: zone.managedPages,
      freePages: zone.freePages,
      lowmemReservePages: zone.lowmemReserve,
      freeBlocks: Array.from({ length: NR_PAGE_ORDERS }, (_, order) => zone.nrFree(order)),
      freeBlocksByType,
      pageblocks,
      fragmentationIndex: Array.from({ length: NR_PAGE_ORDERS }, (_, order) => fragmentationIndex(zone, order)),
      pcpPages: pa.pcpPages(zone),
      pagesets: pa.pagesets().filter((set) => set.zone === zone.name),
      events,
      pcpEvents,
      lock: zone.lock.stats?.values() ?? null,
    };
  });
  const managedPages = pa.managedPagesTotal;
  const freePages = pa.freePagesTotal;
  return {
    nrPages: pa.nrPages,
    managedPages,
    freePages,
    buddyFreePages: pa.buddyFreePagesTotal,
    pcpPages: pa.pcpPages(),
    pcpEnabled: pa.pcpEnabled,
    allocatedPages: managedPages - freePages,
    groupByMobility: pa.groupByMobility,
    pageLimit: pa.pageLimit,
    zones,
  };
}

/** One pageblock as page_owner's pagetypeinfo section sees it. */
export interface PageblockCensus {
  /** Pageblocks wholly inside a zone. */
  pageblocks: number;
  /** Pageblocks with no allocated page: every page free (an order-9 block, or pieces of one). */
  free: number;
  /** Pageblocks holding no unmovable or reclaimable allocation: compaction could empty them. */
  movableOnly: number;
  /**
   * Pageblocks holding an allocation whose migratetype differs from the pageblock's own, per
   * pageblock type (page_owner's "Number of mixed blocks").
   */
  mixed: Record<string, number>;
}

/** Whether the pageblock at `start` lies inside a free block of an order above the pageblock's. */
function insideLargerFreeBlock(flags: Uint32Array, orders: Uint8Array, start: number): boolean {
  for (let order = PAGEBLOCK_ORDER + 1; order <= MAX_PAGE_ORDER; order++) {
    const head = start - (start % (1 << order));
    if (((flags[head] as number) & PageFlag.Buddy) !== 0 && orders[head] === order) return true;
  }
  return false;
}

/** Walks every pageblock and classifies it by what is allocated in it. Takes each zone's lock. */
export function pageblockCensus(pa: PageAllocator): PageblockCensus {
  const { flags, order: orders } = pa.memMap;
  const mixedCounts = new Array<number>(MIGRATE_TYPES).fill(0);
  let pageblocks = 0;
  let free = 0;
  let movableOnly = 0;
  for (const zone of pa.zones) {
    zone.lock.acquire();
    try {
      for (let start = zone.startPfn; start + PAGEBLOCK_NR_PAGES <= zone.endPfn; start += PAGEBLOCK_NR_PAGES) {
        pageblocks++;
        const blockMt = pa.pageblockMt[start >>> PAGEBLOCK_ORDER] ?? 0;
        // A pageblock inside a larger free block (order 10 holds two) has no head of its own.
        if (insideLargerFreeBlock(flags, orders, start)) {
          free++;
          movableOnly++;
          continue;
        }
        let freePages = 0;
        let unmovable = false;
        let mixed = false;
        for (let p = start; p < start + PAGEBLOCK_NR_PAGES; ) {
          const f = flags[p] as number;
          const size = 1 << (orders[p] as number);
          if ((f & PageFlag.Buddy) !== 0) {
            freePages += Math.min(size, PAGEBLOCK_NR_PAGES);
            p += size;
          } else if ((f & PageFlag.Allocated) !== 0) {
            const mt = pa.memMap.allocMigratetype(p);
            if (mt !== MigrateType.Movable) unmovable = true;
            if (mt !== blockMt) mixed = true;
            p += size;
          } else {
            if ((f & PageFlag.Reserved) !== 0) unmovable = true;
            p++;
          }
        }
        if (freePages === PAGEBLOCK_NR_PAGES) free++;
        if (!unmovable) movableOnly++;
        if (mixed) mixedCounts[blockMt] = (mixedCounts[blockMt] ?? 0) + 1;
      }
    } finally {
      zone.lock.release();
    }
  }
  const mixed: Record<string, number> = {};
  MIGRATETYPE_NAMES.forEach((name, mt) => (mixed[name] = mixedCounts[mt] ?? 0));
  return { pageblocks, free, movableOnly, mixed };
}

/**
 * What the slab allocator shows: structured stats() per cache, /proc/slabinfo (version 2.1,
 * mm/slab_common.c's format strings: "%-17s %6lu %6lu %6u %4u %4d", " : tunables %4u %4u %4u",
 * " : slabdata %6lu %6lu %6lu"; newest cache first), and slabtop --once (procps-ng 4.0.x layout).
 *
 * Counted as SLUB counts them: num_objs is every object of every slab; active_objs is num_objs
 * minus the objects free on slab free lists, so objects in per-CPU magazines count as active (as
 * SLUB's per-CPU slabs do); objsize is the slot size s->size. Tunables and sharedavail print 0.
 * stats() says more: objects in use by callers, objects cached in magazines and in the depot,
 * and the bytes lost to slot padding and to slab slack.
 */
import { listWalk } from '../../util/arena-list.ts';
import { PAGE_SIZE } from '../types.ts';
import { SLAB_LIST_LINKS } from './context.ts';
import type { CacheContext } from './context.ts';
import {
  C_FREE_IN_SLABS,
  C_NR_DEPOT_EMPTY,
  C_NR_DEPOT_FULL,
  C_NR_EMPTY,
  C_NR_FULL,
  C_NR_PARTIAL,
  CacheStat,
  D_OBJS,
  P_PREV_ROUNDS,
  P_ROUNDS,
  P_STATS,
  PcpuStat,
  C_EMPTY,
  C_FULL,
  C_PARTIAL,
} from './types.ts';
import type { CacheStatName } from './types.ts';

export interface CacheStats {
  name: string;
  objectSize: number;
  /** Slot bytes (s->size). */
  size: number;
  align: number;
  order: number;
  objsPerSlab: number;
  pagesPerSlab: number;
  slabs: { partial: number; full: number; empty: number; total: number };
  pages: number;
  /** Objects in all slabs. */
  totalObjs: number;
  /** Objects free on slab free lists. */
  freeInSlabs: number;
  /** Objects cached in per-CPU magazines (all CPUs) and in the depot. */
  inMagazines: number;
  /** Objects held by callers. */
  inUse: number;
  /** SLUB's active_objs: totalObjs − freeInSlabs. */
  activeObjs: number;
  magazineRounds: number;
  depot: { full: number; empty: number };
  waste: {
    /** (size − objectSize) for every object in use: padding, red zones, metadata. */
    slotBytes: number;
    /** Bytes of slab pages that hold no slot (slack, colour, on-slab header). */
    slackBytes: number;
  };
  /** Event counters: the cache's own, plus magazine swaps summed over every CPU. */
  events: Record<CacheStatName | 'magazineSwaps', number>;
}

export interface SlabStats {
  caches: CacheStats[];
  totals: { caches: number; slabs: number; pages: number; totalObjs: number; activeObjs: number; inUse: number };
}

function cacheStats(cache: CacheContext, cpus: number, pcpuWord: (index: number, cpu: number) => number): CacheStats {
  const w = cache.w;
  const word = (offset: number): number => cache.word(offset);
  let totalObjs = 0;
  let pages = 0;
  for (const list of [C_PARTIAL, C_FULL, C_EMPTY]) {
    listWalk(w, cache.base + list, SLAB_LIST_LINKS, cache.services.memMap.nrPages, (desc) => {
      totalObjs += w[cache.d(desc, D_OBJS)] as number;
      pages += 1 << cache.slabPages(desc).order;
    });
  }
  let inMagazines = word(C_NR_DEPOT_FULL) * cache.rounds;
  let magazineSwaps = 0;
  for (let cpu = 0; cpu < cpus && cache.rounds > 0; cpu++) {
    const p = pcpuWord(cache.index, cpu);
    inMagazines += Math.max(0, w[p + P_ROUNDS] as number) + Math.max(0, w[p + P_PREV_ROUNDS] as number);
    magazineSwaps += cache.f64[(p + P_STATS) / 2 + PcpuStat.magazineSwaps] as number;
  }
  const freeInSlabs = word(C_FREE_IN_SLABS);
  const activeObjs = totalObjs - freeInSlabs;
  const inUse = activeObjs - inMagazines;
  const events = { magazineSwaps } as Record<CacheStatName | 'magazineSwaps', number>;
  for (const name of Object.keys(CacheStat) as CacheStatName[]) events[name] = cache.stat(name);
  const slabs = { partial: word(C_NR_PARTIAL), full: word(C_NR_FULL), empty: word(C_NR_EMPTY), total: 0 };
  slabs.total = slabs.partial + slabs.full + slabs.empty;
  return {
    name: cache.name,
    objectSize: cache.objectSize,
    size: cache.size,
    align: cache.align,
    order: cache.order,
    objsPerSlab: cache.objs,
    pagesPerSlab: 1 << cache.order,
    slabs,
    pages,
    totalObjs,
    freeInSlabs,
    inMagazines,
    inUse,
    activeObjs,
    magazineRounds: cache.rounds,
    depot: { full: word(C_NR_DEPOT_FULL), empty: word(C_NR_DEPOT_EMPTY) },
    waste: { slotBytes: (cache.size - cache.objectSize) * inUse, slackBytes: pages * PAGE_SIZE - totalObjs * cache.size },
    events,
  };
}

export function slabStats(caches: readonly CacheContext[], cpus: number, pcpuWord: (index: number, cpu: number) => number): SlabStats {
  const list = caches.map((c) => cacheStats(c, cpus, pcpuWord));
  const totals = { caches: list.length, slabs: 0, pages: 0, totalObjs: 0, activeObjs: 0, inUse: 0 };
  for (const c of list) {
    totals.slabs += c.slabs.total;
    totals.pages += c.pages;
    totals.totalObjs += c.totalObjs;
    totals.activeObjs += c.activeObjs;
    totals.inUse += c.inUse;
  }
  return { caches: list, totals };
}

const pad = (value: number | string, width: number): string => String(value).padStart(width);

/** /proc/slabinfo. */
export function slabinfoText(stats: SlabStats): string {
  let out = 'slabinfo - version: 2.1\n';
  out += '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>';
  out += ' : tunables <limit> <batchcount> <sharedfactor>';
  out += ' : slabdata <active_slabs> <num_slabs> <sharedavail>\n';
  for (const c of stats.caches) {
    out += `${c.name.padEnd(17)} ${pad(c.activeObjs, 6)} ${pad(c.totalObjs, 6)} ${pad(c.size, 6)} ${pad(c.objsPerSlab, 4)} ${pad(c.pagesPerSlab, 4)}`;
    out += ` : tunables ${pad(0, 4)} ${pad(0, 4)} ${pad(0, 4)}`;
    out += ` : slabdata ${pad(c.slabs.total, 6)} ${pad(c.slabs.total, 6)} ${pad(0, 6)}\n`;
  }
  return out;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)}K`;
}

function pct(part: number, whole: number): string {
  return `${whole === 0 ? '0.0' : ((100 * part) / whole).toFixed(1)}%`;
}

/** slabtop --once: the summary, then caches by number of objects, descending. */
export function slabtopText(stats: SlabStats): string {
  const caches = stats.caches;
  const objs = stats.totals.totalObjs;
  const active = stats.totals.activeObjs;
  const slabs = stats.totals.slabs;
  const withObjs = caches.filter((c) => c.totalObjs > 0).length;
  const totalSize = caches.reduce((s, c) => s + c.totalObjs * c.size, 0);
  const activeSize = caches.reduce((s, c) => s + c.activeObjs * c.size, 0);
  const sizes = caches.map((c) => c.size);
  const line = (label: string, value: string): string => ` ${label.padEnd(35)}: ${value}\n`;
  let out = '';
  out += line('Active / Total Objects (% used)', `${active} / ${objs} (${pct(active, objs)})`);
  out += line('Active / Total Slabs (% used)', `${slabs} / ${slabs} (${pct(slabs, slabs)})`);
  out += line('Active / Total Caches (% used)', `${withObjs} / ${caches.length} (${pct(withObjs, caches.length)})`);
  out += line('Active / Total Size (% used)', `${kib(activeSize)} / ${kib(totalSize)} (${pct(activeSize, totalSize)})`);
  out += line(
    'Minimum / Average / Maximum Object',
    `${kib(Math.min(...sizes))} / ${kib(objs === 0 ? 0 : Math.floor(totalSize / objs))} / ${kib(Math.max(...sizes))}`,
  );
  out += '\n';
  out += `${'  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME'.padEnd(78)}\n`;
  const sorted = [...caches].sort((a, b) => b.totalObjs - a.totalObjs || a.name.localeCompare(b.name));
  for (const c of sorted) {
    const use = c.totalObjs === 0 ? 0 : Math.floor((100 * c.activeObjs) / c.totalObjs);
    const cacheKib = Math.floor((c.slabs.total * c.pagesPerSlab * PAGE_SIZE) / 1024);
    out += `${pad(c.totalObjs, 6)} ${pad(c.activeObjs, 6)} ${pad(use, 3)}% ${pad(`${(c.size / 1024).toFixed(2)}K`, 8)} ${pad(c.slabs.total, 6)} ${pad(c.objsPerSlab, 8)} ${pad(`${cacheKib}K`, 10)} ${c.name.padEnd(23)}\n`;
  }
  return out;
}

/**
 * Memory compaction (Linux mm/compaction.c): moves movable pages from the bottom of a zone to free
 * pages at its top, so that free pages merge into large blocks (a 2 MiB huge page).
 *
 *   migrate scanner   from the zone's start upward, pageblock by pageblock, isolating movable pages
 *                     (anonymous order-0 pages here; with grouping by mobility only in Movable
 *                     pageblocks, as async compaction's suitable_migration_source)
 *   free scanner      from the zone's end downward, isolating free blocks in Movable pageblocks
 *                     (suitable_migration_target), split into order-0 targets; a pageblock that
 *                     starts with a free block of the wanted order or more is left whole
 *   migration         copies the page, rewrites every page-table entry that maps it (through the
 *                     reverse map), shoots down the TLBs and frees the old page (migrate_pages)
 *   finished          when the scanners meet, or when a free block of the wanted order exists
 *
 * compaction_suitable(): not worth running when an order-`order` block is free already, when the zone
 * has fewer than 2 << order free pages (compact_gap: room for the copies), or, for orders above
 * PAGE_ALLOC_COSTLY_ORDER (3), when the fragmentation index is 0 … extfrag_threshold (default 500):
 * then a failure is for lack of memory, not fragmentation. (kmem's zones have no watermarks, so the
 * gap is the whole memory check.)
 *
 * Locking: a page is migrated only when the mmap_lock of every mm that maps it can be taken at once
 * (a trylock, as async migration skips contended pages) or is held by the caller (direct compaction
 * from a fault). Zone locks are taken inside the page allocator's calls.
 *
 * Counters (Linux's /proc/vmstat names): compact_stall, compact_success, compact_fail,
 * compact_migrate_scanned, compact_free_scanned, compact_isolated, pgmigrate_success,
 * compact_daemon_wake.
 */
import { PTE_LO_FRAME_MASK } from '../../machine/pte.ts';
import { fragmentationIndex } from '../vmstat.ts';
import { MigrateType, NO_PFN, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER, PAGE_SENSITIVITY_TAGS, PageFlag } from '../types.ts';
import type { Zone } from '../zone.ts';
import type { AddressSpace } from './mm-struct.ts';
import { lruMigrate } from '../swap/lru.ts';
import { VM_OWNER_ANON } from './owners.ts';
import { PAGE_SIZE } from './types.ts';
import type { Vm } from './vm.ts';

/** sysctl vm.extfrag_threshold's default (Documentation/admin-guide/sysctl/vm.rst). */
export const EXTFRAG_THRESHOLD = 500;
/** PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

export type CompactResult = 'skipped' | 'success' | 'complete';

/** compaction_suitable(): whether compacting `zone` could make a block of `order`. */
export function compactionSuitable(zone: Zone, order: number): boolean {
  for (let o = order; o < 11; o++) if (zone.nrFree(o) > 0) return false;
  if (zone.freePages < 2 << order) return false;
  if (order > PAGE_ALLOC_COSTLY_ORDER) {
    const index = fragmentationIndex(zone, order);
    if (index >= 0 && index <= EXTFRAG_THRESHOLD) return false;
  }
  return true;
}

function hasFreeBlock(zone: Zone, order: number): boolean {
  for (let o = order; o < 11; o++) if (zone.nrFree(o) > 0) return true;
  return false;
}

/**
 * Compacts every zone that compaction_suitable() allows, until a block of `order` is free; order −1
 * compacts every zone whole, as writing /proc/sys/vm/compact_memory does. `held` is an mm whose lock
 * the caller holds.
 */
export function compactMemory(vm: Vm, order: number, held: AddressSpace | null): CompactResult {
  let result: CompactResult = 'skipped';
  for (let id = vm.pages.zones.length - 1; id >= 0; id--) {
    const zone = vm.pages.zones[id] as Zone;
    if (order >= 0 && !compactionSuitable(zone, order)) continue;
    result = compactZone(vm, zone, order, held);
    if (result === 'success') return result;
  }
  return result;
}

/** compact_zone(): runs the two scanners over one zone. */
export function compactZone(vm: Vm, zone: Zone, order: number, held: AddressSpace | null): CompactResult {
  const pages = vm.pages;
  const mem = vm.memMap;
  const targets: number[] = [];
  const start = Math.ceil(zone.startPfn / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
  let freeBlock = Math.floor((zone.endPfn - 1) / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
  const movableBlock = (pfn: number): boolean => !pages.groupByMobility || pages.pageblockMt[pfn / PAGEBLOCK_NR_PAGES] === MigrateType.Movable;
  // suitable_migration_target(): a pageblock that starts with a free block of the wanted order or
  // more (the pageblock order when compacting for no order) is what compaction is making, not a
  // source of targets: splitting it would undo the work.
  const largeOrder = order > 0 ? order : PAGEBLOCK_ORDER;
  const largeFree = (pfn: number): boolean => ((mem.flags[pfn] as number) & PageFlag.Buddy) !== 0 && (mem.order[pfn] as number) >= largeOrder;
  // The free scanner: fills `targets` from the next suitable pageblock below, above the migrate scanner.
  const refill = (above: number): boolean => {
    while (targets.length === 0 && freeBlock > above) {
      if (movableBlock(freeBlock) && !largeFree(freeBlock)) {
        for (let pfn = freeBlock; pfn < Math.min(freeBlock + PAGEBLOCK_NR_PAGES, zone.endPfn); ) {
          vm.count('compact_free_scanned');
          const order = pages.isolateFreeBlock(pfn, VM_OWNER_ANON);
          if (order < 0) {
            pfn++;
            continue;
          }
          if (order > 0) pages.splitPage(pfn, order, VM_OWNER_ANON);
          for (let i = (1 << order) - 1; i >= 0; i--) targets.push(pfn + i);
          pfn += 1 << order;
        }
      }
      freeBlock -= PAGEBLOCK_NR_PAGES;
    }
    return targets.length > 0;
  };
  let result: CompactResult = 'complete';
  try {
    for (let block = start; block < zone.endPfn && block < freeBlock + PAGEBLOCK_NR_PAGES; block += PAGEBLOCK_NR_PAGES) {
      if (!movableBlock(block)) continue;
      for (let pfn = block; pfn < Math.min(block + PAGEBLOCK_NR_PAGES, zone.endPfn); pfn++) {
        vm.count('compact_migrate_scanned');
        if ((mem.owner[pfn] as number) !== VM_OWNER_ANON || ((mem.flags[pfn] as number) & PageFlag.Allocated) === 0 || (mem.mapcount[pfn] as number) === 0 || mem.refcount[pfn] !== mem.mapcount[pfn]) continue;
        // A secret page is not migrated: a copy would go through the direct map it is missing from.
        if (((mem.flags[pfn] as number) & PageFlag.Sensitive) !== 0) continue;
        if (!refill(block)) return result;
        const target = targets.pop() as number;
        if (!migratePage(vm, pfn, target, held)) targets.push(target);
      }
      // Pages freed by migration sit on this CPU's per-CPU list until drained, and a page there
      // keeps its buddies from merging: drain as Linux's compact_zone does (drain_local_pages).
      pages.drainPages();
      if (order >= 0 && hasFreeBlock(zone, order)) {
        result = 'success';
        return result;
      }
    }
    return result;
  } finally {
    for (const pfn of targets) {
      mem.owner[pfn] = 0;
      pages.freePages(pfn, 0);
    }
    pages.drainPages();
  }
}

/** migrate_pages() for one anonymous page: copy, rewrite every mapping, free the old page. */
export function migratePage(vm: Vm, src: number, dst: number, held: AddressSpace | null): boolean {
  const mem = vm.memMap;
  const mms: AddressSpace[] = [];
  const taken: AddressSpace[] = [];
  // The mms that map it, each locked (or held by the caller) for the rewrite.
  for (let item = mem.private[src] as number; item !== 0; item = vm.w[item / 4 + 1] as number) {
    const mm = vm.wrap(vm.w[item / 4] as number);
    if (!mms.includes(mm)) mms.push(mm);
  }
  for (const mm of mms) {
    if (mm === held) continue;
    if (!mm.lock.tryAcquire()) {
      for (const t of taken) t.lock.release();
      return false;
    }
    taken.push(mm);
  }
  try {
    vm.ram.bytes.copyWithin(dst * PAGE_SIZE, src * PAGE_SIZE, (src + 1) * PAGE_SIZE);
    for (let item = mem.private[src] as number; item !== 0; item = vm.w[item / 4 + 1] as number) {
      const mm = vm.wrap(vm.w[item / 4] as number);
      const vaddr = vm.f[item / 8 + 1] as number;
      const slot = vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
      const lo = vm.u[slot] as number;
      vm.u[slot] = ((lo & ~PTE_LO_FRAME_MASK) | (dst * PAGE_SIZE)) >>> 0;
      vm.flushTlb(mm, vaddr, vaddr + PAGE_SIZE);
    }
    mem.private[dst] = mem.private[src] as number;
    mem.mapcount[dst] = mem.mapcount[src] as number;
    mem.refcount[dst] = mem.refcount[src] as number;
    mem.owner[dst] = VM_OWNER_ANON;
    mem.flags[dst] = (mem.flags[dst] as number) | ((mem.flags[src] as number) & PAGE_SENSITIVITY_TAGS);
    mem.next[dst] = NO_PFN;
    mem.flags[dst] = (mem.flags[dst] as number) | ((mem.flags[src] as number) & PageFlag.AnonExclusive);
    mem.flags[src] = (mem.flags[src] as number) & ~PageFlag.AnonExclusive;
    mem.private[src] = 0;
    mem.mapcount[src] = 0;
    lruMigrate(vm, src, dst);
    vm.pages.freePages(src, 0, mem.owner[src] as number);
    vm.count('compact_isolated');
    vm.count('pgmigrate_success');
    return true;
  } finally {
    for (const t of taken) t.lock.release();
  }
}

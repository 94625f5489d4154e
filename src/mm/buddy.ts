/**
 * The buddy allocator's list surgery (Linux's __free_one_page, __rmqueue_smallest, expand,
 * set_pageblock_migratetype), as module functions over a BuddyCore: nothing here is reachable from
 * kmem's public API, so no caller can list, split or merge a block behind the page allocator's
 * checks. Every function runs with the zone lock held.
 */
import type { MemMap } from './mem-map.ts';
import { MAX_PAGE_ORDER, MIGRATE_PCPTYPES, MigrateType, NO_PFN, PAGEBLOCK_ORDER, PageFlag } from './types.ts';
import type { Zone } from './zone.ts';
import { ZoneStat, addFree, delFree } from './zone.ts';

/** What the list surgery reads: host-side views of arena state, built once per wrapper. */
export interface BuddyCore {
  readonly memMap: MemMap;
  readonly flags: Uint32Array;
  readonly order: Uint8Array;
  /** The migratetype of each pageblock (Linux's pageblock_flags). */
  readonly pageblockMt: Uint8Array;
  readonly groupByMobility: boolean;
}

/**
 * Frees the pages [from, to) of `zone` in the largest aligned blocks that fit (memblock_free_all's
 * __free_pages_core at boot; repairZone's runs of free pages), each through freeOneBlock. Zone lock held.
 */
export function freeRange(core: BuddyCore, zone: Zone, from: number, to: number): void {
  let pfn = from;
  while (pfn < to) {
    let order = MAX_PAGE_ORDER;
    while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > to)) order--;
    freeOneBlock(core, zone, pfn, order);
    pfn += 1 << order;
  }
}

/** __free_one_page: merges with free buddies, then lists the block. Zone lock held. */
export function freeOneBlock(core: BuddyCore, zone: Zone, pfn: number, order: number): void {
  const { flags, order: orders, pageblockMt } = core;
  const mt = pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number;
  while (order < MAX_PAGE_ORDER) {
    const buddy = pfn ^ (1 << order);
    if (buddy < zone.startPfn || buddy >= zone.endPfn) break;
    if (((flags[buddy] as number) & PageFlag.Buddy) === 0 || (orders[buddy] as number) !== order) break;
    let buddyMt = mt;
    if (order >= PAGEBLOCK_ORDER) {
      buddyMt = pageblockMt[buddy >>> PAGEBLOCK_ORDER] as number;
      if (buddyMt !== mt && (buddyMt >= MIGRATE_PCPTYPES || mt >= MIGRATE_PCPTYPES)) break;
    }
    delFree(zone, buddy, order, buddyMt);
    // Match the buddy's pageblocks to ours, so that a later split lists every part correctly.
    if (buddyMt !== mt) setPageblockRange(core, buddy, order, mt);
    pfn &= buddy;
    order++;
    zone.count(ZoneStat.merges);
  }
  addFree(zone, pfn, order, mt, buddyMergeLikely(core, zone, pfn, order));
}

/** __rmqueue_smallest + expand: the smallest free block of `mt` that fits, or NO_PFN. Zone lock held. */
export function rmqueueSmallest(zone: Zone, order: number, mt: number): number {
  for (let current = order; current <= MAX_PAGE_ORDER; current++) {
    const pfn = zone.listHead(current, mt);
    if (pfn === NO_PFN) continue;
    delFree(zone, pfn, current, mt);
    expand(zone, pfn, order, current, mt);
    return pfn;
  }
  return NO_PFN;
}

/** Lists the upper halves of a block split down from order `high` to `low`. Zone lock held. */
export function expand(zone: Zone, pfn: number, low: number, high: number, mt: number): void {
  while (high > low) {
    high--;
    addFree(zone, pfn + (1 << high), high, mt, false);
    zone.count(ZoneStat.splits);
  }
}

/**
 * Sets the migratetype of every pageblock in a block of `order` at `pfn`. With grouping by
 * mobility off, every type that has fallbacks is written as Unmovable (set_pageblock_migratetype).
 */
export function setPageblockRange(core: BuddyCore, pfn: number, order: number, mt: number): void {
  if (!core.groupByMobility && mt < MIGRATE_PCPTYPES) mt = MigrateType.Unmovable;
  const first = pfn >>> PAGEBLOCK_ORDER;
  const count = order >= PAGEBLOCK_ORDER ? 1 << (order - PAGEBLOCK_ORDER) : 1;
  core.pageblockMt.fill(mt, first, first + count);
}

/** buddy_merge_likely: whether the block's buddy one order up is free, so it should go to the tail. */
function buddyMergeLikely(core: BuddyCore, zone: Zone, pfn: number, order: number): boolean {
  if (order >= MAX_PAGE_ORDER - 1) return false;
  const higher = pfn & ~((1 << (order + 1)) - 1);
  const higherBuddy = higher ^ (1 << (order + 1));
  if (higherBuddy < zone.startPfn || higherBuddy >= zone.endPfn) return false;
  return ((core.flags[higherBuddy] as number) & PageFlag.Buddy) !== 0 && (core.order[higherBuddy] as number) === order + 1;
}

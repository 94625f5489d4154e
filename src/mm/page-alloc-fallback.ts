/**
 * The page allocator's slow path: the wanted migratetype has no free block large enough, so memory
 * comes from another type's lists. This follows Linux's current form (mainline 6.15+, backported to
 * 6.12.y: __rmqueue_claim, then __rmqueue_steal, with try_to_claim_block and
 * should_try_claim_block); see docs/buddy.md for how it differs from the older __rmqueue_fallback.
 *
 * 1. Claim. From the LARGEST order down, find a fallback type (FALLBACKS[mt], in order) with a free
 *    block. If the wanted type may not claim at that order (a movable request finding a block below
 *    order 4), stop claiming. A block of pageblock order or more is claimed whole: its pageblocks are
 *    retyped and it is split onto the wanted type's lists. A smaller block's pageblock is claimed when
 *    its free pages plus the pages allocated with a compatible type are at least half the pageblock
 *    (always, with grouping by mobility off): the pageblock is retyped, its free blocks move to the
 *    tails of the wanted type's lists, and the allocation comes from there. A pageblock that fails
 *    the test is left untouched, and the search goes on at the next lower order.
 * 2. Steal. Nothing claimed: take the SMALLEST block of a fallback type that fits and split it; the
 *    leftovers stay on the fallback type's lists, so every free block stays on the list of its
 *    pageblock's type.
 *
 * Everything here runs under the zone lock.
 */
import { expand, rmqueueSmallest, setPageblockRange } from './buddy.ts';
import type { BuddyCore } from './buddy.ts';
import { FALLBACKS, MAX_PAGE_ORDER, MigrateType, NO_PFN, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER, PageFlag } from './types.ts';
import type { Zone } from './zone.ts';
import { ZoneStat, addFree, delFree } from './zone.ts';

export function rmqueueFallback(pa: BuddyCore, zone: Zone, order: number, startMt: number): number {
  const claimed = rmqueueClaim(pa, zone, order, startMt);
  if (claimed !== NO_PFN) {
    zone.count(ZoneStat.pageblockClaims);
    return claimed;
  }
  return rmqueueSteal(pa, zone, order, startMt);
}

function rmqueueClaim(pa: BuddyCore, zone: Zone, order: number, startMt: number): number {
  for (let current = MAX_PAGE_ORDER; current >= order; current--) {
    const fallbackMt = findSuitableFallback(zone, current, startMt);
    if (fallbackMt < 0) continue;
    if (!shouldTryClaimBlock(pa, current, startMt)) break;
    const pfn = tryToClaimBlock(pa, zone, zone.listHead(current, fallbackMt), current, order, startMt, fallbackMt);
    if (pfn !== NO_PFN) return pfn;
  }
  return NO_PFN;
}

function rmqueueSteal(pa: BuddyCore, zone: Zone, order: number, startMt: number): number {
  for (let current = order; current <= MAX_PAGE_ORDER; current++) {
    const fallbackMt = findSuitableFallback(zone, current, startMt);
    if (fallbackMt < 0) continue;
    const pfn = zone.listHead(current, fallbackMt);
    delFree(zone, pfn, current, fallbackMt);
    expand(zone, pfn, order, current, fallbackMt);
    zone.count(ZoneStat.fallbacks);
    return pfn;
  }
  return NO_PFN;
}

/** The first fallback type with a free block of `order`, or -1. */
function findSuitableFallback(zone: Zone, order: number, startMt: number): number {
  for (const mt of FALLBACKS[startMt] ?? []) {
    if (zone.listHead(order, mt) !== NO_PFN) return mt;
  }
  return -1;
}

/** Whether an allocation of `startMt` may try to take over the pageblock of a free block of `order`. */
function shouldTryClaimBlock(pa: BuddyCore, order: number, startMt: number): boolean {
  if (order >= PAGEBLOCK_ORDER) return true;
  return (
    order >= Math.floor(PAGEBLOCK_ORDER / 2) ||
    startMt === MigrateType.Reclaimable ||
    startMt === MigrateType.Unmovable ||
    !pa.groupByMobility
  );
}

/** Claims the pageblock(s) of the free block at `pfn` for `startMt` and allocates from them, or NO_PFN. */
function tryToClaimBlock(
  pa: BuddyCore,
  zone: Zone,
  pfn: number,
  current: number,
  order: number,
  startMt: number,
  blockMt: number,
): number {
  if (current >= PAGEBLOCK_ORDER) {
    delFree(zone, pfn, current, blockMt);
    setPageblockRange(pa, pfn, current, startMt);
    expand(zone, pfn, order, current, startMt);
    zone.count(ZoneStat.fallbacks);
    return pfn;
  }
  const blockStart = pfn - (pfn % PAGEBLOCK_NR_PAGES);
  const blockEnd = blockStart + PAGEBLOCK_NR_PAGES;
  // A pageblock cut by the zone's edge is never claimed (prep_move_freepages_block fails there).
  if (blockStart < zone.startPfn || blockEnd > zone.endPfn) return NO_PFN;
  const { flags, order: orders } = pa.memMap;
  let freePages = 0;
  let movablePages = 0;
  for (let p = blockStart; p < blockEnd; ) {
    const f = flags[p] as number;
    if ((f & PageFlag.Buddy) !== 0) {
      freePages += 1 << (orders[p] as number);
      p += 1 << (orders[p] as number);
    } else if ((f & PageFlag.Allocated) !== 0) {
      if (pa.memMap.allocMigratetype(p) === MigrateType.Movable) movablePages += 1 << (orders[p] as number);
      p += 1 << (orders[p] as number);
    } else {
      p++;
    }
  }
  let alikePages = 0;
  if (startMt === MigrateType.Movable) alikePages = movablePages;
  else if (blockMt === MigrateType.Movable) alikePages = PAGEBLOCK_NR_PAGES - (freePages + movablePages);
  if (freePages + alikePages < PAGEBLOCK_NR_PAGES / 2 && pa.groupByMobility) return NO_PFN;
  setPageblockRange(pa, blockStart, 0, startMt);
  for (let p = blockStart; p < blockEnd; ) {
    const f = flags[p] as number;
    const o = orders[p] as number;
    if ((f & PageFlag.Buddy) !== 0) {
      delFree(zone, p, o, blockMt);
      addFree(zone, p, o, startMt, true);
      p += 1 << o;
    } else if ((f & PageFlag.Allocated) !== 0) {
      p += 1 << o;
    } else {
      p++;
    }
  }
  zone.count(ZoneStat.fallbacks);
  return rmqueueSmallest(zone, order, startMt);
}

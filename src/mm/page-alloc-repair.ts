/**
 * repairZone: rebuilds a zone's free lists from struct page, run by the thread that took the zone
 * lock over from a holder that died holding it (lock-word.ts, `repair`). Linux never needs this (a
 * CPU goes offline between operations); a worker can be killed by terminate() anywhere, and V8
 * stops it at a function entry or a loop's back edge, so the holder may have stopped half-way
 * through a split, a merge, a list insertion or a refill of its per-CPU list.
 *
 * What struct page says is the truth, because every path changes a page's flags in one store, and
 * only under the zone lock does a page go through a state of no flags:
 *   Reserved                   left alone
 *   Pcp                        a CPU's (on its list, or taken off it and not yet handed out):
 *                              its flags name the CPU (pcpPageFlags), whose offline gives it
 *                              back (drainCpu)
 *   Allocated                  a block handed out (or being handed out: its owner has it), skipped
 *                              whole; a compound head gets its tails marked again (a free or an
 *                              allocation stopped half-way through them)
 *   Buddy, a clean block       a free block, wherever its list links point
 *   anything else              lost: a block taken off a list and not yet listed again or marked
 *                              (a split, a merge, a drain stopped half-way): free
 * Then every list is emptied and every free page freed again, in the largest aligned blocks, through
 * the buddy allocator's own merge (freeOneBlock), which lists each block by its pageblock's type.
 * The lists, their counts and the zone's free count are rebuilt; the event counters may miss the
 * one operation that was cut short. O(pages of the zone), once per takeover.
 *
 * Postcondition: PageAllocator.validate() passes for the zone, but for the Pcp pages of a CPU not
 * yet offlined.
 */
import { InvariantError } from '../util/errors.ts';
import { freeRange } from './buddy.ts';
import type { BuddyCore } from './buddy.ts';
import { MAX_PAGE_ORDER, NO_PFN, PAGE_SENSITIVITY_TAGS, PageFlag } from './types.ts';
import { resetFreeLists } from './zone.ts';
import type { Zone } from './zone.ts';

/** Flags no page in a free block may carry. */
const NOT_FREE = PageFlag.Buddy | PageFlag.Allocated | PageFlag.Reserved | PageFlag.Pcp;

/** Rebuilds `zone`'s free lists (see the file comment); returns the pages it found lost and freed. Zone lock held. */
export function repairZone(core: BuddyCore, zone: Zone): number {
  const { flags, order: orders } = core;
  const { head, refcount, owner } = core.memMap;
  const start = zone.startPfn;
  const end = zone.endPfn;
  const free = new Uint8Array(zone.spannedPages);
  let lost = 0;
  for (let pfn = start; pfn < end; ) {
    const f = flags[pfn] as number;
    if ((f & (PageFlag.Reserved | PageFlag.Pcp)) !== 0) {
      pfn++;
      continue;
    }
    const size = 1 << (orders[pfn] as number);
    const whole = (orders[pfn] as number) <= MAX_PAGE_ORDER && pfn % size === 0 && pfn + size <= end;
    if ((f & PageFlag.Allocated) !== 0) {
      if (!whole) throw new InvariantError(`zone ${zone.name} repair: allocated pfn ${pfn} records order ${orders[pfn]}, which makes no block of the zone`);
      if ((f & PageFlag.Head) !== 0) {
        for (let tail = pfn + 1; tail < pfn + size; tail++) {
          flags[tail] = PageFlag.Tail;
          head[tail] = pfn;
        }
      }
      pfn += size;
      continue;
    }
    if ((f & PageFlag.Buddy) !== 0 && whole && cleanInside(flags, pfn, size)) {
      flags[pfn] = f & ~PageFlag.Buddy;
      free.fill(1, pfn - start, pfn - start + size);
      pfn += size;
      continue;
    }
    // Lost: no state, a stale Freed or Tail flag, or a Buddy head over a block that is not whole.
    flags[pfn] = f & PageFlag.Freed;
    head[pfn] = NO_PFN;
    refcount[pfn] = 0;
    owner[pfn] = 0;
    free[pfn - start] = 1;
    lost++;
    pfn++;
  }
  resetFreeLists(zone);
  // Each run of free pages, in the largest aligned blocks (freeRange).
  for (let pfn = start; pfn < end; ) {
    if (free[pfn - start] === 0) {
      pfn++;
      continue;
    }
    let runEnd = pfn + 1;
    while (runEnd < end && free[runEnd - start] !== 0) runEnd++;
    freeRange(core, zone, pfn, runEnd);
    pfn = runEnd;
  }
  return lost;
}

/** Whether no page after the first of the block at `pfn` carries a flag a free block's page may not. */
function cleanInside(flags: Uint32Array, pfn: number, size: number): boolean {
  for (let p = pfn + 1; p < pfn + size; p++) if (((flags[p] as number) & (NOT_FREE | PAGE_SENSITIVITY_TAGS)) !== 0) return false;
  return true;
}

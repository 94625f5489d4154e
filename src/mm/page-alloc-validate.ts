/**
 * PageAllocator.validate(): walks every free list and every frame and checks every invariant of the
 * buddy allocator (types.ts). O(pages); for tests, fuzzing and debug runs, not hot paths.
 *
 *   lists     each block is a Buddy head of the list's order, inside its zone, aligned to its order,
 *             linked both ways; count and tail pointer agree with the walk
 *   types     every pageblock a free block covers has the list's migratetype
 *   merging   no free block has a free buddy of the same order
 *   pcp       every CPU's per-CPU list of every zone: Pcp pages of order 0 inside the zone, with
 *             the CPU's owner tag, as many as the pcp's count, count < high; batch ≥ 1
 *   frames    every frame is exactly one of: reserved, in a free block, in an allocated block;
 *             allocated blocks are aligned and inside their zone; compound tails point to their head
 *   counts    Σ free blocks = zone free; reserved + free + pcp + allocated = spanned; managed = spanned -
 *             reserved; with a page limit, the limit's counter = pages allocated, and no CPU has
 *             pages in flight for it (P.LIMIT_IN_FLIGHT)
 */
import { InvariantError } from '../util/errors.ts';
import { H } from './arena-header.ts';
import type { PageAllocator } from './page-alloc.ts';
import { pageAllocInternals } from './page-alloc.ts';
import { P, PCP_FREES_FOLD, pcpBaseOf, pcpLength, pcpList, pcpPageFlags, pcpRing } from './pcp.ts';
import {
  MAX_PAGE_ORDER,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  MIGRATETYPE_NAMES,
  NO_PFN,
  PAGEBLOCK_ORDER,
  PAGE_FLAG_PCP_TAG_MASK,
  PAGE_SENSITIVITY_TAGS,
  PageFlag,
} from './types.ts';
import type { Zone } from './zone.ts';

const FREE = 1;
const ALLOCATED = 2;
const PCP = 3;

export function validatePageAllocator(pa: PageAllocator): void {
  const covered = new Uint8Array(pa.nrPages);
  let allocatedTotal = 0;
  for (const zone of pa.zones) {
    zone.lock.acquire();
    try {
      validateFreeLists(pa, zone, covered);
      const pcpPages = validatePcpLists(pa, zone, covered);
      allocatedTotal += validateFrames(pa, zone, covered, pcpPages);
      zone.lock.stats?.validate(`zone ${zone.name}`);
    } finally {
      zone.lock.release();
    }
  }
  const { pcp, cpus } = pageAllocInternals(pa);
  for (let cpu = 0; cpu < cpus; cpu++) {
    const inFlight = pcp[pcpBaseOf(cpu, 0) + P.LIMIT_IN_FLIGHT] as number;
    if (inFlight !== 0) fail(`cpu ${cpu}: ${inFlight} pages in flight for the page limit, expected 0 between operations (offline a CPU whose worker died)`);
  }
  if (pa.pageLimit > 0) {
    const counted = pa.header.get(H.PAGES_LIMITED);
    if (counted !== allocatedTotal) fail(`page limit counter ${counted}, expected ${allocatedTotal} pages allocated`);
  }
}

function validateFreeLists(pa: PageAllocator, zone: Zone, covered: Uint8Array): void {
  const { flags, order: orders, next, prev } = pa.memMap;
  let freeSum = 0;
  for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      const where = `zone ${zone.name} order ${order} ${MIGRATETYPE_NAMES[mt]}`;
      const count = zone.listCount(order, mt);
      let walked = 0;
      let last = NO_PFN;
      for (let pfn = zone.listHead(order, mt); pfn !== NO_PFN; pfn = next[pfn] as number) {
        if (walked > count) fail(`${where}: list longer than its count ${count} (a cycle?)`);
        if (!zone.contains(pfn) || pfn + (1 << order) > zone.endPfn) fail(`${where}: block at pfn ${pfn} is outside the zone`);
        if (pfn % (1 << order) !== 0) fail(`${where}: block at pfn ${pfn} is not aligned to its order`);
        if (((flags[pfn] as number) & PageFlag.Buddy) === 0) fail(`${where}: block at pfn ${pfn} lacks the Buddy flag`);
        if (orders[pfn] !== order) fail(`${where}: block at pfn ${pfn} records order ${orders[pfn]}`);
        if (prev[pfn] !== last) fail(`${where}: block at pfn ${pfn} has prev ${prev[pfn]}, expected ${last}`);
        const firstBlock = pfn >>> PAGEBLOCK_ORDER;
        const lastBlock = (pfn + (1 << order) - 1) >>> PAGEBLOCK_ORDER;
        for (let b = firstBlock; b <= lastBlock; b++) {
          if (pa.pageblockMt[b] !== mt) fail(`${where}: block at pfn ${pfn} lies in pageblock ${b} of type ${MIGRATETYPE_NAMES[pa.pageblockMt[b] ?? 0]}`);
        }
        for (let p = pfn; p < pfn + (1 << order); p++) {
          if (covered[p] !== 0) fail(`${where}: block at pfn ${pfn} overlaps another free block at pfn ${p}`);
          covered[p] = FREE;
        }
        freeSum += 1 << order;
        last = pfn;
        walked++;
      }
      if (walked !== count) fail(`${where}: walked ${walked} blocks, count says ${count}`);
      if (zone.listTail(order, mt) !== last) fail(`${where}: tail ${zone.listTail(order, mt)}, expected ${last}`);
    }
  }
  if (freeSum !== zone.freePages) fail(`zone ${zone.name}: free lists hold ${freeSum} pages, zone counts ${zone.freePages}`);
  // No two free buddies left unmerged.
  for (let order = 0; order < MAX_PAGE_ORDER; order++) {
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      for (let pfn = zone.listHead(order, mt); pfn !== NO_PFN; pfn = next[pfn] as number) {
        const buddy = pfn ^ (1 << order);
        if (zone.contains(buddy) && ((flags[buddy] as number) & PageFlag.Buddy) !== 0 && orders[buddy] === order) {
          fail(`zone ${zone.name}: free buddies at pfn ${pfn} and ${buddy} of order ${order} are not merged`);
        }
      }
    }
  }
}

/** Walks every CPU's per-CPU lists of the zone; returns the pages on them. */
function validatePcpLists(pa: PageAllocator, zone: Zone, covered: Uint8Array): number {
  const { pcp, cpus } = pageAllocInternals(pa);
  const { flags, order: orders, owner, refcount } = pa.memMap;
  let total = 0;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const pcpFlags = pcpPageFlags(cpu);
    const base = pcpBaseOf(cpu, zone.id);
    const count = pcp[base + P.COUNT] as number;
    const high = pcp[base + P.HIGH] as number;
    const where = `zone ${zone.name} cpu ${cpu} pcp`;
    if ((pcp[base + P.BATCH] as number) < 1) fail(`${where}: batch ${pcp[base + P.BATCH]}, expected at least 1`);
    if (count < 0 || count >= high) fail(`${where}: count ${count}, expected 0 <= count < high ${high}`);
    const frees = pcp[base + P.FREES] as number;
    if (frees < 0 || frees > PCP_FREES_FOLD) fail(`${where}: ${frees} frees not yet folded, expected 0 <= frees <= ${PCP_FREES_FOLD}`);
    const capacity = pcp[base + P.CAPACITY] as number;
    if (high + (pcp[base + P.BATCH] as number) >= capacity) fail(`${where}: high ${high} + batch ${pcp[base + P.BATCH]} does not fit its rings of ${capacity} pages`);
    let walked = 0;
    for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++) {
      const list = pcpList(base, mt);
      const start = pcp[list] as number;
      const end = pcp[list + 1] as number;
      const ring = pcpRing(pcp, base, mt);
      if (start < 0 || start >= capacity || end < 0 || end >= capacity) fail(`${where} ${MIGRATETYPE_NAMES[mt]}: start ${start} end ${end}, expected both in [0, ${capacity})`);
      const sentinel = pcp[ring + ((start - 1) & (capacity - 1))] as number;
      if (sentinel !== NO_PFN) fail(`${where} ${MIGRATETYPE_NAMES[mt]}: the slot before start ${start} holds ${sentinel}, expected the sentinel ${NO_PFN}`);
      const length = pcpLength(pcp, list, capacity - 1);
      for (let i = 0; i < length; i++) {
        const pfn = pcp[ring + ((start + i) & (capacity - 1))] as number;
        if (!zone.contains(pfn)) fail(`${where} ${MIGRATETYPE_NAMES[mt]}: pfn ${pfn} is outside the zone`);
        if (flags[pfn] !== pcpFlags || orders[pfn] !== 0) fail(`${where} ${MIGRATETYPE_NAMES[mt]}: pfn ${pfn} has flags 0x${(flags[pfn] ?? 0).toString(16)} order ${orders[pfn]}, expected a Pcp page of order 0 with its CPU's tag, flags 0x${pcpFlags.toString(16)}`);
        // What the order-0 fast allocation hands out without writing: a plain page's owner and refcount.
        if (owner[pfn] !== 0 || refcount[pfn] !== 1) fail(`${where} ${MIGRATETYPE_NAMES[mt]}: pfn ${pfn} has owner tag ${owner[pfn]} and refcount ${refcount[pfn]}, expected 0 and 1 on a Pcp page`);
        if (covered[pfn] !== 0) fail(`${where}: pfn ${pfn} is also on another list`);
        covered[pfn] = PCP;
        walked++;
      }
    }
    if (walked !== count) fail(`${where}: walked ${walked} pages, count says ${count}`);
    total += count;
  }
  return total;
}

/** Checks every frame of the zone; returns the pages in allocated blocks. */
function validateFrames(pa: PageAllocator, zone: Zone, covered: Uint8Array, pcpPages: number): number {
  const memMap = pa.memMap;
  const { flags, order: orders, head, mapcount, pincount } = memMap;
  // Every free page (in a free block or on a per-CPU list) is mapped by no page table and pinned by
  // nobody: every free checks it, and the order-0 fast allocation relies on it (it does not write them).
  const unmapped = (pfn: number): void => {
    if (((mapcount[pfn] as number) | (pincount[pfn] as number)) !== 0) fail(`zone ${zone.name}: free pfn ${pfn} has mapcount ${mapcount[pfn]} and pincount ${pincount[pfn]}; expected 0 and 0 on a free page`);
  };
  let reserved = 0;
  let allocated = 0;
  for (let pfn = zone.startPfn; pfn < zone.endPfn; ) {
    const f = flags[pfn] as number;
    if (covered[pfn] === PCP) {
      unmapped(pfn);
      pfn++;
    } else if ((f & PageFlag.Pcp) !== 0) {
      fail(`zone ${zone.name}: pfn ${pfn} is marked Pcp but is on no CPU's list`);
    } else if ((f & (PAGE_FLAG_PCP_TAG_MASK | PageFlag.SlowFree)) !== 0 && (f & PageFlag.Allocated) === 0) {
      fail(`zone ${zone.name}: pfn ${pfn} has flags 0x${f.toString(16)}: a CPU's tag or SlowFree on a page that is neither Pcp nor allocated`);
    } else if (covered[pfn] === FREE) {
      if ((f & PageFlag.Buddy) === 0) fail(`zone ${zone.name}: free pfn ${pfn} is inside a free block but marked as its head`);
      if ((f & PAGE_SENSITIVITY_TAGS) !== 0) fail(`zone ${zone.name}: free pfn ${pfn} has sensitivity tags 0x${(f & PAGE_SENSITIVITY_TAGS).toString(16)}; expected none on a free page`);
      const size = 1 << (orders[pfn] as number);
      for (let p = pfn; p < pfn + size; p++) unmapped(p);
      for (let p = pfn + 1; p < pfn + size; p++) {
        if (((flags[p] as number) & (PageFlag.Buddy | PageFlag.Allocated | PageFlag.Reserved | PageFlag.Pcp | PAGE_SENSITIVITY_TAGS)) !== 0) {
          fail(`zone ${zone.name}: pfn ${p} inside the free block at ${pfn} has flags 0x${(flags[p] ?? 0).toString(16)}`);
        }
      }
      pfn += size;
    } else if ((f & PageFlag.Reserved) !== 0) {
      if ((f & (PageFlag.Buddy | PageFlag.Allocated)) !== 0) fail(`zone ${zone.name}: reserved pfn ${pfn} is also free or allocated`);
      reserved++;
      pfn++;
    } else if ((f & PageFlag.Allocated) !== 0) {
      const order = orders[pfn] as number;
      const size = 1 << order;
      if (order > MAX_PAGE_ORDER || pfn % size !== 0 || pfn + size > zone.endPfn) {
        fail(`zone ${zone.name}: allocated block at pfn ${pfn} of order ${order} is misaligned or crosses the zone's end`);
      }
      if ((f & PageFlag.Buddy) !== 0) fail(`zone ${zone.name}: allocated pfn ${pfn} is also marked free`);
      if ((f & PAGE_FLAG_PCP_TAG_MASK) !== 0) fail(`zone ${zone.name}: allocated pfn ${pfn} has flags 0x${f.toString(16)}, with a CPU's tag`);
      // A slab's pages are the slab layer's (their owner is the cache's tag); every other block is
      // plain exactly when SlowFree is clear: what the order-0 fast free decides by.
      if ((f & PageFlag.Slab) === 0 && ((f & PageFlag.SlowFree) !== 0) !== memMap.needsSlowFree(pfn)) {
        fail(
          `zone ${zone.name}: allocated pfn ${pfn} has SlowFree ${(f & PageFlag.SlowFree) !== 0 ? 'set' : 'clear'} but order ${orders[pfn]}, owner ${memMap.owner[pfn]}, refcount ${memMap.refcount[pfn]}, mapcount ${mapcount[pfn]}, pincount ${pincount[pfn]}: expected it set exactly when the block is not plain`,
        );
      }
      for (let p = pfn + 1; p < pfn + size; p++) {
        const tf = flags[p] as number;
        if (covered[p] !== 0 || (tf & (PageFlag.Buddy | PageFlag.Allocated | PageFlag.Reserved | PageFlag.Pcp)) !== 0) {
          fail(`zone ${zone.name}: pfn ${p} inside the allocated block at ${pfn} is also free, allocated or reserved`);
        }
        if ((f & PageFlag.Head) !== 0 && (tf !== PageFlag.Tail || head[p] !== pfn)) {
          fail(`zone ${zone.name}: compound tail ${p} of head ${pfn} has flags 0x${tf.toString(16)} head ${head[p]}`);
        }
        covered[p] = ALLOCATED;
      }
      covered[pfn] = ALLOCATED;
      allocated += size;
      pfn += size;
    } else {
      fail(`zone ${zone.name}: pfn ${pfn} is lost: neither free, allocated nor reserved (flags 0x${f.toString(16)})`);
    }
  }
  const free = zone.freePages;
  if (reserved + free + pcpPages + allocated !== zone.spannedPages) {
    fail(`zone ${zone.name}: reserved ${reserved} + free ${free} + pcp ${pcpPages} + allocated ${allocated} != spanned ${zone.spannedPages}`);
  }
  if (zone.managedPages !== zone.spannedPages - reserved) {
    fail(`zone ${zone.name}: managed ${zone.managedPages}, expected spanned - reserved = ${zone.spannedPages - reserved}`);
  }
  return allocated;
}

function fail(message: string): never {
  throw new InvariantError(`page allocator: ${message}`);
}

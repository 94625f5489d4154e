import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import {
  DoubleFreeError,
  NotAllocatedError,
  OrderError,
  OutOfMemoryError,
  PfnRangeError,
  ReservedPageError,
  WrongOrderError,
} from '../../src/mm/errors.ts';
import { MigrateType, PAGE_SIZE, PageFlag, ZoneId } from '../../src/mm/types.ts';
import { ArgumentError } from '../../src/util/errors.ts';

function boot(ram = '32MiB', extra: Partial<Parameters<typeof Kernel.boot>[0]> = {}): Kernel {
  return Kernel.boot({ ramBytes: ram, ...extra });
}

test('allocations are aligned to their order and come from the Normal zone first', () => {
  const kernel = boot();
  for (let order = 0; order <= 10; order++) {
    const pfn = kernel.pages.allocPages(order, GFP.KERNEL);
    assert.ok(pfn !== null);
    assert.equal(pfn % (1 << order), 0);
    assert.equal(kernel.pages.zoneOf(pfn).id, ZoneId.Normal);
    kernel.validate();
  }
});

test('GFP.DMA allocates below 16 MiB', () => {
  const kernel = boot();
  const pfn = kernel.pages.allocPages(2, GFP.DMA);
  assert.ok(pfn !== null && pfn * PAGE_SIZE < 16 << 20);
});

test('GFP.ZERO zeroes the block; without it the old bytes stay', () => {
  const kernel = boot();
  const pfn = kernel.pages.allocPages(1, GFP.KERNEL);
  assert.ok(pfn !== null);
  kernel.ram.bytes.fill(0xab, pfn * PAGE_SIZE, (pfn + 2) * PAGE_SIZE);
  kernel.pages.freePages(pfn, 1);
  const again = kernel.pages.allocPages(1, GFP.KERNEL);
  assert.equal(again, pfn, 'LIFO free lists hand the same block back');
  assert.equal(kernel.ram.bytes[pfn * PAGE_SIZE], 0xab);
  kernel.pages.freePages(pfn, 1);
  const zeroed = kernel.pages.allocPages(1, GFP.KERNEL | GFP.ZERO);
  assert.equal(zeroed, pfn);
  assert.ok(kernel.ram.bytes.subarray(pfn * PAGE_SIZE, (pfn + 2) * PAGE_SIZE).every((b) => b === 0));
});

test('GFP.COMP makes a compound page whose tails point to the head', () => {
  const kernel = boot();
  const pfn = kernel.pages.allocPages(3, GFP.KERNEL | GFP.COMP);
  assert.ok(pfn !== null);
  const { flags, head } = kernel.memMap;
  assert.ok(((flags[pfn] ?? 0) & PageFlag.Head) !== 0);
  for (let tail = pfn + 1; tail < pfn + 8; tail++) {
    assert.equal(flags[tail], PageFlag.Tail);
    assert.equal(head[tail], pfn);
  }
  kernel.validate();
  kernel.pages.freePages(pfn, 3);
  for (let tail = pfn + 1; tail < pfn + 8; tail++) assert.equal(flags[tail], 0);
  kernel.validate();
});

test('splitting hands out the lowest part and freeing merges buddies back', () => {
  const kernel = boot('16MiB');
  const before = kernel.pages.stats().zones.map((z) => z.freeBlocks);
  const pfns = Array.from({ length: 64 }, () => kernel.pages.allocPages(0, GFP.HIGHUSER_MOVABLE) as number);
  kernel.validate();
  for (const pfn of pfns.reverse()) kernel.pages.freePages(pfn, 0);
  kernel.validate();
  // The freed pages wait on this CPU's per-CPU list; drained, they merge back.
  assert.equal(kernel.pages.pcpPages(), kernel.pages.drainPages());
  kernel.validate();
  assert.deepEqual(
    kernel.pages.stats().zones.map((z) => z.freeBlocks),
    before,
  );
});

test('misuse is a typed error naming the frame, and changes nothing', () => {
  const kernel = boot();
  const pa = kernel.pages;
  const pfn = pa.allocPages(2, GFP.KERNEL) as number;
  const free = pa.freePagesTotal;
  const check = (fn: () => void, type: new (...args: never[]) => Error, text: RegExp): void => {
    assert.throws(fn, (e: unknown) => e instanceof type && text.test((e as Error).message));
    assert.equal(pa.freePagesTotal, free);
    kernel.validate();
  };
  check(() => pa.freePages(pfn, 1), WrongOrderError, /expected order 2/);
  check(() => pa.freePages(pfn + 1, 0), NotAllocatedError, /inside the block allocated at pfn \d+ of order 2/);
  check(() => pa.freePages(0, 0), ReservedPageError, /boot header/);
  check(() => pa.freePages(pa.nrPages - 1, 0), ReservedPageError, /memblock region/);
  check(() => pa.freePages(pa.nrPages, 0), PfnRangeError, /out of range/);
  check(() => pa.freePages(-1, 0), PfnRangeError, /out of range/);
  check(() => pa.freePages(1.5, 0), PfnRangeError, /out of range/);
  check(() => pa.freePages(pfn, 11), OrderError, /order 11/);
  check(() => pa.allocPages(11), OrderError, /order 11/);
  check(() => pa.allocPages(0, 1 << 20), ArgumentError, /gfp flags/);
  check(() => pa.allocPages(0, GFP.MOVABLE | GFP.RECLAIMABLE), ArgumentError, /MOVABLE and RECLAIMABLE/);
  pa.freePages(pfn, 2);
  const afterFree = pa.freePagesTotal;
  assert.throws(() => pa.freePages(pfn, 2), (e: unknown) => e instanceof DoubleFreeError && new RegExp(`^double free of pfn ${pfn} \\(paddr 0x[0-9a-f]+\\): it is already free, in the free block at pfn \\d+ of order \\d+; expected an allocated block$`).test(e.message));
  assert.equal(pa.freePagesTotal, afterFree);
  assert.throws(() => pa.freePages(pfn + 1, 0), NotAllocatedError);
  kernel.validate();
});

test('exhaustion: null with NORETRY, OutOfMemoryError without, and the shrinkers run first', () => {
  const kernel = boot('4MiB');
  const pa = kernel.pages;
  const held: number[] = [];
  for (;;) {
    const pfn = pa.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY);
    if (pfn === null) break;
    held.push(pfn);
  }
  assert.equal(pa.freePagesTotal, 0);
  assert.throws(() => pa.allocPages(0, GFP.KERNEL), (e: unknown) => e instanceof OutOfMemoryError && e.reason === 'exhausted');
  let shrinks = 0;
  kernel.shrinkers.register({
    name: 'test',
    shrink: () => {
      shrinks++;
      const pfn = held.pop();
      if (pfn === undefined) return 0;
      pa.freePages(pfn, 0);
      return 1;
    },
  });
  assert.equal(pa.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY), null, 'NORETRY does not run the shrinkers');
  assert.equal(shrinks, 0);
  const pfn = pa.allocPages(0, GFP.KERNEL);
  assert.ok(pfn !== null);
  assert.equal(shrinks, 1);
  assert.ok(pa.stats().zones[0]!.events.allocFailures >= 2);
  kernel.validate();
});

test('a page limit caps pages in use', () => {
  const kernel = boot('32MiB', { pageLimit: 10 });
  const pa = kernel.pages;
  const a = pa.allocPages(3, GFP.KERNEL);
  assert.ok(a !== null);
  assert.equal(pa.tryAllocPages(2, GFP.KERNEL | GFP.NORETRY), null);
  assert.throws(() => pa.allocPages(2, GFP.KERNEL), (e: unknown) => e instanceof OutOfMemoryError && e.reason === 'limit');
  const b = pa.allocPages(1, GFP.KERNEL);
  assert.ok(b !== null);
  kernel.validate();
  pa.freePages(a, 3);
  assert.ok(pa.allocPages(3, GFP.KERNEL) !== null);
  kernel.validate();
});

test('Normal allocations fall back to DMA but leave its lowmem reserve', () => {
  const kernel = boot('64MiB');
  const pa = kernel.pages;
  const [dma, normal] = pa.zones;
  assert.ok(dma !== undefined && normal !== undefined);
  assert.equal(dma.lowmemReserve, Math.floor(normal.managedPages / 256));
  while (normal.freePages > 0) pa.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY);
  let fromDma = 0;
  while (pa.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY) !== null) fromDma++;
  assert.equal(dma.freePages, dma.lowmemReserve, 'fallback stops at the reserve');
  assert.equal(fromDma, 4095 - dma.lowmemReserve);
  assert.ok(pa.tryAllocPages(0, GFP.DMA | GFP.NORETRY) !== null, 'a DMA allocation may use the reserve');
  kernel.validate();
});

test('an unmovable allocation claims a movable pageblock; free pages move with it', () => {
  const kernel = boot('32MiB');
  const pa = kernel.pages;
  const pfn = pa.allocPages(0, GFP.KERNEL);
  assert.ok(pfn !== null);
  const block = pfn >>> 9;
  // The largest free block is claimed first: a whole order-10 block, i.e. two pageblocks.
  assert.equal(pa.pageblockMt[block], MigrateType.Unmovable);
  assert.equal(pa.pageblockMt[block ^ 1], MigrateType.Unmovable);
  const stats = pa.stats();
  const normal = stats.zones[1]!;
  assert.equal(normal.events.pageblockClaims, 1);
  // The rest of the claimed block (1023 pages) now sits on Unmovable lists.
  const unmovableFree = normal.freeBlocksByType.Unmovable!.reduce((sum, n, o) => sum + n * 2 ** o, 0);
  assert.equal(unmovableFree, 1023);
  // A second unmovable allocation comes from the same pageblock.
  const next = pa.allocPages(0, GFP.KERNEL);
  assert.equal((next as number) >>> 9, block);
  kernel.validate();
});

test('a small movable request steals the smallest fallback block without claiming', () => {
  const kernel = boot('32MiB', { pcp: false });
  const pa = kernel.pages;
  // Fill memory with unmovable pages: every pageblock with free pages gets claimed as Unmovable.
  const held: number[] = [];
  for (;;) {
    const pfn = pa.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY);
    if (pfn === null) break;
    held.push(pfn);
  }
  const normal = pa.zones[ZoneId.Normal]!;
  assert.equal(normal.freePages, 0);
  // Free 8 aligned pages of one unmovable pageblock: they merge into one order-3 block.
  const base = held.find((pfn) => pfn % 8 === 0 && normal.contains(pfn) && [1, 2, 3, 4, 5, 6, 7].every((d) => held.includes(pfn + d)))!;
  for (let d = 0; d < 8; d++) pa.freePages(base + d, 0);
  assert.equal(normal.nrFree(3), 1);
  assert.equal(pa.pageblockMt[base >>> 9], MigrateType.Unmovable);
  const claims = normal.stat('pageblockClaims');
  const fallbacks = normal.stat('fallbacks');
  // A movable order-0 request finds no Movable block; order 3 < 4 may not claim, so it steals.
  const movable = pa.allocPages(0, GFP.HIGHUSER_MOVABLE);
  assert.equal(movable, base);
  assert.equal(pa.pageblockMt[base >>> 9], MigrateType.Unmovable, 'the pageblock keeps its type');
  assert.equal(normal.stat('pageblockClaims'), claims);
  assert.equal(normal.stat('fallbacks'), fallbacks + 1);
  // The split leftovers stay on the Unmovable lists of that pageblock.
  assert.equal(pa.stats().zones[1]!.freeBlocksByType.Unmovable!.slice(0, 3).join(','), '1,1,1');
  kernel.validate();
  pa.freePages(movable, 0);
  for (const pfn of held) if (pfn < base || pfn >= base + 8) pa.freePages(pfn, 0);
  kernel.validate();
  assert.equal(pa.freePagesTotal, pa.managedPagesTotal);
});

test('without grouping by mobility every allocation is unmovable and pageblocks are retyped', () => {
  const kernel = boot('32MiB', { groupByMobility: false });
  const pa = kernel.pages;
  const pfn = pa.allocPages(0, GFP.HIGHUSER_MOVABLE);
  assert.ok(pfn !== null);
  assert.equal(pa.pageblockMt[pfn >>> 9], MigrateType.Unmovable);
  assert.equal(kernel.memMap.allocMigratetype(pfn), MigrateType.Movable, 'the page still records it asked to be movable');
  kernel.validate();
});

test('splitPage (split_page): an order-3 block becomes eight order-0 pages, each freed alone, and a compound page is refused', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const pages = kernel.pages;
  const free = pages.freePagesTotal;
  const pfn = pages.allocPages(3, GFP.MOVABLE, 77) as number;
  pages.splitPage(pfn, 3, 77);
  assert.equal(kernel.memMap.owner[pfn + 5], 77);
  assert.equal(kernel.memMap.refcount[pfn + 5], 1);
  pages.validate();
  for (let i = 7; i >= 0; i--) pages.freePages(pfn + i, 0, 77);
  assert.equal(pages.freePagesTotal, free);
  const comp = pages.allocPages(2, GFP.COMP) as number;
  assert.throws(() => pages.splitPage(comp, 2), /compound/);
  assert.throws(() => pages.splitPage(comp + 1, 0));
  pages.validate();
});

test('isolateFreeBlock (__isolate_free_page): takes the free block a pfn heads as an allocated movable block of its order; −1 for a pfn that heads none', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const pages = kernel.pages;
  const free = pages.freePagesTotal;
  const block = pages.findFreeBlock(2000);
  assert.ok(block !== null);
  assert.equal(pages.isolateFreeBlock(block.pfn, 9), block.order);
  assert.equal(pages.freePagesTotal, free - (1 << block.order));
  assert.equal(kernel.memMap.owner[block.pfn], 9);
  assert.equal(pages.isolateFreeBlock(block.pfn, 9), -1, 'now allocated');
  pages.validate();
  pages.freePages(block.pfn, block.order, 9);
  assert.equal(pages.freePagesTotal, free);
  pages.validate();
});

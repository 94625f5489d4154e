import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import type { PageAllocator } from '../../src/mm/page-alloc.ts';
import type { Zone } from '../../src/mm/zone.ts';
import {
  buddyinfo,
  extfragIndexText,
  fragmentationIndex,
  pageblockCensus,
  pagetypeinfo,
  unusableIndex,
  unusableIndexText,
} from '../../src/mm/vmstat.ts';

/** A zone that only answers free-block counts, for checking the index formulas by hand. */
function fakeZone(name: string, counts: number[]): Zone {
  return { name, nrFree: (order: number) => counts[order] ?? 0 } as unknown as Zone;
}

test('buddyinfo matches the kernel format: "Node %d, zone %8s " then "%6lu " per order', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const lines = buddyinfo(kernel.pages).split('\n');
  // DMA: pfn 0 is the boot header, so pfn 1..4095 free: one block of each order 0..9, three of 10.
  assert.equal(lines[0], 'Node 0, zone      DMA      1      1      1      1      1      1      1      1      1      1      3 ');
  const normal = lines[1] ?? '';
  assert.equal(normal.slice(0, 22), 'Node 0, zone   Normal ');
  const fields = normal.slice(22).match(/.{7}/g) ?? [];
  assert.equal(fields.length, 11);
  for (const field of fields) assert.match(field, /^ *\d+ $/);
  assert.equal(lines[2], '');
});

test('pagetypeinfo: header, per-type free counts, pageblock counts', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  kernel.pages.allocPages(0, GFP.KERNEL); // claims an order-10 block (two pageblocks) for Unmovable
  const text = pagetypeinfo(kernel.pages);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Page block order: 9');
  assert.equal(lines[1], 'Pages per block:  512');
  assert.equal(lines[2], '');
  assert.equal(lines[3], 'Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ');
  assert.equal(lines[4], 'Node    0, zone      DMA, type    Unmovable      0      0      0      0      0      0      0      0      0      0      0 ');
  assert.equal(lines[5], 'Node    0, zone      DMA, type      Movable      1      1      1      1      1      1      1      1      1      1      3 ');
  // Splitting the claimed order-10 block down to order 0 leaves one free block of each order 0..9.
  assert.equal(lines[8], 'Node    0, zone   Normal, type    Unmovable      1      1      1      1      1      1      1      1      1      1      0 ');
  assert.equal(lines[12], '');
  assert.equal(lines[13], 'Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic ');
  assert.equal(lines[14], 'Node 0, zone      DMA            0            8            0            0 ');
  assert.match(lines[15] ?? '', /^Node 0, zone {3}Normal {12}2 {11}22 {12}0 {12}0 $/);
  // pagetypeinfo's per-type counts add up to buddyinfo's per-order counts.
  const stats = kernel.pages.stats();
  for (const zone of stats.zones) {
    for (let o = 0; o <= 10; o++) {
      const sum = Object.values(zone.freeBlocksByType).reduce((s, counts) => s + (counts[o] ?? 0), 0);
      assert.equal(sum, zone.freeBlocks[o]);
    }
  }
});

test('fragmentation index follows __fragmentation_index, including its negative values', () => {
  const zone = fakeZone('Normal', [120, 60, 30, 10, 2]);
  assert.deepEqual(
    Array.from({ length: 11 }, (_, o) => fragmentationIndex(zone, o)),
    [-1000, -1000, -1000, -1000, -1000, 930, 963, 979, 988, 992, 994],
  );
  // One free page, order 1 requested: 1000 - (1000 + 500) / 1 = -500.
  assert.equal(fragmentationIndex(fakeZone('DMA', [1]), 1), -500);
  assert.equal(fragmentationIndex(fakeZone('DMA', []), 3), 0);
  assert.equal(unusableIndex(fakeZone('DMA', []), 3), 1000);
});

test('extfrag_index and unusable_index print as "%2d.%03d " and "%d.%03d " with C division', () => {
  const pa = { zones: [fakeZone('DMA', [1]), fakeZone('Normal', [120, 60, 30, 10, 2])] } as unknown as PageAllocator;
  assert.equal(
    extfragIndexText(pa),
    'Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125  0.-62  0.-31  0.-15  0.-07  0.-03  0.-01  0.000 \n' +
      'Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000  0.930  0.963  0.979  0.988  0.992  0.994 \n',
  );
  assert.equal(
    unusableIndexText(pa).split('\n')[1],
    'Node 0, zone   Normal 0.000 0.254 0.508 0.762 0.932 1.000 1.000 1.000 1.000 1.000 1.000 ',
  );
});

test('pageblock census sees free and movable-only pageblocks', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const before = pageblockCensus(kernel.pages);
  // Only the pageblocks holding reserved frames (the boot header's, the metadata's) are not movable-only.
  assert.equal(before.pageblocks - before.movableOnly, 2);
  const pfn = kernel.pages.allocPages(9, GFP.HIGHUSER_MOVABLE) as number;
  const after = pageblockCensus(kernel.pages);
  assert.equal(after.movableOnly, before.movableOnly);
  assert.equal(after.free, before.free - 1);
  kernel.pages.freePages(pfn, 9);
  const unmovable = kernel.pages.allocPages(0, GFP.KERNEL) as number;
  assert.equal(pageblockCensus(kernel.pages).movableOnly, before.movableOnly - 1);
  kernel.pages.freePages(unmovable, 0);
});

test('pageblock census: a free order-10 block holds two wholly free pageblocks (30 on a fresh 64 MiB kernel)', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', pcp: false });
  /** Pageblocks inside free buddy blocks of order 9 or more, read off the free lists. */
  const expected = (): number => kernel.pages.zones.reduce((sum, z) => sum + z.nrFree(9) + 2 * z.nrFree(10), 0);
  assert.equal(expected(), 30);
  assert.equal(pageblockCensus(kernel.pages).free, 30);
  const held = [9, 10, 0, 3].map((order) => ({ order, pfn: kernel.pages.allocPages(order, GFP.HIGHUSER_MOVABLE) }));
  assert.equal(pageblockCensus(kernel.pages).free, expected());
  for (const { pfn, order } of held) kernel.pages.freePages(pfn, order);
  assert.equal(pageblockCensus(kernel.pages).free, 30);
});

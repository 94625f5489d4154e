// Compaction: the scanners, migration through the reverse map, compaction_suitable, and THP defrag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { compactionSuitable } from '../../../src/mm/vm/compaction.ts';
import { pinUserPages, unpinUserPages } from '../../../src/mm/vm/pin.ts';
import { fragmentationIndex } from '../../../src/mm/vmstat.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';
import { setThpSettings } from '../../../src/mm/vm/thp-settings.ts';
import type { ThpDefrag } from '../../../src/mm/vm/thp-settings.ts';
import { MADV, MAP, PMD_SIZE, PROT } from '../../../src/mm/vm/types.ts';
import { MigrateType, PageFlag } from '../../../src/mm/types.ts';
import { addFree, delFree } from '../../../src/mm/zone.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

/** Fills most of RAM with 4 KiB anonymous pages, then unmaps all but every 64th: no 2 MiB block is free. */
function fragmented(): { kernel: Kernel; mm: AddressSpace; a: number; pages: number } {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  setThpSettings(vm, { enabled: 'never' });
  const mm = vm.createAddressSpace();
  const pages = kernel.pages.freePagesTotal - 600;
  const a = mm.mmap(0x40000000, pages * P, RW, ANON);
  for (let i = 0; i < pages; i++) mm.writeByte(a + i * P, (i * 7) & 0xff);
  for (let i = 0; i < pages; i += 64) mm.munmap(a + (i + 1) * P, 63 * P);
  setThpSettings(vm, { enabled: 'always' });
  return { kernel, mm, a, pages };
}

test('compaction migrates pages from the bottom to free pages at the top until a 2 MiB block is free; every byte stays where the process sees it', () => {
  const { kernel, mm, a, pages } = fragmented();
  const vm = kernel.vm;
  assert.equal(kernel.pages.tryAllocPages(9, GFP.MOVABLE | GFP.NORETRY), null, 'fragmented: no order-9 block');
  assert.equal(vm.compact(9), 'success');
  assert.ok(vm.counter('pgmigrate_success') > 0);
  assert.ok(vm.counter('compact_migrate_scanned') > 0 && vm.counter('compact_free_scanned') > 0);
  for (let i = 0; i < pages; i += 64) assert.equal(mm.readByte(a + i * P), (i * 7) & 0xff);
  kernel.validate();
  assert.notEqual(kernel.pages.tryAllocPages(9, GFP.MOVABLE | GFP.NORETRY), null);
});

test('compaction_suitable: not when a block is free, nor when the fragmentation index says a failure is for lack of memory (≤ extfrag_threshold 500)', () => {
  const { kernel } = fragmented();
  const normal = kernel.pages.zones[1];
  assert.ok(normal !== undefined);
  assert.equal(compactionSuitable(normal, 9), true);
  assert.equal(compactionSuitable(normal, 0), false, 'order-0 blocks are free');
  const tight = Kernel.boot({ ramBytes: '32MiB' });
  const zone = tight.pages.zones[1];
  assert.ok(zone !== undefined);
  while (zone.freePages > 300) tight.pages.allocPages(0, GFP.MOVABLE);
  for (let o = 9; o <= 10; o++) while (zone.nrFree(o) > 0) tight.pages.allocPages(o, GFP.MOVABLE);
  assert.equal(compactionSuitable(zone, 9), false, 'too little free memory for a 2 MiB block at all');
});

test('compaction_suitable: enough free memory in a few large blocks is a failure for lack of memory (fragmentation index ≤ 500), not for fragmentation', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const zone = kernel.pages.zones[1];
  assert.ok(zone !== undefined);
  // Take every page, in order-8 blocks while there are any; then free five order-8 blocks of the
  // zone whose buddies stay allocated: 1280 free pages (≥ compact_gap's 2 << 9), none in a block of
  // order 9 or more.
  const blocks: number[] = [];
  for (let order = 8; order >= 0; order--) {
    for (;;) {
      const pfn = kernel.pages.tryAllocPages(order, GFP.MOVABLE | GFP.NORETRY);
      if (pfn === null) break;
      if (order === 8 && pfn >= zone.startPfn) blocks.push(pfn);
    }
  }
  const spaced = blocks.filter((pfn) => ((pfn >> 8) & 1) === 0).slice(0, 5);
  assert.equal(spaced.length, 5);
  for (const pfn of spaced) kernel.pages.freePages(pfn, 8);
  assert.equal(zone.freePages, 5 * 256);
  assert.equal(zone.nrFree(8), 5);
  // __fragmentation_index(): 1000 − (1000 + 1000 · free / 2^order) / free blocks = 1000 − (1000 + 2500) / 5 = 300.
  assert.equal(fragmentationIndex(zone, 9), 300);
  assert.equal(compactionSuitable(zone, 9), false, 'index 300 ≤ extfrag_threshold 500: compaction would not help');
  kernel.validate();
});

test('THP defrag: always compacts directly, never and madvise (without MADV_HUGEPAGE) fall back, defer wakes kcompactd, defer+madvise does either by the VMA', () => {
  const fault = (defrag: ThpDefrag, madvise: boolean): { kernel: Kernel; huge: boolean } => {
    const { kernel, mm } = fragmented();
    setThpSettings(kernel.vm, { defrag });
    const b = mm.mmap(0x80000000, PMD_SIZE, RW, ANON);
    if (madvise) mm.madvise(b, PMD_SIZE, MADV.HUGEPAGE);
    mm.writeByte(b, 1);
    kernel.validate();
    return { kernel, huge: kernel.vm.counter('thp_fault_alloc') === 1 };
  };
  const always = fault('always', false);
  assert.equal(always.huge, true);
  assert.equal(always.kernel.vm.counter('compact_stall'), 1);
  assert.equal(always.kernel.vm.counter('compact_success'), 1);
  assert.equal(fault('never', true).huge, false);
  assert.equal(fault('madvise', false).huge, false);
  assert.equal(fault('madvise', true).huge, true);
  const defer = fault('defer', true);
  assert.equal(defer.huge, false);
  assert.equal(defer.kernel.vm.counter('thp_fault_fallback'), 1);
  assert.equal(defer.kernel.vm.kcompactd(), true);
  assert.equal(defer.kernel.vm.counter('compact_daemon_wake'), 1);
  assert.notEqual(defer.kernel.pages.tryAllocPages(9, GFP.MOVABLE | GFP.NORETRY), null, 'kcompactd made a block');
  // defer+madvise: direct compaction for an MADV_HUGEPAGE region, kcompactd's wake for any other.
  const advised = fault('defer+madvise', true);
  assert.equal(advised.huge, true);
  assert.equal(advised.kernel.vm.counter('compact_stall'), 1);
  const plain = fault('defer+madvise', false);
  assert.equal(plain.huge, false);
  assert.equal(plain.kernel.vm.counter('compact_stall'), 0);
  assert.equal(plain.kernel.vm.counter('thp_fault_fallback'), 1);
  assert.equal(plain.kernel.vm.kcompactd(), true, 'the fault woke kcompactd');
});

test('compaction leaves a page with GUP references where it is (pinned for DMA: its frame must not move), and moves the others', () => {
  const { kernel, mm, a, pages } = fragmented();
  const vm = kernel.vm;
  const frameOf = (vaddr: number): number => (vm.u[vm.tables.entry(mm.pgdPfn, vaddr, 1, false)] as number) >>> 12;
  // Pin every fourth page left (each page left is at a + 64·k pages).
  const pinned: { vaddr: number; pfn: number }[] = [];
  for (let i = 0; i < pages; i += 256) pinned.push({ vaddr: a + i * P, pfn: pinUserPages(mm, a + i * P, 1, true)[0] as number });
  const before = new Map<number, number>();
  for (let i = 0; i < pages; i += 64) before.set(i, frameOf(a + i * P));
  // A pinned page every 1 MiB leaves no 2 MiB block compaction could free: it runs to the end.
  assert.equal(vm.compact(9), 'complete');
  for (const { vaddr, pfn } of pinned) assert.equal(frameOf(vaddr), pfn, `pinned page at 0x${vaddr.toString(16)} stayed in its frame`);
  let moved = 0;
  for (let i = 0; i < pages; i += 64) if (i % 256 !== 0 && frameOf(a + i * P) !== before.get(i)) moved++;
  assert.ok(moved > 0, 'unpinned pages moved');
  for (let i = 0; i < pages; i += 64) assert.equal(mm.readByte(a + i * P), (i * 7) & 0xff);
  unpinUserPages(vm, pinned.map((p) => p.pfn));
  kernel.validate();
});

test('compaction_suitable: below compact_gap (2 << order free pages) it declines even where the fragmentation index says fragmentation', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const zone = kernel.pages.zones[1];
  assert.ok(zone !== undefined);
  const held: number[] = [];
  for (const gfp of [GFP.MOVABLE, GFP.DMA]) {
    for (let pfn = kernel.pages.tryAllocPages(0, gfp | GFP.NORETRY); pfn !== null; pfn = kernel.pages.tryAllocPages(0, gfp | GFP.NORETRY)) held.push(pfn);
  }
  // 700 scattered order-0 pages of the Normal zone free: more than 1 << 9, fewer than 2 << 9.
  const normal = held.filter((pfn) => pfn >= zone.startPfn).sort((x, y) => x - y);
  for (let i = 0; i < 1400; i += 2) kernel.pages.freePages(normal[i] as number, 0);
  kernel.pages.drainPages();
  assert.equal(zone.freePages, 700);
  assert.ok(fragmentationIndex(zone, 9) > 500, 'by the index, a failure would be fragmentation');
  assert.equal(compactionSuitable(zone, 9), false, '700 < 2 << 9: no room for the copies');
  assert.equal(compactionSuitable(zone, 8), true, '700 ≥ 2 << 8, and fragmented');
});

test('compaction skips a page whose mm it cannot lock at once (async migration\'s trylock), and moves it once the lock is free', () => {
  const { kernel, mm } = fragmented();
  const vm = kernel.vm;
  mm.lockMmap(); // another thread in an mmap call of this process
  try {
    assert.equal(vm.compact(9), 'complete', 'every movable page belongs to the locked mm');
    assert.equal(vm.counter('pgmigrate_success'), 0);
  } finally {
    mm.lock.release();
  }
  assert.equal(vm.compact(9), 'success');
  assert.ok(vm.counter('pgmigrate_success') > 0);
  kernel.validate();
});

test('the free scanner takes targets only from Movable pageblocks (suitable_migration_target): an Unmovable pageblock at the top keeps its free pages', () => {
  const { kernel } = fragmented();
  const pages = kernel.pages;
  const zone = pages.zones[1]!;
  const { flags, order } = kernel.memMap;
  // The highest pageblock with free pages: the first the free scanner would reach.
  const freeIn = (block: number): number[] => {
    const out: number[] = [];
    for (let pfn = block; pfn < block + 512; pfn++) if ((flags[pfn]! & PageFlag.Buddy) !== 0) out.push(pfn);
    return out;
  };
  let top = Math.floor((zone.endPfn - 1) / 512) * 512;
  while (freeIn(top).length === 0) top -= 512;
  // move_freepages_block(): it becomes Unmovable, its free blocks moved to the Unmovable lists.
  zone.lock.acquire();
  for (const pfn of freeIn(top)) {
    delFree(zone, pfn, order[pfn]!, MigrateType.Movable);
    pages.pageblockMt[top / 512] = MigrateType.Unmovable;
    addFree(zone, pfn, order[pfn]!, MigrateType.Unmovable, false);
  }
  zone.lock.release();
  kernel.validate();
  const before = freeIn(top).map((pfn) => `${pfn}/${order[pfn]}`);
  assert.ok(before.length > 0);
  assert.equal(kernel.vm.compact(9), 'success');
  assert.deepEqual(freeIn(top).map((pfn) => `${pfn}/${order[pfn]}`), before, 'no target taken from the Unmovable pageblock');
  kernel.validate();
});

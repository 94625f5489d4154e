// khugepaged: collapse rules (max_ptes_none, referenced, writable), the copy, and pages_to_scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PTE_ACCESSED } from '../../../src/machine/pte.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { collapseRange } from '../../../src/mm/vm/khugepaged.ts';
import { setThpSettings } from '../../../src/mm/vm/thp-settings.ts';
import { MAP, PMD_SIZE, PROT } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;
const M2 = PMD_SIZE;

function smallPages(ranges: number, written: number): { kernel: Kernel; a: number; mm: ReturnType<Kernel['vm']['createAddressSpace']> } {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  setThpSettings(vm, { enabled: 'never' });
  const a = mm.mmap(0x40000000, ranges * M2, RW, ANON);
  for (let r = 0; r < ranges; r++) for (let i = 0; i < written; i++) mm.writeByte(a + r * M2 + i * P + (i % 7), (i + r) & 0xff);
  setThpSettings(vm, { enabled: 'always' });
  return { kernel, a, mm };
}

test('khugepaged collapses 512 small pages into one THP, copying every byte and freeing the small pages', () => {
  const { kernel, a, mm } = smallPages(1, 512);
  const vm = kernel.vm;
  const free = kernel.pages.freePagesTotal;
  assert.equal(vm.khugepaged(), 1);
  assert.equal(vm.counter('thp_collapse_alloc'), 1);
  assert.equal(vm.counter('khugepaged_pages_collapsed'), 1);
  assert.equal(mm.rssAnonPages, 512);
  assert.match(mm.smapsRollup(), /^AnonHugePages:\s+2048 kB$/m);
  for (let i = 0; i < 512; i++) assert.equal(mm.readByte(a + i * P + (i % 7)), i & 0xff);
  assert.equal(kernel.pages.freePagesTotal, free, '512 small pages freed for one 512-page block; the PTE table kept as the deposit');
  kernel.validate();
  mm.munmap(a + P, P);
  assert.equal(mm.readByte(a + 2 * P + 2), 2, 'a split after a collapse keeps the bytes');
  kernel.validate();
});

test('max_ptes_none: 100 of 512 pages present collapse under the default 511, not under 0; empty entries read as zero', () => {
  const { kernel, a, mm } = smallPages(1, 100);
  const vm = kernel.vm;
  setThpSettings(vm, { maxPtesNone: 0 });
  assert.equal(vm.khugepaged(), 0);
  setThpSettings(vm, { maxPtesNone: 511 });
  assert.equal(vm.khugepaged(), 1);
  assert.equal(mm.readByte(a + 99 * P + (99 % 7)), 99);
  assert.equal(mm.readByte(a + 300 * P), 0);
  assert.equal(mm.rssAnonPages, 512, 'the empty entries now hold zeroed memory (the memory cost of max_ptes_none)');
  kernel.validate();
});

test('a range with no referenced entry, or only read-only entries, is not collapsed', () => {
  const { kernel, a, mm } = smallPages(1, 512);
  const vm = kernel.vm;
  const pmd = vm.tables.entry(mm.pgdPfn, a, 2, false);
  const table = (vm.u[pmd] as number) >>> 12;
  for (let i = 0; i < 512; i++) vm.u[(table * P) / 4 + 2 * i] = (vm.u[(table * P) / 4 + 2 * i] as number) & ~PTE_ACCESSED;
  mm.lock.acquire();
  assert.equal(collapseRange(mm, a, true), 'not-referenced');
  mm.lock.release();
  mm.mprotect(a, M2, PROT.READ);
  mm.lock.acquire();
  assert.equal(collapseRange(mm, a, false), 'read-only');
  mm.lock.release();
  kernel.validate();
});

test('pages_to_scan bounds one pass; the cursor resumes and a pass over everything counts a full scan', () => {
  const { kernel, mm } = smallPages(4, 512);
  const vm = kernel.vm;
  setThpSettings(vm, { pagesToScan: 1024 });
  assert.equal(vm.khugepaged(), 2);
  assert.equal(vm.khugepaged(), 2);
  assert.equal(vm.khugepaged(), 0);
  assert.ok(vm.counter('khugepaged_full_scans') >= 1);
  assert.equal(mm.rssAnonPages, 4 * 512);
  assert.equal(vm.counter('nr_anon_transparent_hugepages'), 4);
  kernel.validate();
});

test('a collapse clears the PMD and flushes every CPU before it copies or frees a small page (pmdp_collapse_flush), so no CPU writes a page after its copy or reaches a freed one', () => {
  const { kernel, a, mm } = smallPages(1, 512);
  const vm = kernel.vm;
  const events: string[] = [];
  const flushTlb = vm.flushTlb.bind(vm);
  vm.flushTlb = (target, start, end) => {
    events.push(`flush ${(start - a) / M2}-${(end - a) / M2}`);
    flushTlb(target, start, end);
  };
  const freePages = kernel.pages.freePages.bind(kernel.pages);
  kernel.pages.freePages = (pfn, order, owner) => {
    if (events.at(-1) !== 'free') events.push('free');
    freePages(pfn, order, owner);
  };
  const copyWithin = kernel.ram.bytes.copyWithin.bind(kernel.ram.bytes);
  kernel.ram.bytes.copyWithin = (target, start, end) => {
    if (events.at(-1) !== 'copy' && events.at(-1) !== 'free') events.push('copy');
    return copyWithin(target, start, end);
  };
  assert.equal(vm.khugepaged(), 1);
  assert.equal(events[0], 'flush 0-1', `the 2 MiB range flushed first: ${events.join(', ')}`);
  assert.ok(events.includes('free') && !events.slice(1).some((e) => e.startsWith('flush')), `copies and frees after it, no flush needed after: ${events.join(', ')}`);
  for (let i = 0; i < 512; i++) assert.equal(mm.readByte(a + i * P + (i % 7)), i & 0xff);
  kernel.validate();
});

// Transparent huge pages: Linux's rules for when a fault maps 2 MiB, the huge zero page, splitting,
// the alignment policies, and what /proc shows.
import { GFP } from '../../../src/mm/gfp.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';
import { setThpSettings } from '../../../src/mm/vm/thp-settings.ts';
import type { ThpAlignPolicy } from '../../../src/mm/vm/thp-settings.ts';
import { MADV, MAP, PMD_SIZE, PROT } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;
const M2 = PMD_SIZE;

function setup(): { kernel: Kernel; mm: AddressSpace } {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  return { kernel, mm: kernel.vm.createAddressSpace() };
}

test('a write fault in a 2 MiB-aligned range wholly inside the VMA maps a THP; outside such a range, 4 KiB pages', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, 2 * M2 + 3 * P, RW, ANON);
  mm.writeByte(a + 5, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1);
  assert.equal(mm.rssAnonPages, 512);
  mm.writeByte(a + 2 * M2, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1, 'the tail is not a whole 2 MiB range');
  assert.equal(mm.rssAnonPages, 513);
  assert.match(mm.smapsRollup(), /^AnonHugePages:\s+2048 kB$/m);
  assert.match(vm.meminfo(), /^AnonHugePages:\s+2048 kB$/m);
  assert.match(vm.vmstat(), /^nr_anon_transparent_hugepages 1$/m);
  assert.equal(mm.readByte(a + 5), 1);
  assert.equal(mm.readByte(a + M2 - 1), 0);
  kernel.validate();
  const b = mm.mmap(0x50000000 + P, M2, RW, ANON);
  mm.writeByte(b + M2 - P, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1, 'a misaligned 2 MiB mapping holds no aligned 2 MiB range');
  kernel.validate();
});

test('enabled=madvise needs MADV_HUGEPAGE, enabled=never and MADV_NOHUGEPAGE forbid', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  setThpSettings(vm, { enabled: 'madvise' });
  const a = mm.mmap(0x40000000, 2 * M2, RW, ANON);
  mm.writeByte(a, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 0);
  mm.madvise(a + M2, M2, MADV.HUGEPAGE);
  mm.writeByte(a + M2, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1);
  setThpSettings(vm, { enabled: 'always' });
  const b = mm.mmap(0x60000000, M2, RW, ANON);
  mm.madvise(b, M2, MADV.NOHUGEPAGE);
  mm.writeByte(b, 1);
  setThpSettings(vm, { enabled: 'never' });
  const c = mm.mmap(0x70000000, M2, RW, ANON);
  mm.writeByte(c, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1);
  kernel.validate();
});

test('a read fault maps the huge zero page; a write then splits it and takes a 4 KiB page', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, M2, RW, ANON);
  assert.equal(mm.readByte(a + 100), 0);
  assert.equal(vm.counter('thp_zero_page_alloc'), 1);
  assert.equal(vm.counter('nr_huge_zero_page_maps'), 1);
  assert.equal(mm.rssAnonPages, 0);
  // smaps skips the huge zero page as Linux's vm_normal_page_pmd() does: no Rss, no AnonHugePages.
  assert.match(mm.smapsRollup(), /^Rss:\s+0 kB$/m);
  assert.match(mm.smapsRollup(), /^AnonHugePages:\s+0 kB$/m);
  kernel.validate();
  mm.writeByte(a + 100, 7);
  assert.match(mm.smapsRollup(), /^Rss:\s+4 kB$/m, 'after the split only the written 4 KiB page counts (511 small zero-page entries do not)');
  assert.equal(vm.counter('thp_split_pmd'), 1);
  assert.equal(mm.rssAnonPages, 1);
  assert.equal(vm.counter('nr_zero_page_maps'), 511);
  assert.equal(mm.readByte(a + 100), 7);
  kernel.validate();
});

test('partial munmap, mprotect and MADV_DONTNEED split a THP; the bytes stay, the freed part returns to the buddy allocator', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, 3 * M2, RW, ANON);
  for (let i = 0; i < 3; i++) mm.write(a + i * M2, new Uint8Array(M2).fill(i + 1));
  assert.equal(vm.counter('thp_fault_alloc'), 3);
  const head = (vm.u[vm.tables.entry(mm.pgdPfn, a, 2, false)] as number) >>> 12;
  mm.munmap(a + M2 - 4 * P, 4 * P);
  assert.equal(vm.counter('thp_split_page'), 1);
  for (let i = 508; i < 512; i++) assert.equal(kernel.pages.findAllocatedBlock(head + i), null, `subpage ${i} freed at once`);
  assert.notEqual(kernel.pages.findAllocatedBlock(head + 507), null);
  assert.equal(mm.readByte(a + M2 - 5 * P), 1);
  mm.mprotect(a + M2 + P, P, PROT.READ);
  assert.equal(vm.counter('thp_split_pmd'), 2);
  assert.equal(mm.readByte(a + M2 + P), 2);
  mm.madvise(a + 2 * M2 + 8 * P, P, MADV.DONTNEED);
  assert.equal(mm.readByte(a + 2 * M2 + 8 * P), 0);
  assert.equal(mm.readByte(a + 2 * M2 + 9 * P), 3);
  assert.equal(vm.counter('nr_anon_transparent_hugepages'), 0);
  assert.equal(mm.rssAnonPages, 3 * 512 - 4 - 1);
  kernel.validate();
  mm.mprotect(a + M2 + P, P, RW);
  mm.munmap(a, 3 * M2);
  assert.equal(mm.rssAnonPages, 0);
  kernel.validate();
});

test('mprotect of a whole THP changes the PMD in place; munmap of a whole THP frees the 2 MiB block and its deposited table', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, M2, RW, ANON);
  mm.writeByte(a, 9);
  const tables = mm.pageTablePages;
  mm.mprotect(a, M2, PROT.READ);
  assert.equal(vm.counter('thp_split_pmd'), 0);
  assert.equal(mm.readByte(a), 9);
  kernel.validate();
  const free = kernel.pages.freePagesTotal;
  mm.munmap(a, M2);
  assert.equal(kernel.pages.freePagesTotal - free, 512 + tables - 1, 'the THP, its deposit and the tables above it; the PGD stays');
  kernel.validate();
});

test('when no 2 MiB block is free the fault falls back to 4 KiB (thp_fault_fallback)', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const mm = kernel.vm.createAddressSpace();
  const held: number[] = [];
  for (let pfn = kernel.pages.tryAllocPages(9, GFP.NORETRY); pfn !== null; pfn = kernel.pages.tryAllocPages(9, GFP.NORETRY)) held.push(pfn);
  const a = mm.mmap(0x40000000, M2, RW, ANON);
  mm.writeByte(a, 1);
  assert.equal(kernel.vm.counter('thp_fault_fallback'), 1);
  assert.equal(mm.rssAnonPages, 1);
  kernel.validate();
});

test('alignment policies of anonymous mmap: none, linux-6.7 (≥ 2 MiB), linux-6.12 (multiples of 2 MiB), always', () => {
  const aligned = (policy: ThpAlignPolicy, len: number): boolean => {
    const { kernel, mm } = setup();
    setThpSettings(kernel.vm, { align: policy });
    mm.mmap(0, 5 * P, RW, ANON);
    return mm.mmap(0, len, RW, ANON) % M2 === 0;
  };
  const sizes = [P * 3, M2, M2 + P, 4 * M2];
  assert.deepEqual(sizes.map((len) => aligned('none', len)), [false, false, false, false]);
  assert.deepEqual(sizes.map((len) => aligned('linux-6.7', len)), [false, true, true, true]);
  assert.deepEqual(sizes.map((len) => aligned('linux-6.12', len)), [false, true, false, true]);
  assert.deepEqual(sizes.map((len) => aligned('always', len)), [true, true, true, true]);
});

test('huge-page coverage of a written mapping follows the alignment policy', () => {
  const coverage = (policy: ThpAlignPolicy, len: number): number => {
    const { kernel, mm } = setup();
    setThpSettings(kernel.vm, { align: policy });
    mm.mmap(0, 5 * P, RW, ANON);
    const a = mm.mmap(0, len, RW, ANON);
    for (let off = 0; off < len; off += P) mm.writeByte(a + off, 1);
    return (kernel.vm.counter('nr_anon_transparent_hugepages') * M2) / len;
  };
  assert.equal(coverage('linux-6.12', 8 * M2), 1);
  assert.equal(coverage('none', 8 * M2), 7 / 8, 'a misaligned start loses one of eight 2 MiB ranges');
  assert.equal(coverage('linux-6.12', 8 * M2 + P), 7 / (8 + 1 / 512), 'not a multiple: 6.12 leaves it unaligned');
  assert.equal(coverage('linux-6.7', 8 * M2 + P), 8 / (8 + 1 / 512));
});

test('/proc/vmstat prints the THP, compaction and migration events under Linux\'s names, in the order of its vmstat_text', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, 2 * M2, RW, ANON);
  mm.writeByte(a, 1); // thp_fault_alloc
  assert.equal(mm.readByte(a + M2), 0); // thp_zero_page_alloc
  mm.munmap(a + M2 - P, P); // thp_split_page (and its pmd)
  vm.compact();
  const text = vm.vmstat();
  const names = text.trimEnd().split('\n').map((line) => {
    const [name, value, extra] = line.split(' ');
    assert.ok(name !== undefined && /^\d+$/.test(value ?? '') && extra === undefined, `'${line}': expected a name and a count`);
    return name;
  });
  // mm/vmstat.c (Linux 6.6) vmstat_text, the events kmem counts, in that order.
  const linuxOrder = ['pswpin', 'pswpout', 'allocstall_movable', 'pgactivate', 'pgdeactivate', 'pgfault', 'pgmajfault', 'pgrefill', 'pgscan_anon', 'pgsteal_anon',
    'pgmigrate_success', 'compact_migrate_scanned', 'compact_free_scanned', 'compact_isolated', 'compact_stall', 'compact_fail', 'compact_success', 'compact_daemon_wake',
    'unevictable_pgs_munlocked', 'thp_fault_alloc', 'thp_fault_fallback', 'thp_collapse_alloc', 'thp_collapse_alloc_failed', 'thp_split_page', 'thp_split_pmd', 'thp_zero_page_alloc'];
  assert.deepEqual(names.filter((n) => !n.startsWith('nr_')), linuxOrder);
  for (const name of linuxOrder) assert.match(text, new RegExp(`^${name} ${vm.counter(name as Parameters<typeof vm.counter>[0])}$`, 'm'));
  assert.match(text, /^thp_fault_alloc 1$/m);
  assert.match(text, /^thp_zero_page_alloc 1$/m);
  assert.match(text, /^thp_split_page 1$/m);
});

// Linux's rules for anonymous mmap/munmap/mprotect/madvise/brk and the demand-zero faults, each a test.
import { test } from 'node:test';
import { PTE_PRESENT } from '../../../src/machine/pte.ts';
import { PTE_PROTNONE } from '../../../src/mm/vm/fault.ts';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SegvError, SyscallError } from '../../../src/mm/vm/errors.ts';
import { MADV, MAP, PROT, TASK_SIZE, VM } from '../../../src/mm/vm/types.ts';
import { VM_OWNER_PGTABLE } from '../../../src/mm/vm/owners.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

function setup(options: { maxMapCount?: number } = {}): { kernel: Kernel; mm: AddressSpace } {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  return { kernel, mm: kernel.vm.createAddressSpace(options) };
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SyscallError) return error.errno;
    throw error;
  }
  return 'ok';
}

function vmaList(mm: AddressSpace): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < mm.mapCount; i++) {
    const v = mm.vmaAt(i);
    out.push([mm.vm.vmas.start(v), mm.vm.vmas.end(v), mm.vm.vmas.flags(v) & 7]);
  }
  return out;
}

test('mmap: top-down below mmap_base, page-aligned, and touching mappings of equal flags merge into one VMA', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0, 3 * P + 1, RW, ANON);
  assert.equal(a % P, 0);
  assert.equal(a + 4 * P, mm.mmapBase, 'a length rounded up to pages, just below mmap_base');
  const b = mm.mmap(0, P, RW, ANON);
  assert.equal(b, a - P, 'the next mapping goes right below');
  assert.equal(mm.mapCount, 1, 'the two merged');
  const c = mm.mmap(0, P, PROT.READ, ANON);
  assert.equal(c, b - P);
  assert.equal(mm.mapCount, 2, 'different protection: no merge');
  assert.equal(mm.totalVmPages, 6);
  kernel.validate();
});

test('mmap: errors as Linux gives them', () => {
  const { kernel, mm } = setup();
  assert.equal(errno(() => mm.mmap(0, 0, RW, ANON)), 'EINVAL', 'length 0');
  assert.equal(errno(() => mm.mmap(0, P, RW, MAP.SHARED | MAP.ANONYMOUS)), 'EINVAL', 'shared anonymous is not modelled');
  assert.equal(errno(() => mm.mmap(0, P, RW, MAP.ANONYMOUS)), 'EINVAL', 'neither private nor shared');
  assert.equal(errno(() => mm.mmap(0, P, RW, MAP.PRIVATE)), 'EINVAL', 'a file mapping');
  assert.equal(errno(() => mm.mmap(0x10000001, P, RW, ANON | MAP.FIXED)), 'EINVAL', 'MAP_FIXED unaligned');
  assert.equal(errno(() => mm.mmap(0x1000, P, RW, ANON | MAP.FIXED)), 'EPERM', 'below mmap_min_addr');
  assert.equal(errno(() => mm.mmap(TASK_SIZE, P, RW, ANON | MAP.FIXED)), 'ENOMEM', 'beyond TASK_SIZE');
  assert.equal(errno(() => mm.mmap(0, TASK_SIZE + P, RW, ANON)), 'ENOMEM', 'longer than user space');
  const a = mm.mmap(0x10000000, 2 * P, RW, ANON);
  assert.equal(a, 0x10000000, 'a free hint is taken');
  assert.equal(errno(() => mm.mmap(a + P, P, RW, ANON | MAP.FIXED_NOREPLACE)), 'EEXIST');
  assert.notEqual(mm.mmap(a, P, RW, ANON), a, 'a busy hint is not');
  assert.equal(errno(() => mm.mmap(0, P, RW, ANON | 0x40000000)), 'ok', 'unknown flag bits are ignored');
  kernel.validate();
});

test('MAP_FIXED replaces what it overlaps: the old bytes are gone, the VMAs split around it', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0, 4 * P, RW, ANON);
  mm.write(a, new Uint8Array(4 * P).fill(7));
  assert.equal(mm.rssAnonPages, 4);
  assert.equal(mm.mmap(a + P, P, PROT.READ, ANON | MAP.FIXED), a + P);
  assert.equal(mm.readByte(a + P), 0);
  assert.equal(mm.readByte(a), 7);
  assert.equal(mm.rssAnonPages, 3);
  assert.deepEqual(vmaList(mm).map((v) => v[2]), [3, 1, 3]);
  kernel.validate();
});

test('munmap: a hole succeeds, a middle cut splits, bad arguments are EINVAL, and max_map_count limits the split', () => {
  const { kernel, mm } = setup({ maxMapCount: 2 });
  mm.munmap(0x40000000, 16 * P);
  const a = mm.mmap(0, 8 * P, RW, ANON);
  assert.equal(errno(() => mm.munmap(a + 1, P)), 'EINVAL');
  assert.equal(errno(() => mm.munmap(a, 0)), 'EINVAL');
  assert.equal(errno(() => mm.munmap(TASK_SIZE, 2 * P)), 'EINVAL');
  mm.munmap(a + 2 * P, P);
  assert.equal(mm.mapCount, 2);
  assert.equal(errno(() => mm.munmap(a + 5 * P, P)), 'ENOMEM', 'a third VMA would exceed max_map_count 2');
  assert.equal(mm.mapCount, 2, 'nothing changed');
  mm.munmap(a + 7 * P, P);
  assert.equal(mm.totalVmPages, 6);
  mm.munmap(a, 8 * P);
  assert.equal(mm.mapCount, 0);
  assert.equal(mm.pageTablePages, 1, 'free_pgtables left only the PGD');
  kernel.validate();
});

test('mprotect: ENOMEM for an unmapped start (nothing changed) or a hole (the part before it changed), EINVAL for bad arguments', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0x20000000, 4 * P, RW, ANON);
  mm.mmap(a + 5 * P, 2 * P, RW, ANON);
  assert.equal(errno(() => mm.mprotect(a - 2 * P, P, PROT.READ)), 'ENOMEM');
  assert.equal(errno(() => mm.mprotect(a + 1, P, PROT.READ)), 'EINVAL');
  assert.equal(errno(() => mm.mprotect(a, P, 0x100)), 'EINVAL');
  assert.equal(errno(() => mm.mprotect(a, 0, PROT.READ)), 'ok');
  assert.equal(errno(() => mm.mprotect(a + 2 * P, 4 * P, PROT.READ)), 'ENOMEM');
  assert.deepEqual(vmaList(mm), [
    [a, a + 2 * P, 3],
    [a + 2 * P, a + 4 * P, 1],
    [a + 5 * P, a + 7 * P, 3],
  ]);
  kernel.validate();
});

test('mprotect splits a VMA and merging it back restores one VMA; a write to a read-only page is SEGV_ACCERR', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0, 3 * P, RW, ANON);
  mm.write(a, new Uint8Array(3 * P).fill(5));
  mm.mprotect(a + P, P, PROT.READ);
  assert.equal(mm.mapCount, 3);
  assert.equal(mm.readByte(a + P), 5);
  assert.throws(() => mm.writeByte(a + P, 1), (e: unknown) => e instanceof SegvError && e.reason === 'protection');
  mm.mprotect(a + P, P, PROT.NONE);
  assert.throws(() => mm.readByte(a + P), SegvError);
  assert.equal(mm.rssAnonPages, 3, 'PROT_NONE keeps the page (a PROTNONE entry)');
  // x86's _PAGE_PROTNONE: P clear, bit 8 (the global bit's place) set, the frame kept.
  const slot = kernel.vm.tables.entry(mm.pgdPfn, a + P, 1, false);
  const lo = (kernel.vm.u[slot] as number) >>> 0;
  assert.equal(lo & (PTE_PRESENT | PTE_PROTNONE), PTE_PROTNONE, `the PROT_NONE entry 0x${lo.toString(16)}`);
  assert.ok(lo >>> 12 !== 0, 'the entry keeps its frame');
  kernel.validate();
  mm.mprotect(a + P, P, RW);
  assert.equal(mm.mapCount, 1, 'merged back: the pieces share one anon_vma');
  assert.equal(mm.readByte(a + P), 5, 'the bytes survived');
  mm.writeByte(a + P, 6);
  assert.equal(mm.readByte(a + P), 6);
  kernel.validate();
});

test('VMAs with different anon_vmas do not merge (is_mergeable_anon_vma)', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0x30000000, P, PROT.READ, ANON);
  const b = mm.mmap(a + P, P, RW, ANON | MAP.FIXED);
  mm.writeByte(b, 1);
  mm.mprotect(a, P, RW);
  mm.writeByte(a, 1);
  assert.equal(mm.mapCount, 1, 'the read-only one had no anon_vma yet: it merges');
  const c = mm.mmap(0x31000000, P, RW, ANON);
  mm.writeByte(c, 1);
  const d = mm.mmap(0x31002000, P, RW, ANON);
  mm.writeByte(d, 1);
  mm.mmap(0x31001000, P, PROT.READ, ANON | MAP.FIXED);
  mm.mprotect(0x31001000, P, RW);
  assert.equal(mm.mapCount, 3, 'a+b; c joins the gap (no anon_vma yet); d faulted its own anon_vma, so it stays apart');
  kernel.validate();
});

test('faults: a read maps the shared zero page (no RSS), a write a fresh zeroed page; page tables come from the buddy allocator', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const free = kernel.pages.freePagesTotal;
  const a = mm.mmap(0, 4 * P, RW, ANON);
  assert.equal(mm.readByte(a), 0);
  assert.equal(mm.rssAnonPages, 0);
  assert.equal(vm.counter('nr_zero_page_maps'), 1);
  assert.equal(mm.pageTablePages, 4, 'PGD + PUD + PMD + PTE table');
  mm.writeByte(a, 9);
  assert.equal(mm.rssAnonPages, 1);
  assert.equal(vm.counter('nr_zero_page_maps'), 0, 'the write replaced the zero page');
  assert.ok(kernel.pages.findAllocatedBlock(mm.pgdPfn) !== null);
  assert.equal(kernel.memMap.owner[mm.pgdPfn], VM_OWNER_PGTABLE);
  assert.ok(free - kernel.pages.freePagesTotal >= 3 + 1, 'three new tables and one page, at least');
  assert.equal(vm.counter('pgfault'), 2);
  assert.throws(() => mm.readByte(0x50000000), (e: unknown) => e instanceof SegvError && e.reason === 'not-mapped');
  kernel.validate();
});

test('the reverse map: one item per mapping, mapcount and refcount 1; the page is freed with its last mapping', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, P, RW, ANON);
  mm.writeByte(a, 1);
  const slot = vm.tables.entry(mm.pgdPfn, a, 1, false);
  const pfn = (vm.u[slot] as number) >>> 12;
  assert.equal(kernel.memMap.mapcount[pfn], 1);
  assert.equal(kernel.memMap.refcount[pfn], 1);
  assert.notEqual(kernel.memMap.private[pfn], 0);
  assert.ok(kernel.slab.slabinfo().includes('anon_rmap_item'));
  assert.ok(kernel.slab.slabinfo().includes('vm_area_struct'));
  mm.munmap(a, P);
  assert.equal(kernel.pages.findAllocatedBlock(pfn), null, 'freed');
  kernel.validate();
});

test('madvise: DONTNEED zeroes, holes are ENOMEM after the mapped parts are advised, unknown advice EINVAL', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0x20000000, 2 * P, RW, ANON);
  mm.mmap(a + 3 * P, P, RW, ANON);
  mm.write(a, new Uint8Array(2 * P).fill(3));
  mm.writeByte(a + 3 * P, 3);
  assert.equal(errno(() => mm.madvise(a, P, 99)), 'EINVAL');
  assert.equal(errno(() => mm.madvise(a + 1, P, MADV.DONTNEED)), 'EINVAL');
  assert.equal(errno(() => mm.madvise(a, 4 * P, MADV.DONTNEED)), 'ENOMEM');
  // Past user space is a hole too (do_madvise has no upper bound but the 64-bit wrap).
  assert.equal(errno(() => mm.madvise(a, 2 ** 60, MADV.DONTNEED)), 'ENOMEM');
  assert.equal(errno(() => mm.madvise(a, 2 ** 64, MADV.DONTNEED)), 'EINVAL');
  assert.equal(mm.readByte(a), 0);
  assert.equal(mm.readByte(a + 3 * P), 0, 'the part after the hole was advised too');
  assert.equal(mm.rssAnonPages, 0);
  mm.madvise(a, P, MADV.HUGEPAGE);
  assert.equal(mm.mapCount, 3);
  assert.ok((mm.vm.vmas.flags(mm.vmaAt(0)) & VM.HUGEPAGE) !== 0);
  mm.madvise(a + P, P, MADV.HUGEPAGE);
  assert.equal(mm.mapCount, 2, 'merged again');
  mm.madvise(a, 2 * P, MADV.NOHUGEPAGE);
  assert.ok((mm.vm.vmas.flags(mm.vmaAt(0)) & (VM.HUGEPAGE | VM.NOHUGEPAGE)) === VM.NOHUGEPAGE);
  mm.madvise(a, 2 * P, MADV.POPULATE_WRITE);
  assert.equal(mm.rssAnonPages, 2);
  mm.mprotect(a, P, PROT.READ);
  assert.equal(errno(() => mm.madvise(a, P, MADV.POPULATE_WRITE)), 'EFAULT');
  kernel.validate();
});

test('brk: grows and shrinks the heap, refuses below start_brk and into the next mapping, and returns the old break then', () => {
  const { kernel, mm } = setup();
  const start = mm.brk(0);
  assert.equal(start, mm.startBrk);
  assert.equal(mm.brk(start + 10000), start + 10000);
  mm.writeByte(start + 9999, 4);
  assert.equal(mm.mapCount, 1);
  assert.equal(mm.brk(start - P), start + 10000, 'below start_brk');
  mm.mmap(start + 5 * P, P, RW, ANON | MAP.FIXED);
  assert.equal(mm.brk(start + 5 * P), start + 10000, 'no guard page before the next mapping');
  assert.equal(mm.brk(start + 4 * P), start + 4 * P);
  assert.equal(mm.brk(start + P), start + P);
  assert.equal(mm.rssAnonPages, 0, 'the page at +9999 went with the shrink');
  kernel.validate();
});

test('destroying an address space returns every page, table, VMA and rmap item', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const free = kernel.pages.freePagesTotal;
  const mm = vm.createAddressSpace();
  for (let i = 0; i < 20; i++) {
    const a = mm.mmap(0, (i + 1) * P, i % 2 === 0 ? RW : PROT.READ, ANON);
    if (i % 2 === 0) mm.writeByte(a + i * P, i);
    else mm.readByte(a);
  }
  kernel.validate();
  mm.destroy();
  kernel.validate();
  assert.equal(vm.addressSpaces().length, 0);
  assert.equal(vm.counter('nr_anon_pages'), 0);
  assert.equal(vm.counter('nr_page_table_pages'), 0);
  kernel.slab.shrink();
  assert.equal(kernel.pages.freePagesTotal, free);
});

test('validate() catches a writable entry in a read-only VMA and a leaked anonymous page', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0, P, PROT.READ, ANON);
  mm.readByte(a);
  const vm = kernel.vm;
  const slot = vm.tables.entry(mm.pgdPfn, a, 1, false);
  vm.u[slot] = (vm.u[slot] as number) | 2;
  assert.throws(() => kernel.validate(), /writable entry/);
  vm.u[slot] = (vm.u[slot] as number) & ~2;
  const b = mm.mmap(0, P, RW, ANON);
  mm.writeByte(b, 1);
  const s2 = vm.tables.entry(mm.pgdPfn, b, 1, false);
  vm.u[s2] = 0;
  vm.u[s2 + 1] = 0;
  assert.throws(() => kernel.validate(), /mapped nowhere|rss/);
});

test('a new address space without memory is ENOMEM (mm_alloc), with every page and object it took given back', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  vm.createAddressSpace().destroy(); // the mm cache and the VM root exist before memory runs out
  const probe = vm.createAddressSpace();
  const held: number[] = [];
  for (let pfn = kernel.pages.tryAllocPages(0); pfn !== null; pfn = kernel.pages.tryAllocPages(0)) held.push(pfn);
  const freeBefore = kernel.pages.stats().freePages;
  const inUse = (): string => JSON.stringify(kernel.slab.stats().caches.map((c) => [c.name, c.inUse, c.pages]));
  const slabBefore = inUse();
  assert.throws(() => vm.createAddressSpace(), (e: unknown) => e instanceof SyscallError && e.errno === 'ENOMEM' && /mm_alloc: ENOMEM: no memory for a new address space/.test(e.message));
  assert.equal(kernel.pages.stats().freePages, freeBefore);
  assert.equal(inUse(), slabBefore, 'the mm_struct taken before the PGD failed went back');
  kernel.validate();
  // mmap needs a vm_area_struct: once the VMA cache cannot grow, ENOMEM (not OutOfMemoryError).
  let mapped = 0;
  let error: unknown = null;
  for (; mapped < 10_000 && error === null; mapped++) {
    try {
      probe.mmap(0, P, mapped % 2 === 0 ? PROT.READ : PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
    } catch (e) {
      error = e;
    }
  }
  assert.ok(error instanceof SyscallError && error.errno === 'ENOMEM', `after ${mapped} mmaps: ${String(error)}`);
  kernel.validate();
  probe.destroy();
  for (const pfn of held) kernel.pages.freePages(pfn, 0);
  const mm = vm.createAddressSpace();
  mm.writeByte(mm.mmap(0, P, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS), 1);
  kernel.validate();
});

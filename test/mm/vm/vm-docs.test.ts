// Rules docs/vm.md states that no other test pinned: each fails when the rule is broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { fullyAssociative } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { PageFlag } from '../../../src/mm/types.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { SyscallError } from '../../../src/mm/vm/errors.ts';
import { forkAddressSpace } from '../../../src/mm/vm/fork.ts';
import { mlock } from '../../../src/mm/secret/tags.ts';
import { MAX_GATHER_BATCH } from '../../../src/mm/vm/mmu-gather.ts';
import { setThpSettings, thpSettings } from '../../../src/mm/vm/thp-settings.ts';
import { TLB_SINGLE_PAGE_FLUSH_CEILING } from '../../../src/mm/vm/tlb-shootdown.ts';
import { DEFAULT_MAX_MAP_COUNT, MADV, MAP, PROT, TASK_SIZE, VM } from '../../../src/mm/vm/types.ts';
import { PTE_PRESENT, PTE_WRITABLE } from '../../../src/machine/pte.ts';
import { bootWithCpu } from '../../helpers/bound-cpu.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';
import type { Vm } from '../../../src/mm/vm/vm.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

function errno(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof SyscallError) return error.errno;
    throw error;
  }
}

/** A 32 MiB kernel with THP off, an address space, and `pages` anonymous pages mapped at 1 GiB. */
function smallMachine(pages: number): { kernel: Kernel; vm: Vm; mm: AddressSpace; a: number } {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  setThpSettings(vm, { enabled: 'never' });
  const mm = vm.createAddressSpace();
  return { kernel, vm, mm, a: mm.mmap(0x4000_0000, pages * P, RW, ANON) };
}

test('Linux\'s figures: max_map_count 65530, mmu_gather batches of 510, a 33-page invlpg ceiling, khugepaged 511 / 4096, mmap_base TASK_SIZE − 128 MiB', () => {
  assert.equal(DEFAULT_MAX_MAP_COUNT, 65530);
  assert.equal(MAX_GATHER_BATCH, 510, '(PAGE_SIZE − 16-byte batch header) / 8');
  assert.equal(TLB_SINGLE_PAGE_FLUSH_CEILING, 33, 'tlb_single_page_flush_ceiling');
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const { maxPtesNone, pagesToScan } = thpSettings(kernel.vm);
  assert.deepEqual([maxPtesNone, pagesToScan], [511, 4096]);
  assert.equal(kernel.vm.createAddressSpace().mmapBase, TASK_SIZE - 128 * 1024 * 1024);
});

test('mmap is ENOMEM once map_count is above max_map_count (do_mmap checks before it adds: the count reaches max + 1, as in Linux)', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace({ maxMapCount: 3 });
  // Gaps between them keep the VMAs from merging.
  for (let i = 0; i < 4; i++) mm.mmap(0x1000_0000 + i * 2 * P, P, RW, ANON | MAP.FIXED);
  assert.equal(mm.mapCount, 4);
  assert.equal(errno(() => mm.mmap(0x2000_0000, P, RW, ANON)), 'ENOMEM');
  assert.equal(mm.mapCount, 4, 'nothing mapped');
  kernel.validate();
});

test('MADV_DONTNEED frees the pages and keeps the page tables; munmap of the whole range frees both', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  setThpSettings(kernel.vm, { enabled: 'never' });
  const a = mm.mmap(0x4000_0000, 64 * P, RW, ANON);
  for (let i = 0; i < 64; i++) mm.writeByte(a + i * P, 1);
  const tables = mm.pageTablePages;
  mm.madvise(a, 64 * P, MADV.DONTNEED);
  assert.equal(mm.rssAnonPages, 0);
  assert.equal(mm.pageTablePages, tables, 'DONTNEED frees no page table');
  assert.equal(mm.readByte(a), 0);
  kernel.validate();
});

test('one range flush invalidates page by page up to 33 pages, and flushes the PCID beyond', () => {
  const { kernel, mm, cpu } = bootWithCpu({ ramBytes: '32MiB', tlbEntries: 256 });
  const a = mm.mmap(0x4000_0000, 200 * P, RW, ANON);
  for (let i = 0; i < 200; i++) cpu.store8(a + i * P, 1);
  const counters = (): { invlpg: number; flushes: number } => cpu.stats().tlb.counters;
  const before = counters();
  mm.munmap(a, 33 * P);
  assert.deepEqual(counters(), { ...before, invlpg: before.invlpg + 33 }, '33 pages: 33 invlpg, no flush');
  const mid = counters();
  mm.munmap(a + 40 * P, 34 * P);
  assert.deepEqual(counters(), { ...mid, flushes: mid.flushes + 1 }, '34 pages: one PCID flush, no invlpg');
  kernel.validate();
});

test('copy-on-write: a CPU that cached the shared page reads the copy after the write, not the page the child keeps', () => {
  const { kernel, vm, mm, a } = smallMachine(1);
  mm.writeByte(a, 1);
  const child = forkAddressSpace(mm, 'naive');
  const cpu = new Cpu(kernel.ram, { preset: fullyAssociative(64) });
  bindCpu(vm, cpu).switchTo(mm);
  assert.equal(cpu.load8(a), 1, 'the shared page, read-only, in the TLB');
  mm.writeByte(a, 2); // the kernel writes for the parent: a COW copy
  assert.equal(cpu.load8(a), 2, 'the CPU reads the parent\'s copy');
  assert.equal(child.readByte(a), 1, 'the child keeps the original');
  kernel.validate();
});

test('validate() catches each corruption docs/vm.md says it checks, naming it, and passes again once it is undone', () => {
  const { kernel, vm, mm, a } = smallMachine(4);
  for (let i = 0; i < 4; i++) mm.writeByte(a + i * P, 1);
  forkAddressSpace(mm, 'naive'); // the child shares the four pages, read-only
  const v = vm.vmalloc(2 * P);
  assert.ok(v !== null);
  kernel.validate();
  const corrupt = (word: number, value: number, pattern: RegExp): void => {
    const saved = vm.u[word] as number;
    vm.u[word] = value >>> 0;
    assert.throws(() => kernel.validate(), pattern);
    vm.u[word] = saved;
    kernel.validate();
  };
  // The kernel half of a process's PGD is init_mm's.
  const pgdWord = (mm.pgdPfn * P) / 4 + 511 * 2;
  corrupt(pgdWord, (vm.u[pgdWord] as number) ^ 0x1000, /kernel-half PGD word \d+ differs from init_mm's/);
  // A page fork shares is read-only through both entries, and exclusive to neither.
  const pte = vm.tables.entry(mm.pgdPfn, a, 1, false);
  corrupt(pte, (vm.u[pte] as number) | PTE_WRITABLE, /is shared by 2 entries and one of them is writable/);
  const pfn = (vm.u[pte] as number) >>> 12;
  const flags = vm.memMap.flags[pfn] as number;
  vm.memMap.flags[pfn] = flags | PageFlag.AnonExclusive;
  assert.throws(() => kernel.validate(), /is AnonExclusive but 2 entries map it/);
  vm.memMap.flags[pfn] = flags;
  kernel.validate();
  // vmalloc's trailing guard page stays unmapped.
  const guard = vm.tables.entry(vm.kernelPgdPfn, v + 2 * P, 1, false);
  corrupt(guard, (vm.u[guard - 2] as number) | PTE_PRESENT, /vmalloc guard page at 0x[0-9a-f]+ is mapped/);
  // A page table spans a VMA (free_pgtables frees the others).
  const far = 0x7000_0000_00;
  vm.tables.entry(mm.pgdPfn, far, 1, true);
  assert.throws(() => kernel.validate(), /spans no VMA: expected free_pgtables to have freed it/);
});

test('madvise flag advice sets and clears Linux\'s VMA flags (RANDOM/SEQUENTIAL/NORMAL, DONTFORK/DOFORK); an advice kmem does not take is EINVAL; MAP_POPULATE and POPULATE_READ fault pages in', () => {
  const { kernel, vm, mm, a } = smallMachine(4);
  const flags = (): number => vm.vmas.flags(mm.vmaContaining(a));
  const READ_HINTS = VM.SEQ_READ | VM.RAND_READ;
  mm.madvise(a, 4 * P, MADV.SEQUENTIAL);
  assert.equal(flags() & READ_HINTS, VM.SEQ_READ);
  mm.madvise(a, 4 * P, MADV.RANDOM);
  assert.equal(flags() & READ_HINTS, VM.RAND_READ, 'RANDOM replaces SEQUENTIAL');
  mm.madvise(a, 4 * P, MADV.NORMAL);
  assert.equal(flags() & READ_HINTS, 0);
  mm.madvise(a, 4 * P, MADV.DONTFORK);
  assert.equal(flags() & VM.DONTCOPY, VM.DONTCOPY);
  mm.madvise(a, 4 * P, MADV.DOFORK);
  assert.equal(flags() & VM.DONTCOPY, 0);
  assert.equal(errno(() => mm.madvise(a, 4 * P, 8)), 'EINVAL', 'MADV_FREE (8): not modelled');
  assert.equal(errno(() => mm.madvise(a, 4 * P, 25)), 'EINVAL', 'MADV_COLLAPSE (25): not modelled');
  assert.equal(mm.rssAnonPages, 0);
  mm.madvise(a, 2 * P, MADV.POPULATE_READ);
  assert.equal(mm.faults > 0 && mm.readByte(a) === 0, true);
  const b = mm.mmap(0x5000_0000, 8 * P, RW, ANON | MAP.POPULATE);
  assert.equal(mm.rssAnonPages, 8, 'MAP_POPULATE on a writable mapping: write faults, 8 pages');
  assert.equal(mm.readByte(b + 7 * P), 0);
  kernel.validate();
});

test('/proc/meminfo lists its lines in Linux\'s order (fs/proc/meminfo.c)', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const names = kernel.vm.meminfo().trimEnd().split('\n').map((l) => l.split(':')[0]);
  assert.deepEqual(names, ['MemTotal', 'MemFree', 'Active(anon)', 'Inactive(anon)', 'Unevictable', 'SwapTotal', 'SwapFree', 'AnonPages', 'PageTables', 'VmallocTotal', 'VmallocUsed', 'VmallocChunk', 'AnonHugePages']);
});

test('THP alignment of anonymous mmap: an already aligned top-down area gives its upper part, so 2 MiB mappings in a row lie back to back (and merge), as __thp_get_unmapped_area', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  setThpSettings(kernel.vm, { align: 'linux-6.12' });
  const mm = kernel.vm.createAddressSpace();
  const first = mm.mmap(0, 2 << 20, RW, ANON);
  const second = mm.mmap(0, 2 << 20, RW, ANON);
  assert.equal(first % (2 << 20), 0);
  assert.equal(second, first - (2 << 20), 'directly below the first: no 2 MiB hole');
  assert.equal(mm.mapCount, 1, 'one VMA of 4 MiB');
  kernel.validate();
});

test('fork: the child does not inherit mlock, and VMAs the parent kept apart by mlock alone are one mapping in the child', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0x4000_0000, 8 * P, RW, ANON);
  mlock(mm, a + 2 * P, 2 * P);
  assert.equal(mm.mapCount, 3, 'the mlocked middle is a VMA of its own');
  const child = forkAddressSpace(mm, 'naive');
  assert.equal(child.mapCount, 1);
  assert.equal(kernel.vm.vmas.flags(child.vmaContaining(a + 2 * P)) & VM.LOCKED, 0, 'no VM_LOCKED');
  kernel.validate();
});

test('anon_vma: a VMA that differs from its neighbour only in access flags takes the neighbour\'s on its first fault (find_mergeable_anon_vma), so an mprotect that evens the flags merges them', () => {
  const { kernel, mm, a } = smallMachine(4);
  mm.mprotect(a + 2 * P, 2 * P, RW | PROT.EXEC);
  assert.equal(mm.mapCount, 2);
  mm.writeByte(a, 1); // the RW VMA's first anonymous page: its anon_vma
  mm.writeByte(a + 3 * P, 2); // the RWX VMA's, while the flags still differ: the neighbour's anon_vma
  mm.mprotect(a + 2 * P, 2 * P, RW);
  assert.equal(mm.mapCount, 1, 'same flags and the same anon_vma: one VMA');
  assert.deepEqual([mm.readByte(a), mm.readByte(a + 3 * P)], [1, 2]);
  kernel.validate();
});

test('mmap\'s search: top-down below mmap_base, then, where that finds no room, bottom-up from TASK_SIZE / 3', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const base = mm.mmapBase;
  // Everything from 64 KiB up to 512 KiB below mmap_base is taken: no 1 MiB hole below mmap_base.
  const low = 0x10000;
  const top = base - 0x80000;
  mm.mmap(low, top - low, PROT.READ, ANON | MAP.FIXED);
  const addr = mm.mmap(0, 1 << 20, RW, ANON);
  assert.equal(addr, top, 'the lowest room above TASK_SIZE / 3: right after the big mapping, reaching above mmap_base');
  assert.ok(addr + (1 << 20) > base);
  kernel.validate();
});

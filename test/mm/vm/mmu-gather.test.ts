// mmu_gather: a page or page table is freed only after every CPU's TLB and page-walk caches dropped it.
// Each test opens the window an unmap leaves between clearing entries and the end of the call, and
// has a second CPU look through it; with the old order (free, then flush) both fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { PageFaultError } from '../../../src/machine/mmu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { MAX_GATHER_BATCH, MmuGather } from '../../../src/mm/vm/mmu-gather.ts';
import { VM_OWNER_ANON } from '../../../src/mm/vm/owners.ts';
import { PageFlag } from '../../../src/mm/types.ts';
import { zapRange } from '../../../src/mm/vm/vma-ops.ts';
import { entryPfn } from '../../../src/mm/vm/page-table.ts';
import { MADV, MAP, PROT } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;
const MARKER = 0x5ec7e7;

/** CPU B reads vaddr with no fault handler (the kernel holds the mmap_lock): the value, or null on a fault. */
function peek(cpu: Cpu, vaddr: number): number | null {
  try {
    return cpu.load32(vaddr);
  } catch (error) {
    if (error instanceof PageFaultError) return null;
    throw error;
  }
}

for (const how of ['munmap', 'MADV_DONTNEED', 'exit'] as const) {
  test(`${how}: a freed page is reused only after CPU B's TLB dropped it (the page's next owner's bytes never show through)`, () => {
    const kernel = Kernel.boot({ ramBytes: '32MiB' });
    const vm = kernel.vm;
    const mm = vm.createAddressSpace();
    const cpuB = new Cpu(kernel.ram, { preset: skylake(), index: 1 });
    bindCpu(vm, cpuB).switchTo(mm);
    const a = mm.mmap(0, 4 * P, RW, ANON);
    for (let i = 0; i < 4; i++) cpuB.store32(a + i * P, 0x1111 + i);
    for (let i = 0; i < 4; i++) assert.equal(cpuB.load32(a + i * P), 0x1111 + i, 'cached in CPU B\'s TLB');
    const frameOf = new Map<number, number>();
    for (let i = 0; i < 4; i++) frameOf.set(entryPfn(vm.u[vm.tables.entry(mm.pgdPfn, a + i * P, 1, false)]!), a + i * P);
    // Every anonymous page freed is taken at once by a new owner who writes MARKER over it; CPU B
    // then reads the page's old virtual address.
    const pages = vm.pages;
    const realFree = pages.freePages.bind(pages);
    const seen: (number | null)[] = [];
    cpuB.setFaultHandler(null);
    pages.freePages = (pfn: number, order: number, owner?: number): void => {
      realFree(pfn, order, owner);
      const vaddr = frameOf.get(pfn);
      if (owner !== VM_OWNER_ANON || vaddr === undefined) return;
      const again = pages.allocPages(0, GFP.HIGHUSER_MOVABLE);
      assert.equal(again, pfn, 'the per-CPU list hands the page just freed out first');
      kernel.ram.u32(pfn * P, 1)[0] = MARKER;
      seen.push(peek(cpuB, vaddr));
      realFree(again, 0);
    };
    if (how === 'munmap') mm.munmap(a, 4 * P);
    else if (how === 'MADV_DONTNEED') mm.madvise(a, 4 * P, MADV.DONTNEED);
    else mm.destroy();
    pages.freePages = realFree;
    assert.equal(seen.length, 4, 'each page was freed and reused inside the call');
    assert.deepEqual(seen, [null, null, null, null], 'CPU B faults: it never reads the new owner\'s MARKER through a stale entry');
    kernel.validate();
  });
}

test('munmap: a page table is freed only after CPU B\'s page-walk caches dropped it', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const cpuB = new Cpu(kernel.ram, { preset: skylake(true), index: 1 });
  bindCpu(vm, cpuB).switchTo(mm);
  const a = mm.mmap(0, 8 * P, RW, ANON);
  cpuB.store32(a, 1);
  const slot = vm.tables.entry(mm.pgdPfn, a, 1, false);
  const ptPfn = Math.floor((slot * 4) / P);
  // A page CPU B must never reach: filled with MARKER.
  const secret = vm.pages.allocPages(0, GFP.KERNEL);
  kernel.ram.u32(secret * P, P / 4).fill(MARKER);
  // CPU B walks again right after every TLB flush of the call: whatever the tables still link, its
  // page-walk caches pick up.
  cpuB.setFaultHandler(null);
  const realFlush = vm.flushTlb.bind(vm);
  vm.flushTlb = (target, start, end) => {
    realFlush(target, start, end);
    assert.equal(peek(cpuB, a + 5 * P), null, 'nothing is mapped there');
  };
  mm.munmap(a, 8 * P);
  vm.flushTlb = realFlush;
  assert.equal((vm.memMap.flags[ptPfn]! & PageFlag.Allocated), 0, 'the page table was freed');
  // The freed table's next owner writes words that look like a PTE for a + 5P pointing at the secret.
  const entry = ptPfn * P + (((a + 5 * P) / P) % 512) * 8;
  kernel.ram.u32(entry, 2).set([(secret * P) | 0x67, 0]);
  assert.equal(peek(cpuB, a + 5 * P), null, 'CPU B faults: no stale PDE-cache entry leads it into the freed table');
  kernel.ram.u32(entry, 2).set([0, 0]);
  vm.pages.freePages(secret, 0);
  kernel.validate();
});

test('a gather flushes once for the range its cleared entries cover, and early when a batch fills', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const flushes: [number, number][] = [];
  vm.onTlbFlush((_cr3, start, end) => flushes.push([start, end]));
  const n = MAX_GATHER_BATCH + 10;
  const a = mm.mmap(0, (n + 20) * P, RW, ANON);
  mm.madvise(a, (n + 20) * P, MADV.NOHUGEPAGE);
  for (let i = 0; i < n; i++) mm.writeByte(a + i * P, 1);
  flushes.length = 0;
  mm.lockMmap();
  const tlb = new MmuGather(mm, false);
  try {
    zapRange(mm, a, a + (n + 20) * P, null, tlb);
    // The entry of page MAX_GATHER_BATCH + 1 was cleared (and tracked) when its page found the batch full.
    assert.deepEqual(flushes, [[a, a + (MAX_GATHER_BATCH + 1) * P]], 'a full batch flushed the range cleared so far, then freed');
    tlb.finish();
  } finally {
    mm.lock.release();
  }
  assert.deepEqual(flushes[1], [a + (MAX_GATHER_BATCH + 1) * P, a + n * P], 'the rest: only where entries were cleared');
  assert.equal(tlb.flushes, 2);
  assert.equal(mm.rssAnonPages, 0);
  kernel.validate();
});

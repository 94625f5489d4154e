/**
 * Transparent huge pages for anonymous memory (Linux mm/huge_memory.c).
 *
 * A fault maps a 2 MiB page with one PMD entry when THP is enabled for the VMA (enabled=always and no
 * VM_NOHUGEPAGE, or enabled=madvise and VM_HUGEPAGE), the 2 MiB-aligned range around the address lies
 * wholly inside the VMA, and no page table is there yet (pmd_none). A read maps the huge zero page
 * (use_zero_page); a write takes an order-9 block, zeroed: thp_fault_alloc. When none is free the
 * defrag setting decides (defragMode): compact directly and retry (compact_stall, then compact_success
 * or compact_fail), or wake kcompactd, or neither; then thp_fault_fallback and a 4 KiB fault.
 *
 * With each THP the fault deposits a PTE table (pgtable_trans_huge_deposit), counted in PageTables and
 * kept in mem_map.next of the THP's first page, so that a split never needs memory.
 *
 * Splitting (split_huge_pmd + split_huge_page, done at once here where Linux defers the page split):
 * a PMD leaf that a munmap, mprotect, madvise or VMA split cuts becomes the deposited table of 512
 * PTEs over the same frames, the order-9 block becomes 512 order-0 pages (PageAllocator.splitPage),
 * each with its own rmap item. The huge zero page splits into 512 entries of the small zero page, as
 * do_huge_pmd_wp_page does before a write to it.
 *
 * Locking: the mm's mmap_lock is held.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_HUGE, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { GFP } from '../gfp.ts';
import { NO_PFN } from '../types.ts';
import { PTE_PROTNONE, leafHi, leafLo, vmaPageTags } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MMF } from './mm-struct.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP, VM_OWNER_ROOT } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { compactMemory } from './compaction.ts';
import { lruSplit } from '../swap/lru.ts';
import { rmapAdd } from './rmap.ts';
import { thpSettings } from './thp-settings.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE, VM } from './types.ts';
import type { AccessKind } from './types.ts';
import { ROOT } from './vm.ts';
import type { Vm } from './vm.ts';

/** Whether faults in a VMA with these flags may use huge pages (hugepage_vma_check for anonymous memory). */
export function thpAllowed(vm: Vm, vmFlags: number): boolean {
  const enabled = thpSettings(vm).enabled;
  if ((vmFlags & VM.NOHUGEPAGE) !== 0 || enabled === 'never') return false;
  return enabled === 'always' || (vmFlags & VM.HUGEPAGE) !== 0;
}

/** The low word of a PMD leaf mapping the 2 MiB frame at pfn. */
export function hugeLeafLo(pfn: number, vmFlags: number, writable: boolean, dirty: boolean): number {
  return (leafLo(pfn, vmFlags, writable, dirty) | PTE_HUGE) >>> 0;
}

function hugeZeroPfn(vm: Vm): number | null {
  let pfn = vm.root(ROOT.HUGE_ZERO_PFN);
  if (pfn !== 0) return pfn;
  const got = vm.pages.tryAllocPages(HPAGE_PMD_ORDER, GFP.KERNEL | GFP.ZERO | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ROOT);
  if (got === null) return null;
  pfn = got;
  vm.setRoot(ROOT.HUGE_ZERO_PFN, pfn);
  vm.count('thp_zero_page_alloc');
  return pfn;
}

/**
 * The huge part of a fault: returns true when it resolved the fault (a THP, the huge zero page, or a
 * write fault on an existing THP); false when the 4 KiB path should run (it may have split a huge
 * zero PMD for that).
 */
export function hugeFault(mm: AddressSpace, vma: number, vaddr: number, access: AccessKind): boolean {
  const vm = mm.vm;
  const vmas = vm.vmas;
  const flags = vmas.flags(vma);
  const haddr = Math.floor(vaddr / PMD_SIZE) * PMD_SIZE;
  const slot = vm.tables.entry(mm.pgdPfn, haddr, 2, false);
  const u = vm.u;
  if (slot >= 0 && ((u[slot] as number) & PTE_HUGE) !== 0) {
    const lo = u[slot] as number;
    if (access !== 'write' || (lo & PTE_WRITABLE) !== 0) return true;
    if (entryPfn(lo) === vm.root(ROOT.HUGE_ZERO_PFN)) {
      splitHugePmd(mm, haddr);
      return false;
    }
    // A write to a read-only THP of a writable VMA that only this mm maps: do_huge_pmd_wp_page reuses it.
    u[slot] = (lo | PTE_WRITABLE | PTE_DIRTY) >>> 0;
    vm.flushTlb(mm, haddr, haddr + PMD_SIZE);
    return true;
  }
  if (!thpAllowed(vm, flags) || haddr < vmas.start(vma) || haddr + PMD_SIZE > vmas.end(vma)) return false;
  if (slot >= 0 && (u[slot] as number) !== 0) return false;
  const pmd = vm.tables.entry(mm.pgdPfn, haddr, 2, true, (d) => mm.countTables(d));
  if (pmd < 0) return false;
  if (access !== 'write' && thpSettings(vm).useZeroPage) {
    const zero = hugeZeroPfn(vm);
    if (zero !== null) {
      u[pmd + 1] = leafHi(flags);
      u[pmd] = hugeLeafLo(zero, flags, false, false);
      vm.count('nr_huge_zero_page_maps');
      return true;
    }
  }
  const deposit = vm.tables.allocTable();
  let pfn = deposit === null ? null : allocHuge(vm);
  if (pfn === null && deposit !== null) {
    const mode = defragMode(vm, flags);
    if (mode === 'direct') {
      vm.count('compact_stall');
      if (compactMemory(vm, HPAGE_PMD_ORDER, mm) === 'success') {
        vm.count('compact_success');
        pfn = allocHuge(vm);
      } else {
        vm.count('compact_fail');
      }
    } else if (mode === 'defer') {
      vm.setRoot(ROOT.KCOMPACTD_WAKE, 1);
    }
  }
  if (pfn === null || deposit === null) {
    if (deposit !== null) vm.tables.freeTable(deposit);
    vm.count('thp_fault_fallback');
    return false;
  }
  mm.anonVmaPrepare(vma);
  vm.memMap.next[pfn] = deposit;
  mm.countTables(1);
  rmapAdd(vm, pfn, mm.paddr, haddr);
  vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) | vmaPageTags(flags);
  u[pmd + 1] = leafHi(flags);
  u[pmd] = hugeLeafLo(pfn, flags, true, access === 'write');
  mm.countAnon(HPAGE_PMD_NR);
  mm.addNum(MMF.ANON_PMDS, 1);
  vm.count('nr_anon_transparent_hugepages');
  vm.count('thp_fault_alloc');
  return true;
}

function allocHuge(vm: Vm): number | null {
  return vm.pages.tryAllocPages(HPAGE_PMD_ORDER, GFP.HIGHUSER_MOVABLE | GFP.ZERO | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON_THP);
}

/** What the defrag setting makes a THP fault in a VMA with these flags do when no block is free. */
export function defragMode(vm: Vm, vmFlags: number): 'direct' | 'defer' | 'none' {
  const madvised = (vmFlags & VM.HUGEPAGE) !== 0;
  switch (thpSettings(vm).defrag) {
    case 'always':
      return 'direct';
    case 'defer':
      return 'defer';
    case 'defer+madvise':
      return madvised ? 'direct' : 'defer';
    case 'madvise':
      return madvised ? 'direct' : 'none';
    case 'never':
      return 'none';
  }
}

/** Splits the PMD leaf mapping haddr (2 MiB-aligned) into 512 PTEs; nothing when there is none. */
export function splitHugePmd(mm: AddressSpace, haddr: number): void {
  const vm = mm.vm;
  const u = vm.u;
  const slot = vm.tables.entry(mm.pgdPfn, haddr, 2, false);
  if (slot < 0 || ((u[slot] as number) & PTE_HUGE) === 0) return;
  const lo = u[slot] as number;
  const hi = u[slot + 1] as number;
  const pfn = entryPfn(lo);
  const base = (lo & (PTE_PRESENT | PTE_PROTNONE | PTE_USER | PTE_WRITABLE | PTE_ACCESSED | PTE_DIRTY)) >>> 0;
  vm.count('thp_split_pmd');
  let table: number;
  if (pfn === vm.root(ROOT.HUGE_ZERO_PFN)) {
    vm.count('nr_huge_zero_page_maps', -1);
    const fresh = vm.tables.allocTable();
    if (fresh === null) {
      // Nothing to keep: the range reads as zeroes either way, and faults will map it again.
      u[slot] = 0;
      u[slot + 1] = 0;
      vm.flushTlb(mm, haddr, haddr + PMD_SIZE);
      return;
    }
    mm.countTables(1);
    table = fresh;
    const t = (table * PAGE_SIZE) / 4;
    for (let i = 0; i < HPAGE_PMD_NR; i++) {
      u[t + 2 * i + 1] = hi;
      u[t + 2 * i] = ((vm.zeroPfn * PAGE_SIZE) | (base & ~(PTE_WRITABLE | PTE_DIRTY))) >>> 0;
    }
    vm.count('nr_zero_page_maps', HPAGE_PMD_NR);
  } else {
    table = vm.memMap.next[pfn] as number;
    assert(table !== NO_PFN && table > 0, () => `THP at pfn ${pfn} has no deposited page table`);
    vm.memMap.next[pfn] = NO_PFN;
    const memMap = vm.memMap;
    // The head's one rmap item becomes one per subpage.
    const item = memMap.private[pfn] as number;
    assert(item !== 0 && (vm.w[item / 4 + 1] as number) === 0, () => `THP at pfn ${pfn}: expected exactly one mapping to split`);
    vm.rmapCache.free(item);
    memMap.private[pfn] = 0;
    memMap.mapcount[pfn] = 0;
    vm.pages.splitPage(pfn, HPAGE_PMD_ORDER, VM_OWNER_ANON_THP);
    lruSplit(vm, pfn, HPAGE_PMD_NR);
    const t = (table * PAGE_SIZE) / 4;
    for (let i = 0; i < HPAGE_PMD_NR; i++) {
      memMap.owner[pfn + i] = VM_OWNER_ANON;
      rmapAdd(vm, pfn + i, mm.paddr, haddr + i * PAGE_SIZE);
      u[t + 2 * i + 1] = hi;
      u[t + 2 * i] = (((pfn + i) * PAGE_SIZE) | base) >>> 0;
    }
    mm.addNum(MMF.ANON_PMDS, -1);
    vm.count('nr_anon_transparent_hugepages', -1);
    vm.count('thp_split_page');
  }
  u[slot + 1] = 0;
  u[slot] = ((table * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED) >>> 0;
  vm.flushTlb(mm, haddr, haddr + PMD_SIZE);
}

/** Splits the PMD leaves that straddle start or end (vma_adjust_trans_huge / __split_huge_pmd at range ends). */
export function splitHugeBoundaries(mm: AddressSpace, start: number, end: number): void {
  if (start % PMD_SIZE !== 0) splitHugePmd(mm, Math.floor(start / PMD_SIZE) * PMD_SIZE);
  if (end % PMD_SIZE !== 0) splitHugePmd(mm, Math.floor(end / PMD_SIZE) * PMD_SIZE);
}

/** Whether the alignment policy pads an anonymous mapping of `len` bytes to a 2 MiB boundary. */
export function alignsMapping(vm: Vm, len: number): boolean {
  switch (thpSettings(vm).align) {
    case 'none':
      return false;
    case 'linux-6.7':
      return len >= PMD_SIZE;
    case 'linux-6.12':
      return len % PMD_SIZE === 0;
    case 'always':
      return true;
  }
}

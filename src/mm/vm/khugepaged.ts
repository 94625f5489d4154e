/**
 * khugepaged (Linux mm/khugepaged.c): a scan over the address spaces that collapses 512 small pages
 * of a 2 MiB-aligned range into one transparent huge page.
 *
 * A range is collapsed when THP is allowed for its VMA (thpAllowed), it lies wholly inside the VMA, a
 * PTE table maps it (not a huge PMD, not nothing), at most max_ptes_none (default 511) of its entries
 * are empty or map the zero page, every page mapped is an exclusively mapped anonymous page, and at
 * least one entry is writable and one was referenced (hpage_collapse_scan_pmd's SCAN_PAGE_RO and
 * SCAN_LACK_REFERENCED_PAGE). collapse_huge_page then takes an order-9 block, compacting first when
 * khugepaged/defrag is on (the default) and none is free (thp_collapse_alloc, or
 * thp_collapse_alloc_failed), copies each page (zeroes for the empty ones), frees the small pages,
 * keeps the emptied PTE table as the THP's deposit and installs the PMD leaf (pages_collapsed).
 *
 * Each call scans up to pages_to_scan entries (default 4096: 8 ranges), resuming where the last
 * left off; passing over every address space counts a full scan (full_scans). The cursor (pid,
 * address) lives in Vm's root page. Locking: takes each mm's mmap_lock in turn.
 */
import { PTE_ACCESSED, PTE_HUGE, PTE_PRESENT, PTE_WRITABLE } from '../../machine/pte.ts';
import { GFP } from '../gfp.ts';
import { PTE_PROTNONE, leafHi } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MMF } from './mm-struct.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { compactMemory } from './compaction.ts';
import { isSwapPte } from '../swap/swp-entry.ts';
import { rmapAdd, rmapRemove } from './rmap.ts';
import { hugeLeafLo, thpAllowed } from './thp.ts';
import { thpSettings } from './thp-settings.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE } from './types.ts';
import { ROOT } from './vm.ts';
import type { Vm } from './vm.ts';

/** Why a range was not collapsed (a subset of Linux's scan results), for tests and scenarios. */
export type CollapseResult = 'collapsed' | 'no-table' | 'huge' | 'too-many-none' | 'not-exclusive' | 'read-only' | 'not-referenced' | 'no-memory' | 'protnone' | 'swapped';

/** Scans up to pages_to_scan entries; returns the number of ranges collapsed. */
export function khugepagedScan(vm: Vm): number {
  const budget = thpSettings(vm).pagesToScan;
  const mms = vm.addressSpaces().sort((a, b) => a.pid - b.pid);
  if (mms.length === 0) return 0;
  let scanned = 0;
  let collapsed = 0;
  let pid = vm.root(ROOT.KHUGEPAGED_CURSOR_MM);
  let addr = vm.khugepagedCursorAddr;
  for (let visits = 0; scanned < budget && visits <= mms.length; ) {
    const mm = mms.find((candidate) => candidate.pid >= pid);
    if (mm === undefined) {
      vm.count('khugepaged_full_scans');
      pid = 0;
      addr = 0;
      visits++;
      continue;
    }
    if (mm.pid !== pid) addr = 0;
    pid = mm.pid;
    mm.lockMmap();
    try {
      const vmas = vm.vmas;
      for (let i = mm.findIndex(addr); i < mm.mapCount && scanned < budget; i++) {
        const vma = mm.vmaAt(i);
        if (!thpAllowed(vm, vmas.flags(vma))) continue;
        let h = Math.max(Math.ceil(vmas.start(vma) / PMD_SIZE) * PMD_SIZE, Math.ceil(addr / PMD_SIZE) * PMD_SIZE);
        for (; h + PMD_SIZE <= vmas.end(vma) && scanned < budget; h += PMD_SIZE) {
          scanned += HPAGE_PMD_NR;
          vm.count('khugepaged_pages_scanned', HPAGE_PMD_NR);
          if (collapseRange(mm, h, true) === 'collapsed') collapsed++;
          addr = h + PMD_SIZE;
        }
        if (scanned < budget) addr = vmas.end(vma);
      }
      if (scanned < budget) {
        pid = mm.pid + 1;
        addr = 0;
        visits++;
      }
    } finally {
      mm.lock.release();
    }
  }
  vm.setRoot(ROOT.KHUGEPAGED_CURSOR_MM, pid);
  vm.khugepagedCursorAddr = addr;
  return collapsed;
}

/**
 * Collapses the 2 MiB range at haddr of mm into a THP if the rules allow (see the file comment).
 * `khugepaged` applies max_ptes_none and the referenced rule; MADV_COLLAPSE-like callers pass false.
 * The caller holds mmap_lock and has checked the VMA.
 */
export function collapseRange(mm: AddressSpace, haddr: number, khugepaged: boolean): CollapseResult {
  const vm = mm.vm;
  const u = vm.u;
  const pmd = vm.tables.entry(mm.pgdPfn, haddr, 2, false);
  if (pmd < 0 || (u[pmd] as number) === 0) return 'no-table';
  if (((u[pmd] as number) & PTE_HUGE) !== 0) return 'huge';
  const table = entryPfn(u[pmd] as number);
  const base = (table * PAGE_SIZE) / 4;
  const maxNone = khugepaged ? thpSettings(vm).maxPtesNone : HPAGE_PMD_NR - 1;
  let none = 0;
  let writable = false;
  let referenced = false;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const lo = u[base + 2 * i] as number;
    if ((lo & PTE_PROTNONE) !== 0 && (lo & PTE_PRESENT) === 0) return 'protnone';
    // Linux swaps up to max_ptes_swap (64) pages in first; kmem leaves a range with swapped pages alone.
    if (isSwapPte(lo)) return 'swapped';
    if ((lo & PTE_PRESENT) === 0 || entryPfn(lo) === vm.zeroPfn) {
      if (++none > maxNone) return 'too-many-none';
      continue;
    }
    const pfn = entryPfn(lo);
    if (vm.memMap.owner[pfn] !== VM_OWNER_ANON || vm.memMap.mapcount[pfn] !== 1) return 'not-exclusive';
    if ((lo & PTE_WRITABLE) !== 0) writable = true;
    if ((lo & PTE_ACCESSED) !== 0) referenced = true;
  }
  if (!writable) return 'read-only';
  if (khugepaged && !referenced) return 'not-referenced';
  const alloc = (): number | null => vm.pages.tryAllocPages(HPAGE_PMD_ORDER, GFP.HIGHUSER_MOVABLE | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON_THP);
  let huge = alloc();
  // khugepaged/defrag (default on): khugepaged's own allocation may compact directly.
  if (huge === null && thpSettings(vm).khugepagedDefrag) {
    vm.count('compact_stall');
    if (compactMemory(vm, HPAGE_PMD_ORDER, mm) === 'success') {
      vm.count('compact_success');
      huge = alloc();
    } else {
      vm.count('compact_fail');
    }
  }
  if (huge === null) {
    vm.count('thp_collapse_alloc_failed');
    return 'no-memory';
  }
  vm.count('thp_collapse_alloc');
  // pmdp_collapse_flush(): the PMD is cleared and every CPU that may cache the range flushed before
  // anything is copied. A CPU of another worker that touches the range then faults and waits for
  // the mmap lock this thread holds, so none can write a small page after its copy (a lost write)
  // or reach one after it is freed below (docs/vm.md, "Freeing after the flush").
  u[pmd] = 0;
  u[pmd + 1] = 0;
  vm.flushTlb(mm, haddr, haddr + PMD_SIZE);
  const bytes = vm.ram.bytes;
  let small = 0;
  let zeroMaps = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const lo = u[base + 2 * i] as number;
    const dst = (huge + i) * PAGE_SIZE;
    const pfn = entryPfn(lo);
    if ((lo & PTE_PRESENT) === 0 || pfn === vm.zeroPfn) {
      bytes.fill(0, dst, dst + PAGE_SIZE);
      if ((lo & PTE_PRESENT) !== 0) zeroMaps++;
    } else {
      bytes.copyWithin(dst, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
      rmapRemove(vm, pfn, mm.paddr, haddr + i * PAGE_SIZE, 0);
      small++;
    }
    u[base + 2 * i] = 0;
    u[base + 2 * i + 1] = 0;
  }
  const vma = mm.vmaContaining(haddr);
  const flags = vm.vmas.flags(vma);
  // The emptied PTE table becomes the THP's deposit (it stays counted in PageTables).
  vm.memMap.next[huge] = table;
  rmapAdd(vm, huge, mm.paddr, haddr);
  u[pmd + 1] = leafHi(flags);
  u[pmd] = hugeLeafLo(huge, flags, true, true);
  if (zeroMaps > 0) vm.count('nr_zero_page_maps', -zeroMaps);
  mm.countAnon(HPAGE_PMD_NR - small);
  mm.addNum(MMF.ANON_PMDS, 1);
  vm.count('nr_anon_transparent_hugepages');
  vm.count('khugepaged_pages_collapsed');
  // No flush now: since the one above no CPU holds a translation of the range, and an entry that
  // was not present is never cached.
  return 'collapsed';
}

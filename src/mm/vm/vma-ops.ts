/**
 * The VMA operations every call shares (Linux mm/vma.c): split_vma, vma_merge, the range zap that
 * unmaps pages (zap_page_range / unmap_vmas) and free_pgtables.
 *
 * Merge rule (is_mergeable_vma + is_mergeable_anon_vma): two VMAs join when they touch, their flags
 * are equal, and their anon_vma ids are equal or one is 0. kmem merges eagerly after every change, so
 * validate() can check the invariant "no two touching VMAs could merge".
 *
 * Locking: the mm's mmap_lock is held.
 */
import { PTE_PRESENT } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { SyscallError } from './errors.ts';
import { PTE_PROTNONE } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { entryPfn } from './page-table.ts';
import { zapSwapPte } from '../swap/swap-pte.ts';
import { isSwapPte } from '../swap/swp-entry.ts';
import { rmapRemove } from './rmap.ts';
import { MMF } from './mm-struct.ts';
import { MmuGather } from './mmu-gather.ts';
import { splitHugeBoundaries, splitHugePmd } from './thp.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE, TASK_SIZE } from './types.ts';
import { ROOT, allocObject } from './vm.ts';
import { NO_PFN } from '../types.ts';

export function canMerge(mm: AddressSpace, a: number, b: number): boolean {
  const vmas = mm.vm.vmas;
  if (vmas.end(a) !== vmas.start(b) || vmas.flags(a) !== vmas.flags(b)) return false;
  const x = vmas.anonVma(a);
  const y = vmas.anonVma(b);
  return x === 0 || y === 0 || x === y;
}

/** Merges every mergeable pair among VMAs lo..hi (indices, clamped); returns how many merged. */
export function mergeAround(mm: AddressSpace, lo: number, hi: number): number {
  const vmas = mm.vm.vmas;
  let merged = 0;
  let i = Math.max(lo, 1);
  let last = Math.min(hi, mm.mapCount - 1);
  while (i <= last) {
    const prev = mm.vmaAt(i - 1);
    const vma = mm.vmaAt(i);
    if (canMerge(mm, prev, vma)) {
      vmas.setEnd(prev, vmas.end(vma));
      if (vmas.anonVma(prev) === 0) vmas.setAnonVma(prev, vmas.anonVma(vma));
      mm.removeAt(i, 1);
      mm.vm.vmaCache.free(vma);
      merged++;
      last--;
    } else {
      i++;
    }
  }
  return merged;
}

/**
 * split_vma: cuts VMA i at addr (strictly inside it) into [start, addr) at i and [addr, end) at i + 1.
 * The caller has checked max_map_count and reserved index room; returns false when no object is left.
 */
export function splitAt(mm: AddressSpace, i: number, addr: number): boolean {
  const vm = mm.vm;
  const vma = mm.vmaAt(i);
  assert(vm.vmas.start(vma) < addr && addr < vm.vmas.end(vma), () => `split of VMA ${i} at 0x${addr.toString(16)}: expected an address strictly inside it`);
  const upper = allocObject(vm.vmaCache);
  if (upper === null) return false;
  if (addr % PMD_SIZE !== 0) splitHugePmd(mm, Math.floor(addr / PMD_SIZE) * PMD_SIZE);
  vm.vmas.init(upper, mm.paddr, addr, vm.vmas.end(vma), vm.vmas.flags(vma), vm.vmas.anonVma(vma));
  vm.vmas.setEnd(vma, addr);
  mm.insertAt(i + 1, upper);
  return true;
}

/**
 * Unmaps every page in [start, end) (zap_page_range / unmap_vmas): drops each mapping's rmap item and
 * reference; a page no longer mapped goes to the mmu_gather, which frees it only after the TLBs are
 * shot down for the cleared range (mmu-gather.ts). With `tables` set, also takes out the page tables
 * whose whole span lies in [floor, ceiling), the gap around the range that no VMA covers
 * (free_pgtables), into the same gather. Without `gather`, one is made and finished here; with one,
 * the caller finishes it (after free_pgtables, as Linux's unmap_region does). Huge PMD leaves cut by
 * the range's ends are split first.
 */
export function zapRange(mm: AddressSpace, start: number, end: number, tables: { floor: number; ceiling: number } | null, gather: MmuGather | null = null): void {
  const vm = mm.vm;
  const u = vm.u;
  let anon = 0;
  let deposits = 0;
  const tlb = gather ?? new MmuGather(mm, false);
  splitHugeBoundaries(mm, start, end);
  const freed = vm.tables.walkRange(
    mm.pgdPfn,
    start,
    end,
    (slot, vaddr, level) => {
      const lo = u[slot] as number;
      if ((lo & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
        if (level === 1 && isSwapPte(lo)) zapSwapPte(mm, slot, vaddr);
        return;
      }
      const pfn = entryPfn(lo);
      u[slot] = 0;
      u[slot + 1] = 0;
      tlb.track(vaddr, vaddr + (level === 2 ? PMD_SIZE : PAGE_SIZE));
      if (level === 2) {
        assert(vaddr >= start && vaddr + PMD_SIZE <= end, () => `zap of [0x${start.toString(16)}, 0x${end.toString(16)}) cuts the huge page at 0x${vaddr.toString(16)}: expected it split first`);
        if (pfn === vm.root(ROOT.HUGE_ZERO_PFN)) {
          vm.count('nr_huge_zero_page_maps', -1);
          return;
        }
        const deposit = vm.memMap.next[pfn] as number;
        vm.memMap.next[pfn] = NO_PFN;
        vm.tables.freeTable(deposit);
        deposits++;
        rmapRemove(vm, pfn, mm.paddr, vaddr, HPAGE_PMD_ORDER, tlb);
        anon += HPAGE_PMD_NR;
        mm.addNum(MMF.ANON_PMDS, -1);
        vm.count('nr_anon_transparent_hugepages', -1);
        return;
      }
      if (pfn === vm.zeroPfn) {
        vm.count('nr_zero_page_maps', -1);
        return;
      }
      rmapRemove(vm, pfn, mm.paddr, vaddr, 0, tlb);
      anon++;
    },
    tables === null ? null : { ...tables, free: (pfn, vaddr) => tlb.removeTable(pfn, vaddr) },
  );
  if (anon > 0) mm.countAnon(-anon);
  if (freed + deposits > 0) mm.countTables(-freed - deposits);
  if (gather === null) tlb.finish();
}

/** The gap around [start, end) after its VMAs are gone: from the previous VMA's end to the next's start. */
export function gapAround(mm: AddressSpace, start: number, end: number): { floor: number; ceiling: number } {
  const vmas = mm.vm.vmas;
  const i = mm.findIndex(start);
  const floor = i > 0 ? vmas.end(mm.vmaAt(i - 1)) : 0;
  const ceiling = i < mm.mapCount ? vmas.start(mm.vmaAt(i)) : TASK_SIZE + 4096;
  assert(floor <= start && end <= ceiling, () => `gap around [0x${start.toString(16)}, 0x${end.toString(16)}): a VMA still overlaps it`);
  return { floor, ceiling };
}

/**
 * vma_modify_flags: gives [start, end) ∩ VMA i the flags `flags`, splitting VMA i at start and end
 * where they fall inside it (each split needs map_count < max_map_count, else ENOMEM as split_vma
 * says), then merges the result with its neighbours. Index room for two splits must be reserved.
 */
export function modifyVmaFlags(mm: AddressSpace, i: number, start: number, end: number, flags: number, call: string): void {
  const vmas = mm.vm.vmas;
  let vma = mm.vmaAt(i);
  if (vmas.flags(vma) === flags) return;
  const split = (at: number): void => {
    if (mm.mapCount >= mm.maxMapCount) throw new SyscallError(call, 'ENOMEM', `splitting at 0x${at.toString(16)} would exceed max_map_count ${mm.maxMapCount}`);
    if (!splitAt(mm, i, at)) throw new SyscallError(call, 'ENOMEM', 'no memory for a vm_area_struct');
  };
  if (vmas.start(vma) < start) {
    split(start);
    i++;
    vma = mm.vmaAt(i);
  }
  if (vmas.end(vma) > end) split(end);
  vmas.setFlags(vma, flags);
  mergeAround(mm, i, i + 1);
}

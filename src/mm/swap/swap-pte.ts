/**
 * The page-table side of swap (Linux mm/memory.c): what a fault, fork and unmap do with a swap PTE.
 *
 *   do_swap_page         a fault on a swap PTE: a new page, the slot's bytes read into it, mapped
 *                        with the VMA's protection, the PTE's reference on the slot dropped (pswpin,
 *                        pgmajfault). kmem has no swap cache, so the page is always private to the
 *                        faulting entry (AnonExclusive) even while a fork still shares the slot: the
 *                        other entries read the slot again when they fault
 *   copy_nonpresent_pte  fork copies a swap PTE into the child and takes one more count on its slot
 *                        (swap_duplicate)
 *   zap_pte_range        munmap, MADV_DONTNEED and exit drop a swap PTE's count (free_swap_and_cache)
 *
 * Each keeps mm.swapents (MM_SWAPENTS, /proc/<pid>/smaps' Swap) and the slot counts equal to the swap
 * PTEs (validate.ts checks it). Locking: the mm's mmap_lock is held by the caller.
 */
import { GFP } from '../gfp.ts';
import { SyscallError } from '../vm/errors.ts';
import { leafHi, leafLo, vmaPageTags } from '../vm/fault.ts';
import type { AddressSpace } from '../vm/mm-struct.ts';
import { MMF } from '../vm/mm-struct.ts';
import { VM_OWNER_ANON } from '../vm/owners.ts';
import { rmapAdd } from '../vm/rmap.ts';
import { setAnonExclusive } from '../vm/cow.ts';
import { formatVaddr } from '../vm/types.ts';
import { assert } from '../../util/assert.ts';
import { sr } from './root.ts';
import { swpOffset, swpType } from './swp-entry.ts';
import { swapDuplicate, swapFree, swapMap, swapOn, swapReadPage } from './swapfile.ts';
import { SR } from './types.ts';
import { directReclaim } from './vmscan.ts';

/** The slot a swap PTE names, checked against the device (on, its type, a slot in use). */
function slotOf(mm: AddressSpace, lo: number, hi: number, vaddr: number): number {
  const vm = mm.vm;
  const offset = swpOffset(lo);
  assert(swapOn(vm) && swpType(hi) === sr(vm, SR.TYPE), () => `mm ${mm.pid}: swap PTE at 0x${formatVaddr(vaddr)} names device ${swpType(hi)}, which is not on`);
  const map = swapMap(vm);
  assert(offset >= 1 && offset < map.length && (map[offset] as number) >= 1, () => `mm ${mm.pid}: swap PTE at 0x${formatVaddr(vaddr)} names slot ${offset}, which is not in use`);
  return offset;
}

/**
 * do_swap_page: the fault at `page` found the swap PTE at word `pte`. Afterwards the page is mapped,
 * or this throws (SyscallError ENOMEM when no page can be found even after direct reclaim, a
 * SwapIoError when the read fails) and the swap PTE is as it was.
 */
export function doSwapPage(mm: AddressSpace, vma: number, pte: number, page: number, flags: number): void {
  const vm = mm.vm;
  const lo = vm.u[pte] as number;
  const hi = vm.u[pte + 1] as number;
  const slot = slotOf(mm, lo, hi, page);
  const alloc = (): number | null => vm.pages.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON);
  let pfn = alloc();
  if (pfn === null && directReclaim(vm, mm)) pfn = alloc();
  if (pfn === null) throw new SyscallError('fault', 'ENOMEM', `no page to swap in 0x${formatVaddr(page)} (VM_FAULT_OOM)`);
  try {
    swapReadPage(vm, slot, pfn);
  } catch (error) {
    vm.pages.freePages(pfn, 0, VM_OWNER_ANON);
    throw error;
  }
  // The reclaim above may have swapped out other pages of this mm, never this entry: it is no page.
  assert(vm.u[pte] === lo && vm.u[pte + 1] === hi, () => `mm ${mm.pid}: swap PTE at 0x${formatVaddr(page)} changed under the fault`);
  mm.anonVmaPrepare(vma);
  rmapAdd(vm, pfn, mm.paddr, page);
  setAnonExclusive(vm, pfn, true);
  vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) | vmaPageTags(flags);
  vm.u[pte + 1] = leafHi(flags);
  vm.u[pte] = leafLo(pfn, flags, true, true);
  mm.addNum(MMF.SWAP_ENTS, -1);
  mm.countAnon(1);
  swapFree(vm, slot);
  vm.count('pswpin');
  vm.count('pgmajfault');
}

/** copy_nonpresent_pte for a swap PTE: the child's entry at vaddr names the same slot, counted once more. */
export function copySwapPte(parent: AddressSpace, child: AddressSpace, pte: number, vaddr: number): void {
  const vm = parent.vm;
  const lo = vm.u[pte] as number;
  const hi = vm.u[pte + 1] as number;
  const slot = slotOf(parent, lo, hi, vaddr);
  const dst = vm.tables.entry(child.pgdPfn, vaddr, 1, true, (d) => child.countTables(d));
  if (dst < 0) throw new SyscallError('fork', 'ENOMEM', `no page table for the child at 0x${formatVaddr(vaddr)}`);
  if (!swapDuplicate(vm, slot)) throw new SyscallError('fork', 'ENOMEM', `swap slot ${slot} has the most entries a slot may count`);
  vm.u[dst + 1] = hi;
  vm.u[dst] = lo;
  child.addNum(MMF.SWAP_ENTS, 1);
}

/** zap_pte_range for a swap PTE: the entry is cleared and its count on the slot dropped. */
export function zapSwapPte(mm: AddressSpace, pte: number, vaddr: number): void {
  const vm = mm.vm;
  const slot = slotOf(mm, vm.u[pte] as number, vm.u[pte + 1] as number, vaddr);
  vm.u[pte] = 0;
  vm.u[pte + 1] = 0;
  mm.addNum(MMF.SWAP_ENTS, -1);
  swapFree(vm, slot);
}

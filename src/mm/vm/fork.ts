/**
 * fork()'s copy of an address space (Linux kernel/fork.c dup_mmap, mm/memory.c copy_page_range,
 * copy_present_pte, page_needs_cow_for_dma / folio_try_dup_anon_rmap).
 *
 * For each VMA of the parent, in order:
 *   VM_DONTCOPY (MADV_DONTFORK)   the child gets no VMA there (an access faults SEGV_MAPERR)
 *   VM_WIPEONFORK                 the child gets the VMA with no pages: it reads zeroes (Linux 4.14)
 *   otherwise                     the child gets the VMA (flags, anon_vma id) and every entry:
 *     the zero page                                  shared as it is
 *     an anonymous page                              shared copy-on-write: both entries read-only,
 *                                                    the child's rmap item, mapcount and refcount +1,
 *                                                    AnonExclusive cleared
 *     an anonymous page that may be pinned for DMA   by policy:
 *        'naive'        shared copy-on-write like any page (the parent's next write copies it, and
 *                       the device keeps writing the old frame: the parent loses that data)
 *        'early-copy'   the child gets a copy now; the parent's entry stays writable and exclusive
 *                       (Linux 5.9+, page_needs_cow_for_dma; copy_present_page)
 *        'defer-write'  shared copy-on-write; a write that would copy it waits until the DMA
 *                       completes (cow.ts's DmaWaitError)
 * Transparent huge pages are split in the parent first (split, not shared: Linux's copy_huge_pmd
 * shares the PMD read-only, kmem splits so that COW and pins work on 4 KiB pages only). Then the
 * parent's TLB entries for the copied ranges are shot down, as the entries lost their W bit.
 *
 * Locking: the parent's mmap_lock is held throughout (the child is not yet visible to anyone).
 */
import { PTE_PRESENT, PTE_WRITABLE } from '../../machine/pte.ts';
import { anonMaybeDmaPinned, FORK_DMA_POLICIES, setAnonExclusive } from './cow.ts';
import type { ForkDmaPolicy } from './cow.ts';
import { SyscallError } from './errors.ts';
import { allocObject } from './vm.ts';
import { mergeAround } from './vma-ops.ts';
import { PTE_PROTNONE } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MM, MMF } from './mm-struct.ts';
import { VM_OWNER_ANON } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { copySwapPte } from '../swap/swap-pte.ts';
import { isSwapPte } from '../swap/swp-entry.ts';
import { rmapAdd } from './rmap.ts';
import { splitHugePmd } from './thp.ts';
import { GFP } from '../gfp.ts';
import { PAGE_SIZE, PMD_SIZE, VM } from './types.ts';

export interface ForkStats {
  /** Anonymous pages the child shares copy-on-write. */
  sharedPages: number;
  /** Pages copied at fork because they may be pinned for DMA (policy 'early-copy'). */
  dmaCopies: number;
  /** VMAs left out (MADV_DONTFORK) and VMAs the child gets empty (MADV_WIPEONFORK). */
  dontforkVmas: number;
  wipedVmas: number;
}

/** fork(): the child's address space; `stats`, when given, is filled in. */
export function forkAddressSpace(parent: AddressSpace, policy: ForkDmaPolicy, stats?: ForkStats): AddressSpace {
  const vm = parent.vm;
  const child = vm.createAddressSpace({ startBrk: parent.startBrk, maxMapCount: parent.maxMapCount });
  const s: ForkStats = stats ?? { sharedPages: 0, dmaCopies: 0, dontforkVmas: 0, wipedVmas: 0 };
  const policyIndex = FORK_DMA_POLICIES.indexOf(policy);
  parent.lock.acquire();
  try {
    parent.setWord(MM.FORK_DMA_POLICY, policyIndex);
    child.setWord(MM.FORK_DMA_POLICY, policyIndex);
    child.setNum(MMF.BRK, parent.brkEnd);
    child.setNum(MMF.MMAP_BASE, parent.mmapBase);
    child.setWord(MM.NEXT_ANON_VMA, parent.word(MM.NEXT_ANON_VMA));
    for (let i = 0; i < parent.mapCount; i++) {
      const vma = parent.vmaAt(i);
      const flags = vm.vmas.flags(vma);
      if ((flags & VM.DONTCOPY) !== 0) {
        s.dontforkVmas++;
        continue;
      }
      const start = vm.vmas.start(vma);
      const end = vm.vmas.end(vma);
      const copy = allocObject(vm.vmaCache);
      if (copy === null || !child.reserveIndex(1)) {
        if (copy !== null) vm.vmaCache.free(copy);
        throw new SyscallError('fork', 'ENOMEM', 'no memory for the child\'s VMAs');
      }
      // dup_mmap: the child does not inherit mlock (VM_LOCKED is cleared; mlockall's future flag too).
      vm.vmas.init(copy, child.paddr, start, end, flags & ~VM.LOCKED, vm.vmas.anonVma(vma));
      child.insertAt(child.mapCount, copy);
      child.addNum(MMF.TOTAL_VM, (end - start) / PAGE_SIZE);
      if ((flags & VM.WIPEONFORK) !== 0) {
        s.wipedVmas++;
        continue;
      }
      copyRange(parent, child, start, end, policy, s);
    }
    // Without VM_LOCKED, VMAs the parent kept apart by mlock alone are one mapping in the child.
    mergeAround(child, 1, child.mapCount - 1);
  } catch (e) {
    parent.lock.release();
    child.destroy();
    throw e;
  }
  parent.lock.release();
  vm.count('kmem_fork_shared_pages', s.sharedPages);
  vm.count('kmem_fork_dma_copies', s.dmaCopies);
  return child;
}

/** copy_page_range for [start, end) of one VMA. */
function copyRange(parent: AddressSpace, child: AddressSpace, start: number, end: number, policy: ForkDmaPolicy, s: ForkStats): void {
  const vm = parent.vm;
  const u = vm.u;
  for (let h = Math.floor(start / PMD_SIZE) * PMD_SIZE; h < end; h += PMD_SIZE) {
    if (parent.mapsHuge(h)) splitHugePmd(parent, h);
  }
  vm.tables.walkRange(
    parent.pgdPfn,
    start,
    end,
    (slot, vaddr) => {
      const lo = u[slot] as number;
      if ((lo & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
        if (isSwapPte(lo)) copySwapPte(parent, child, slot, vaddr);
        return;
      }
      const pfn = entryPfn(lo);
      const dst = vm.tables.entry(child.pgdPfn, vaddr, 1, true, (d) => child.countTables(d));
      if (dst < 0) throw new SyscallError('fork', 'ENOMEM', `no page table for the child at 0x${vaddr.toString(16)}`);
      u[dst + 1] = u[slot + 1] as number;
      if (pfn === vm.zeroPfn) {
        u[dst] = lo;
        vm.count('nr_zero_page_maps');
        return;
      }
      if (policy === 'early-copy' && anonMaybeDmaPinned(vm, pfn)) {
        const copy = vm.pages.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON);
        if (copy === null) throw new SyscallError('fork', 'ENOMEM', `no page to copy the pinned page at 0x${vaddr.toString(16)}`);
        vm.ram.bytes.copyWithin(copy * PAGE_SIZE, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
        rmapAdd(vm, copy, child.paddr, vaddr);
        setAnonExclusive(vm, copy, true);
        u[dst] = ((copy * PAGE_SIZE) | (lo & (PAGE_SIZE - 1))) >>> 0;
        child.countAnon(1);
        s.dmaCopies++;
        return;
      }
      u[slot] = (lo & ~PTE_WRITABLE) >>> 0;
      u[dst] = (lo & ~PTE_WRITABLE) >>> 0;
      rmapAdd(vm, pfn, child.paddr, vaddr);
      setAnonExclusive(vm, pfn, false);
      child.countAnon(1);
      s.sharedPages++;
    },
    null,
  );
  vm.flushTlb(parent, start, end);
}

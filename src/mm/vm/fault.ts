/**
 * The page-fault handler for anonymous memory (Linux mm/memory.c handle_mm_fault, do_anonymous_page,
 * do_wp_page; arch/x86/mm/fault.c access_error).
 *
 *   no VMA covers the address                        → SegvError 'not-mapped' (SEGV_MAPERR)
 *   the VMA forbids the access                        → SegvError 'protection' (SEGV_ACCERR)
 *     (a read needs any of VM_READ/WRITE/EXEC, as x86 cannot map write-only; a write VM_WRITE; a fetch VM_EXEC)
 *   no entry, read                                    → map the shared zero page read-only
 *   no entry, write                                   → a new zeroed page, writable and dirty
 *   a swap entry                                      → the page read back from swap (mm/swap/swap-pte.ts)
 *   write to a read-only entry of a writable VMA:
 *     the zero page                                   → a new zeroed page replaces it (wp_page_copy)
 *     an exclusive page, or one with mapcount = refcount = 1 → made writable in place (wp_page_reuse)
 *     a page fork shares                              → copied (wp_page_copy; cow.ts has the rules)
 *   an entry that already allows the access           → nothing: a stale TLB entry was the cause
 * A VMA that may use transparent huge pages tries a 2 MiB mapping first (thp.ts).
 *
 * Anonymous pages are GFP_HIGHUSER_MOVABLE, zeroed, owner VM_OWNER_ANON. Leaf entries are
 * P | U | A, W with VM_WRITE (never for the zero page), D on a write, NX without VM_EXEC.
 *
 * Locking: called with the mm's mmap_lock held.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_HI_NX, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../../machine/pte.ts';
import { GFP } from '../gfp.ts';
import { SegvError, SyscallError } from './errors.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MMF } from './mm-struct.ts';
import { VM_OWNER_ANON } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { doSwapPage } from '../swap/swap-pte.ts';
import { isSwapPte } from '../swap/swp-entry.ts';
import { directReclaim } from '../swap/vmscan.ts';
import { rmapAdd } from './rmap.ts';
import { hugeFault } from './thp.ts';
import { DmaWaitError, anonMaybeDmaPinned, canReuseAnon, copyAnonPage, forkDmaPolicy, setAnonExclusive } from './cow.ts';
import { PAGE_SIZE, VM } from './types.ts';
import { PageFlag } from '../types.ts';
import type { AccessKind } from './types.ts';

/**
 * _PAGE_PROTNONE: a PROT_NONE mapping keeps its page with P clear and this bit set. x86 Linux reuses
 * the global bit (bit 8), which the processor ignores when P is clear (arch/x86/include/asm/pgtable_types.h).
 */
export const PTE_PROTNONE = 1 << 8;

/**
 * The struct-page tags a page mapped in a VMA with these flags carries (mm/secret): VM_LOCKED →
 * Mlocked (mlock_new_folio), VM_DONTDUMP → NoDump (what a dump filter reads per page).
 */
export function vmaPageTags(vmFlags: number): number {
  return ((vmFlags & VM.LOCKED) !== 0 ? PageFlag.Mlocked : 0) | ((vmFlags & VM.DONTDUMP) !== 0 ? PageFlag.NoDump : 0);
}

/** Whether the VMA's flags allow the access (access_error's rule). */
export function accessAllowed(vmFlags: number, access: AccessKind): boolean {
  if (access === 'write') return (vmFlags & VM.WRITE) !== 0;
  if (access === 'exec') return (vmFlags & VM.EXEC) !== 0;
  return (vmFlags & (VM.READ | VM.WRITE | VM.EXEC)) !== 0;
}

/** The low word of a leaf entry mapping frame `pfn` in a VMA with `vmFlags`. */
export function leafLo(pfn: number, vmFlags: number, writable: boolean, dirty: boolean): number {
  if ((vmFlags & (VM.READ | VM.WRITE | VM.EXEC)) === 0) return ((pfn * PAGE_SIZE) | PTE_PROTNONE | PTE_USER | PTE_ACCESSED | (dirty ? PTE_DIRTY : 0)) >>> 0;
  const w = writable && (vmFlags & VM.WRITE) !== 0 ? PTE_WRITABLE : 0;
  return ((pfn * PAGE_SIZE) | PTE_PRESENT | PTE_USER | PTE_ACCESSED | w | (dirty ? PTE_DIRTY : 0)) >>> 0;
}

export function leafHi(vmFlags: number): number {
  return (vmFlags & VM.EXEC) !== 0 ? 0 : PTE_HI_NX >>> 0;
}

/**
 * Resolves a fault at vaddr: afterwards the access succeeds, or this throws SegvError (or a
 * SyscallError ENOMEM-like 'EFAULT' when no page could be found: Linux's VM_FAULT_OOM).
 */
export function handleFault(mm: AddressSpace, vaddr: number, access: AccessKind): void {
  const vm = mm.vm;
  const vma = mm.vmaContaining(vaddr);
  if (vma === 0) throw new SegvError(vaddr, access, 'not-mapped');
  const flags = vm.vmas.flags(vma);
  if (!accessAllowed(flags, access)) throw new SegvError(vaddr, access, 'protection');
  vm.count('pgfault');
  mm.addNum(MMF.FAULTS, 1);
  if (hugeFault(mm, vma, vaddr, access)) return;
  const page = Math.floor(vaddr / PAGE_SIZE) * PAGE_SIZE;
  const slot = vm.tables.entry(mm.pgdPfn, page, 1, true, (d) => mm.countTables(d));
  if (slot < 0) throw new SyscallError('fault', 'ENOMEM', `no page for a page table at 0x${page.toString(16)} (VM_FAULT_OOM)`);
  const u = vm.u;
  const lo = u[slot] as number;
  if ((lo & PTE_PRESENT) === 0) {
    if (isSwapPte(lo)) {
      doSwapPage(mm, vma, slot, page, flags);
      return;
    }
    if (access !== 'write') {
      u[slot + 1] = leafHi(flags);
      u[slot] = leafLo(vm.zeroPfn, flags, false, false);
      vm.count('nr_zero_page_maps');
      return;
    }
    mapNewPage(mm, vma, slot, page, flags);
    return;
  }
  if (access === 'write' && (lo & PTE_WRITABLE) === 0) {
    const pfn = entryPfn(lo);
    if (pfn === vm.zeroPfn) {
      vm.count('nr_zero_page_maps', -1);
      u[slot] = 0;
      mapNewPage(mm, vma, slot, page, flags);
      return;
    }
    if (canReuseAnon(vm, pfn)) {
      setAnonExclusive(vm, pfn, true);
      u[slot] = (lo | PTE_WRITABLE | PTE_DIRTY) >>> 0;
      vm.count('kmem_cow_reuse');
      mm.vm.flushTlb(mm, page, page + PAGE_SIZE);
      return;
    }
    if (forkDmaPolicy(mm) === 'defer-write' && anonMaybeDmaPinned(vm, pfn)) throw new DmaWaitError(vaddr, pfn);
    copyAnonPage(mm, slot, page, true, PTE_WRITABLE | PTE_DIRTY);
  }
}

function mapNewPage(mm: AddressSpace, vma: number, slot: number, page: number, flags: number): void {
  const vm = mm.vm;
  mm.anonVmaPrepare(vma);
  const alloc = (): number | null => vm.pages.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.ZERO | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON);
  let pfn = alloc();
  // Direct reclaim (mm/swap/vmscan.ts) when swap is on, then one more try.
  if (pfn === null && directReclaim(vm, mm)) pfn = alloc();
  if (pfn === null) throw new SyscallError('fault', 'ENOMEM', `no page for 0x${page.toString(16)} (VM_FAULT_OOM)`);
  rmapAdd(vm, pfn, mm.paddr, page);
  setAnonExclusive(vm, pfn, true);
  vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) | vmaPageTags(flags);
  vm.u[slot + 1] = leafHi(flags);
  vm.u[slot] = leafLo(pfn, flags, true, true);
  mm.countAnon(1);
  vm.flushTlb(mm, page, page + PAGE_SIZE);
}

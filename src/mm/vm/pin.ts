/**
 * get_user_pages / pin_user_pages on a user address range (Linux mm/gup.c; FOLL_GET and FOLL_PIN).
 *
 *   pinUserPages(mm, vaddr, nrPages, write)   FOLL_PIN: each page faulted in (a write fault for a
 *                                             write pin), then +GUP_PIN_COUNTING_BIAS on its refcount
 *   getUserPages(mm, vaddr, nrPages)          FOLL_GET: +1 per page (a plain reference, as vmsplice took)
 *   unpinUserPages / putUserPages             drop them; a page no entry maps any more is freed when
 *                                             its last reference goes
 * Before taking a reference, a page the mm does not hold exclusively (fork shares it, or the zero
 * page) is unshared: this mm gets a private copy, read-only for a read pin (gup_must_unshare,
 * FAULT_FLAG_UNSHARE, Linux 5.19+). So a pinned anonymous page is always AnonExclusive in the mm that
 * pinned it, and a GUP reference never sees another process's later writes (CVE-2020-29374).
 * THPs in the range are split first, so pins count on 4 KiB pages (the bias; no pincount).
 *
 * Arena state: refcounts in mem_map and the Vm counter kmem_gup_refs (Σ over anonymous pages of
 * refcount − mapcount, checked by validate()). Callers hold no lock; this takes the mmap_lock.
 */
import { PTE_PRESENT, PTE_WRITABLE, PTE_DIRTY } from '../../machine/pte.ts';
import { GUP_PIN_COUNTING_BIAS } from '../dma/gup.ts';
import { PinError } from '../dma/gup.ts';
import { PageFlag } from '../types.ts';
import { isSensitivePage } from '../secret/secretmem.ts';
import { canReuseAnon, copyAnonPage, isAnonExclusive, setAnonExclusive } from './cow.ts';
import { SyscallError, rangeText } from './errors.ts';
import { accessAllowed, handleFault } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { VM_OWNER_ANON } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { splitHugePmd } from './thp.ts';
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE } from './types.ts';
import type { Vm } from './vm.ts';

/** How many references each page of a range gets. */
function grab(mm: AddressSpace, vaddr: number, nrPages: number, write: boolean, refs: number, call: string): number[] {
  if (!Number.isInteger(vaddr) || vaddr % PAGE_SIZE !== 0 || !Number.isInteger(nrPages) || nrPages < 1 || vaddr + nrPages * PAGE_SIZE > TASK_SIZE) {
    throw new SyscallError(call, 'EINVAL', `${rangeText(vaddr, nrPages * PAGE_SIZE)}: expected a page-aligned user range of at least one page`);
  }
  const vm = mm.vm;
  const u = vm.u;
  const pfns: number[] = [];
  mm.lock.acquire();
  try {
    for (let i = 0; i < nrPages; i++) {
      const page = vaddr + i * PAGE_SIZE;
      const vma = mm.vmaContaining(page);
      if (vma === 0 || !accessAllowed(vm.vmas.flags(vma), write ? 'write' : 'read')) {
        throw new SyscallError(call, 'EFAULT', `${rangeText(page, PAGE_SIZE)}: no mapping allows a ${write ? 'write' : 'read'} there`);
      }
      const haddr = Math.floor(page / PMD_SIZE) * PMD_SIZE;
      if (mm.mapsHuge(haddr)) splitHugePmd(mm, haddr);
      let slot = vm.tables.entry(mm.pgdPfn, page, 1, false);
      if (slot < 0 || ((u[slot] as number) & PTE_PRESENT) === 0 || (write && ((u[slot] as number) & PTE_WRITABLE) === 0)) {
        handleFault(mm, page, write ? 'write' : 'read');
        slot = vm.tables.entry(mm.pgdPfn, page, 1, false);
      }
      const pfn = entryPfn(u[slot] as number);
      if (isSensitivePage(vm, pfn)) {
        // Secret memory is never handed to GUP (Linux: check_vma_flags refuses a secretmem VMA).
        throw new SyscallError(call, 'EFAULT', `${rangeText(page, PAGE_SIZE)}: secret memory (pfn ${pfn}) cannot be pinned or referenced`);
      }
      if (pfn !== vm.zeroPfn && canReuseAnon(vm, pfn)) setAnonExclusive(vm, pfn, true);
      if (pfn === vm.zeroPfn || !isAnonExclusive(vm, pfn)) {
        const writable = ((u[slot] as number) & PTE_WRITABLE) !== 0;
        pfns.push(copyAnonPage(mm, slot, page, writable, PTE_WRITABLE | PTE_DIRTY));
      } else {
        pfns.push(pfn);
      }
    }
    for (const pfn of pfns) vm.memMap.refcount[pfn] = (vm.memMap.refcount[pfn] as number) + refs;
    vm.count('kmem_gup_refs', refs * pfns.length);
  } finally {
    mm.lock.release();
  }
  return pfns;
}

/** pin_user_pages(FOLL_PIN | (write ? FOLL_WRITE : 0)): the pinned pfns, in order. */
export function pinUserPages(mm: AddressSpace, vaddr: number, nrPages: number, write: boolean): number[] {
  return grab(mm, vaddr, nrPages, write, GUP_PIN_COUNTING_BIAS, 'pin_user_pages');
}

/** get_user_pages (FOLL_GET): one plain reference per page. */
export function getUserPages(mm: AddressSpace, vaddr: number, nrPages: number, write: boolean): number[] {
  return grab(mm, vaddr, nrPages, write, 1, 'get_user_pages');
}

/** Drops `refs` references from each page; frees a page no entry maps once its last is gone. */
function release(vm: Vm, pfns: readonly number[], refs: number, call: string): void {
  const memMap = vm.memMap;
  const need = new Map<number, number>();
  for (const pfn of pfns) need.set(pfn, (need.get(pfn) ?? 0) + refs);
  for (const [pfn, n] of need) {
    const ok = memMap.owner[pfn] === VM_OWNER_ANON && ((memMap.flags[pfn] as number) & PageFlag.Allocated) !== 0 && (memMap.refcount[pfn] as number) - (memMap.mapcount[pfn] as number) >= n;
    if (!ok) throw new PinError(pfn, `${call}: pfn ${pfn} holds fewer than ${n} GUP references (refcount ${memMap.refcount[pfn]}, mapcount ${memMap.mapcount[pfn]}): expected pages taken with ${call === 'unpin_user_pages' ? 'pinUserPages' : 'getUserPages'}`);
  }
  for (const pfn of pfns) {
    const left = (memMap.refcount[pfn] as number) - refs;
    memMap.refcount[pfn] = left;
    if (left === 0) {
      memMap.flags[pfn] = (memMap.flags[pfn] as number) & ~PageFlag.AnonExclusive;
      vm.pages.freePages(pfn, 0, VM_OWNER_ANON);
    }
  }
  vm.count('kmem_gup_refs', -refs * pfns.length);
}

export function unpinUserPages(vm: Vm, pfns: readonly number[]): void {
  release(vm, pfns, GUP_PIN_COUNTING_BIAS, 'unpin_user_pages');
}

export function putUserPages(vm: Vm, pfns: readonly number[]): void {
  release(vm, pfns, 1, 'put_user_pages');
}

/**
 * mprotect (Linux mm/mprotect.c do_mprotect_pkey, mprotect_fixup, change_protection).
 *
 *   start not page-aligned, or prot with bits other than READ/WRITE/EXEC    EINVAL
 *   length 0                                                               success, nothing done
 *   start + PAGE_ALIGN(length) overflows                                    ENOMEM
 *   start not inside a VMA                                                  ENOMEM, nothing changed
 *   a hole after start                                                      ENOMEM, but the VMAs before
 *                                                                          the hole keep their new protection
 *                                                                          (Linux applies VMA by VMA)
 *   a split beyond max_map_count                                           ENOMEM
 *
 * Page-table entries follow the new flags at once: W for an exclusively mapped anonymous page when
 * VM_WRITE is set (can_change_pte_writable: AnonExclusive, or mapcount = refcount = 1, cow.ts; the zero page stays read-only), NX without VM_EXEC, and
 * for PROT_NONE the entry keeps its page with P clear and _PAGE_PROTNONE set. A huge PMD wholly in
 * the range changes in place (change_huge_pmd); one the range cuts is split first. TLBs are shot down.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT } from '../../machine/pte.ts';
import { SyscallError, rangeText } from './errors.ts';
import { PTE_PROTNONE, leafHi, leafLo } from './fault.ts';
import { canReuseAnon } from './cow.ts';
import type { AddressSpace } from './mm-struct.ts';
import { entryPfn } from './page-table.ts';
import { modifyVmaFlags } from './vma-ops.ts';
import { hugeLeafLo, splitHugeBoundaries } from './thp.ts';
import { ROOT } from './vm.ts';
import { PAGE_SIZE, PROT_MASK, TASK_SIZE, VM_ACCESS_FLAGS, pageAlign } from './types.ts';

export function doMprotect(mm: AddressSpace, start: number, length: number, prot: number): void {
  if (!Number.isInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new SyscallError('mprotect', 'EINVAL', `${rangeText(start, length)}: expected a page-aligned start`);
  }
  if (!Number.isInteger(prot) || (prot & ~PROT_MASK) !== 0) {
    throw new SyscallError('mprotect', 'EINVAL', `prot 0x${prot.toString(16)}: expected PROT_READ | PROT_WRITE | PROT_EXEC bits`);
  }
  if (!Number.isInteger(length) || length < 0) throw new SyscallError('mprotect', 'EINVAL', `length ${length}: expected a non-negative integer`);
  if (length === 0) return;
  const end = start + pageAlign(length);
  if (end > TASK_SIZE + PAGE_SIZE) throw new SyscallError('mprotect', 'ENOMEM', `${rangeText(start, length)}: the range leaves user space`);
  const vm = mm.vm;
  const vmas = vm.vmas;
  mm.lockMmap();
  try {
    const i = mm.findIndex(start);
    if (i >= mm.mapCount || vmas.start(mm.vmaAt(i)) > start) {
      throw new SyscallError('mprotect', 'ENOMEM', `${rangeText(start, length)}: 0x${start.toString(16)} is not mapped`);
    }
    let addr = start;
    while (addr < end) {
      const k = mm.findIndex(addr);
      if (k >= mm.mapCount || vmas.start(mm.vmaAt(k)) > addr) {
        throw new SyscallError('mprotect', 'ENOMEM', `${rangeText(start, length)}: a hole at 0x${addr.toString(16)}`);
      }
      const vma = mm.vmaAt(k);
      const pieceEnd = Math.min(vmas.end(vma), end);
      const flags = (vmas.flags(vma) & ~VM_ACCESS_FLAGS) | prot;
      if (flags !== vmas.flags(vma)) {
        if (!mm.reserveIndex(2)) throw new SyscallError('mprotect', 'ENOMEM', 'no memory for the VMA index');
        modifyVmaFlags(mm, k, addr, pieceEnd, flags, 'mprotect');
        changeProtection(mm, addr, pieceEnd, flags);
      }
      addr = pieceEnd;
    }
  } finally {
    mm.lock.release();
  }
}

/** change_protection: rewrites every leaf entry of [start, end) for VMA flags `flags`, then flushes. */
export function changeProtection(mm: AddressSpace, start: number, end: number, flags: number): void {
  const vm = mm.vm;
  const u = vm.u;
  splitHugeBoundaries(mm, start, end);
  const hugeZero = vm.root(ROOT.HUGE_ZERO_PFN);
  vm.tables.walkRange(
    mm.pgdPfn,
    start,
    end,
    (slot, _vaddr, level) => {
      const lo = u[slot] as number;
      if ((lo & (PTE_PRESENT | PTE_PROTNONE)) === 0) return;
      const pfn = entryPfn(lo);
      const exclusive = pfn !== vm.zeroPfn && pfn !== hugeZero && (level === 2 ? (vm.memMap.mapcount[pfn] as number) === 1 : canReuseAnon(vm, pfn));
      const kept = lo & (PTE_ACCESSED | PTE_DIRTY);
      u[slot + 1] = leafHi(flags);
      u[slot] = ((level === 2 ? hugeLeafLo(pfn, flags, exclusive, false) : leafLo(pfn, flags, exclusive, false)) | kept) >>> 0;
    },
    null,
  );
  vm.flushTlb(mm, start, end);
}

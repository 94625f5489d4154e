/**
 * Sensitivity tags on ordinary memory: mlock / munlock (mm/mlock.c) and the VMA-flag changes that
 * carry struct-page tags (VM_LOCKED → Mlocked, VM_DONTDUMP → NoDump; madvise.ts does DONTDUMP).
 *
 *   mlock(mm, addr, len)     VM_LOCKED on the VMAs of [addr & ~4095, PAGE_ALIGN(addr + len)), the
 *                            pages faulted in (mlock2 without MLOCK_ONFAULT populates) and tagged
 *                            Mlocked: swap must not take them; ENOMEM where part is unmapped
 *   munlock(mm, addr, len)   clears both (a secret region's pages keep theirs: munlock is refused
 *                            there with EPERM, as kmem's secret memory is always locked)
 *
 * Locking: the owner's mmap_lock for the whole call (forEachVmaPiece).
 */
import { SyscallError, rangeText } from '../vm/errors.ts';
import { forEachVmaPiece, retagMappedPages } from '../vm/madvise.ts';
import { populate } from '../vm/mmap.ts';
import type { AddressSpace } from '../vm/mm-struct.ts';
import { PTE_HUGE, PTE_PRESENT } from '../../machine/pte.ts';
import { entryPfn } from '../vm/page-table.ts';
import { modifyVmaFlags } from '../vm/vma-ops.ts';
import { PAGE_SIZE, TASK_SIZE, VM, pageAlign } from '../vm/types.ts';
import { PageFlag } from '../types.ts';

/** The frame mapped at user vaddr in mm (a THP's 4 KiB part), or -1 when nothing is mapped. */
export function userPfn(mm: AddressSpace, vaddr: number): number {
  const vm = mm.vm;
  const pmd = vm.tables.entry(mm.pgdPfn, vaddr, 2, false);
  if (pmd < 0) return -1;
  const lo = vm.u[pmd] as number;
  if ((lo & PTE_PRESENT) !== 0 && (lo & PTE_HUGE) !== 0) return entryPfn(lo) + Math.floor((vaddr % (512 * PAGE_SIZE)) / PAGE_SIZE);
  const pte = vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
  if (pte < 0 || ((vm.u[pte] as number) & PTE_PRESENT) === 0) return -1;
  return entryPfn(vm.u[pte] as number);
}

/** Sets `set` and clears `clear` in the flags of every VMA piece of [start, end), retagging its pages. */
export function setVmaFlags(mm: AddressSpace, start: number, end: number, set: number, clear: number, call = 'mlock', after?: (start: number, end: number) => void): void {
  forEachVmaPiece(mm, start, end, call, (k, pieceStart, pieceEnd) => {
    const flags = (mm.vm.vmas.flags(mm.vmaAt(k)) & ~clear) | set;
    if (!mm.reserveIndex(2)) throw new SyscallError(call, 'ENOMEM', 'no memory for the VMA index');
    modifyVmaFlags(mm, k, pieceStart, pieceEnd, flags, call);
    after?.(pieceStart, pieceEnd);
    retagMappedPages(mm, pieceStart, pieceEnd, flags);
  });
}

function lockRange(call: string, addr: number, lengthBytes: number): [number, number] {
  if (!Number.isInteger(addr) || addr < 0 || !Number.isInteger(lengthBytes) || lengthBytes < 0) {
    throw new SyscallError(call, 'EINVAL', `${rangeText(addr, lengthBytes)}: expected a non-negative address and length`);
  }
  const start = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
  const end = pageAlign(addr + lengthBytes);
  if (end > TASK_SIZE) throw new SyscallError(call, 'ENOMEM', `${rangeText(addr, lengthBytes)}: the range leaves user space`);
  return [start, end];
}

/** mlock(2): lock [addr, addr + lengthBytes) in RAM (VM_LOCKED, the pages populated and tagged Mlocked). */
export function mlock(mm: AddressSpace, addr: number, lengthBytes: number): void {
  const [start, end] = lockRange('mlock', addr, lengthBytes);
  if (start === end) return;
  setVmaFlags(mm, start, end, VM.LOCKED, 0, 'mlock', (s, e) => {
    const flags = mm.vm.vmas.flags(mm.vmaContaining(s));
    if ((flags & (VM.READ | VM.WRITE)) !== 0) populate(mm, s, e, (flags & VM.WRITE) !== 0 ? 'write' : 'read');
  });
}

/** munlock(2): unlock the range (VM_LOCKED and the pages' Mlocked tag cleared). EPERM on secret memory. */
export function munlock(mm: AddressSpace, addr: number, lengthBytes: number): void {
  const [start, end] = lockRange('munlock', addr, lengthBytes);
  if (start === end) return;
  for (let vaddr = start; vaddr < end; vaddr += PAGE_SIZE) {
    const pfn = userPfn(mm, vaddr);
    if (pfn >= 0 && ((mm.vm.memMap.flags[pfn] as number) & PageFlag.Sensitive) !== 0) {
      throw new SyscallError('munlock', 'EPERM', `${rangeText(addr, lengthBytes)}: 0x${vaddr.toString(16)} is secret memory, always locked`);
    }
  }
  setVmaFlags(mm, start, end, 0, VM.LOCKED, 'munlock');
}

/**
 * madvise for anonymous memory (Linux mm/madvise.c).
 *
 *   start not page-aligned, an unknown advice, or start + length overflowing    EINVAL
 *   length 0                                                                  success
 *   holes in the range                                                         the advice is applied to
 *                                                                            the mapped parts, then ENOMEM
 *                                                                            (madvise_walk_vmas)
 *   NORMAL / RANDOM / SEQUENTIAL   set VM_RAND_READ / VM_SEQ_READ (kmem has no readahead; the flags
 *                                  still split and merge VMAs as in Linux)
 *   WILLNEED                       nothing to read ahead for anonymous memory without swap
 *   DONTNEED                       unmaps the pages: the next read finds zeroes (zap_page_range)
 *   DONTFORK / DOFORK              VM_DONTCOPY (fork.ts)
 *   WIPEONFORK / KEEPONFORK        VM_WIPEONFORK (Linux 4.14; fork.ts gives the child zero-fill there;
 *                                  its EINVAL for a shared mapping cannot arise, every kmem mapping is
 *                                  private)
 *   DONTDUMP / DODUMP              VM_DONTDUMP, and the NoDump tag on every page mapped there (a page
 *                                  faulted later gets it too)
 *   DONTNEED on a VM_LOCKED VMA    EINVAL (madvise_dontneed_free_valid_vma: locked pages stay)
 *   HUGEPAGE / NOHUGEPAGE          VM_HUGEPAGE / VM_NOHUGEPAGE (each clears the other)
 *   POPULATE_READ / POPULATE_WRITE faults the pages in; EFAULT where the VMA forbids the access (Linux 5.14)
 */
import { SyscallError, rangeText } from './errors.ts';
import { PTE_HUGE, PTE_PRESENT } from '../../machine/pte.ts';
import { PageFlag } from '../types.ts';
import { accessAllowed, vmaPageTags } from './fault.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP } from './owners.ts';
import { entryPfn } from './page-table.ts';
import type { AddressSpace } from './mm-struct.ts';
import { populate } from './mmap.ts';
import { modifyVmaFlags, zapRange } from './vma-ops.ts';
import { MADV, PAGE_SIZE, PMD_SIZE, VM, pageAlign } from './types.ts';

const KNOWN = new Set<number>(Object.values(MADV));

/** The new flags for a flag-changing advice, or null for an advice that does not change flags. */
function adviceFlags(advice: number, flags: number): number | null {
  switch (advice) {
    case MADV.NORMAL:
      return flags & ~(VM.SEQ_READ | VM.RAND_READ);
    case MADV.RANDOM:
      return (flags & ~VM.SEQ_READ) | VM.RAND_READ;
    case MADV.SEQUENTIAL:
      return (flags & ~VM.RAND_READ) | VM.SEQ_READ;
    case MADV.DONTFORK:
      return flags | VM.DONTCOPY;
    case MADV.DOFORK:
      return flags & ~VM.DONTCOPY;
    case MADV.WIPEONFORK:
      return flags | VM.WIPEONFORK;
    case MADV.KEEPONFORK:
      return flags & ~VM.WIPEONFORK;
    case MADV.DONTDUMP:
      return flags | VM.DONTDUMP;
    case MADV.DODUMP:
      return flags & ~VM.DONTDUMP;
    case MADV.HUGEPAGE:
      return (flags & ~VM.NOHUGEPAGE) | VM.HUGEPAGE;
    case MADV.NOHUGEPAGE:
      return (flags & ~VM.HUGEPAGE) | VM.NOHUGEPAGE;
    default:
      return null;
  }
}

export function doMadvise(mm: AddressSpace, start: number, length: number, advice: number): void {
  if (!Number.isInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new SyscallError('madvise', 'EINVAL', `${rangeText(start, length)}: expected a page-aligned start`);
  }
  if (!Number.isInteger(advice) || !KNOWN.has(advice)) throw new SyscallError('madvise', 'EINVAL', `advice ${advice}: expected one of MADV_*`);
  if (!Number.isInteger(length) || length < 0) throw new SyscallError('madvise', 'EINVAL', `length ${length}: expected a non-negative integer`);
  // As do_madvise: only an end that wraps past 2^64 is EINVAL; a range past user space is a hole
  // of the VMA walk (ENOMEM), since madvise checks no upper bound of its own.
  const end = start + pageAlign(length);
  if (end >= 2 ** 64) throw new SyscallError('madvise', 'EINVAL', `${rangeText(start, length)}: the range wraps past the top of the address space`);
  if (end === start) return;
  forEachVmaPiece(mm, start, end, 'madvise', (k, pieceStart, pieceEnd) => applyAdvice(mm, k, pieceStart, pieceEnd, advice));
}

/**
 * Calls fn(index, start, end) for each VMA piece of [start, end) under mm's mmap_lock, in address
 * order (madvise_walk_vmas); a hole is ENOMEM after the mapped parts are done.
 */
export function forEachVmaPiece(mm: AddressSpace, start: number, end: number, call: string, fn: (k: number, start: number, end: number) => void): void {
  const vmas = mm.vm.vmas;
  mm.lockMmap();
  try {
    let hole = false;
    let addr = start;
    while (addr < end) {
      const k = mm.findIndex(addr);
      if (k >= mm.mapCount || vmas.start(mm.vmaAt(k)) >= end) {
        hole = true;
        break;
      }
      const vma = mm.vmaAt(k);
      if (vmas.start(vma) > addr) {
        hole = true;
        addr = vmas.start(vma);
      }
      const pieceEnd = Math.min(vmas.end(vma), end);
      fn(k, addr, pieceEnd);
      addr = pieceEnd;
    }
    if (hole) throw new SyscallError(call, 'ENOMEM', `${rangeText(start, end - start)}: part of the range is not mapped`);
  } finally {
    mm.lock.release();
  }
}

/**
 * Sets the tags vmaPageTags(vmFlags) names (Mlocked, NoDump) on every anonymous page mapped in
 * [start, end) and clears the other of the two; a Sensitive (secret) page keeps all its tags. A THP's
 * tags live on its head page. The mmap_lock is held by the caller.
 */
export function retagMappedPages(mm: AddressSpace, start: number, end: number, vmFlags: number): void {
  const vm = mm.vm;
  const flagsOf = vm.memMap.flags;
  const want = vmaPageTags(vmFlags);
  const tag = (pfn: number): void => {
    const owner = vm.memMap.owner[pfn] as number;
    const f = flagsOf[pfn] as number;
    if ((owner !== VM_OWNER_ANON && owner !== VM_OWNER_ANON_THP) || (f & PageFlag.Sensitive) !== 0) return;
    flagsOf[pfn] = (f & ~(PageFlag.Mlocked | PageFlag.NoDump)) | want;
  };
  for (let vaddr = start; vaddr < end; ) {
    const pmd = vm.tables.entry(mm.pgdPfn, vaddr, 2, false);
    const next = Math.min(end, (Math.floor(vaddr / PMD_SIZE) + 1) * PMD_SIZE);
    if (pmd < 0) {
      vaddr = next;
      continue;
    }
    const lo = vm.u[pmd] as number;
    if ((lo & PTE_PRESENT) !== 0 && (lo & PTE_HUGE) !== 0) {
      tag(entryPfn(lo));
      vaddr = next;
      continue;
    }
    for (; vaddr < next; vaddr += PAGE_SIZE) {
      const pte = vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
      if (pte >= 0 && ((vm.u[pte] as number) & PTE_PRESENT) !== 0) tag(entryPfn(vm.u[pte] as number));
    }
  }
}

function applyAdvice(mm: AddressSpace, k: number, start: number, end: number, advice: number): void {
  const vmas = mm.vm.vmas;
  const vma = mm.vmaAt(k);
  const flags = adviceFlags(advice, vmas.flags(vma));
  if (flags !== null) {
    if (!mm.reserveIndex(2)) throw new SyscallError('madvise', 'ENOMEM', 'no memory for the VMA index');
    modifyVmaFlags(mm, k, start, end, flags, 'madvise');
    if (advice === MADV.DONTDUMP || advice === MADV.DODUMP) retagMappedPages(mm, start, end, flags);
    return;
  }
  if (advice === MADV.DONTNEED) {
    if ((vmas.flags(vma) & VM.LOCKED) !== 0) throw new SyscallError('madvise', 'EINVAL', `${rangeText(start, end - start)}: the range is locked (VM_LOCKED)`);
    zapRange(mm, start, end, null);
  } else if (advice === MADV.POPULATE_READ || advice === MADV.POPULATE_WRITE) {
    const access = advice === MADV.POPULATE_WRITE ? 'write' : 'read';
    if (!accessAllowed(vmas.flags(vma), access)) {
      throw new SyscallError('madvise', 'EFAULT', `${rangeText(start, end - start)}: the mapping does not allow a ${access}`);
    }
    populate(mm, start, end, access);
  }
}

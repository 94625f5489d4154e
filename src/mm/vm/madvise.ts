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
 *   DONTFORK / DOFORK              VM_DONTCOPY;   WIPEONFORK / KEEPONFORK   VM_WIPEONFORK (fork.ts);   DONTDUMP / DODUMP   VM_DONTDUMP
 *   HUGEPAGE / NOHUGEPAGE          VM_HUGEPAGE / VM_NOHUGEPAGE (each clears the other)
 *   POPULATE_READ / POPULATE_WRITE faults the pages in; EFAULT where the VMA forbids the access (Linux 5.14)
 */
import { SyscallError, rangeText } from './errors.ts';
import { accessAllowed } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { populate } from './mmap.ts';
import { modifyVmaFlags, zapRange } from './vma-ops.ts';
import { MADV, PAGE_SIZE, TASK_SIZE, VM, pageAlign } from './types.ts';

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
  const end = start + pageAlign(length);
  if (end > TASK_SIZE + PAGE_SIZE) throw new SyscallError('madvise', 'EINVAL', `${rangeText(start, length)}: the range leaves user space`);
  if (end === start) return;
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
      applyAdvice(mm, k, addr, pieceEnd, advice);
      addr = pieceEnd;
    }
    if (hole) throw new SyscallError('madvise', 'ENOMEM', `${rangeText(start, length)}: part of the range is not mapped`);
  } finally {
    mm.lock.release();
  }
}

function applyAdvice(mm: AddressSpace, k: number, start: number, end: number, advice: number): void {
  const vmas = mm.vm.vmas;
  const vma = mm.vmaAt(k);
  const flags = adviceFlags(advice, vmas.flags(vma));
  if (flags !== null) {
    if (!mm.reserveIndex(2)) throw new SyscallError('madvise', 'ENOMEM', 'no memory for the VMA index');
    modifyVmaFlags(mm, k, start, end, flags, 'madvise');
    return;
  }
  if (advice === MADV.DONTNEED) {
    zapRange(mm, start, end, null);
  } else if (advice === MADV.POPULATE_READ || advice === MADV.POPULATE_WRITE) {
    const access = advice === MADV.POPULATE_WRITE ? 'write' : 'read';
    if (!accessAllowed(vmas.flags(vma), access)) {
      throw new SyscallError('madvise', 'EFAULT', `${rangeText(start, end - start)}: the mapping does not allow a ${access}`);
    }
    populate(mm, start, end, access);
  }
}

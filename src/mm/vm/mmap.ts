/**
 * mmap, munmap and brk for anonymous private memory, with Linux's rules and errno values
 * (mm/mmap.c do_mmap, __vm_munmap, sys_brk; mm/vma.c; mm/util.c vm_mmap_pgoff).
 *
 * mmap(addr, length, prot, flags):
 *   length 0                                         EINVAL
 *   a type other than MAP_PRIVATE                    EINVAL (MAP_SHARED anonymous memory is shmem, not modelled)
 *   no MAP_ANONYMOUS                                 EBADF-like EINVAL: kmem has no files
 *   PAGE_ALIGN(length) overflows or exceeds TASK_SIZE ENOMEM
 *   MAP_FIXED / MAP_FIXED_NOREPLACE with addr unaligned EINVAL; beyond TASK_SIZE ENOMEM; below mmap_min_addr EPERM
 *   MAP_FIXED_NOREPLACE over an existing mapping      EEXIST
 *   map_count > max_map_count                        ENOMEM
 *   no gap large enough                              ENOMEM
 *   Without MAP_FIXED addr is a hint, used when the range is free; otherwise the highest gap below
 *   mmap_base is taken (top-down), then the lowest above TASK_SIZE/3 (the legacy bottom-up fallback).
 *   MAP_FIXED first unmaps what it overlaps. A new range merges with the VMAs it touches.
 *   Without MAP_FIXED the THP alignment policy (thp-settings.ts) may pad the search to a 2 MiB boundary.
 *   MAP_POPULATE faults every page in (writing when the mapping is writable), as mm_populate does.
 *   Unknown flag bits are ignored, as Linux's legacy mmap ignores them.
 *
 * munmap(addr, length): addr unaligned, length 0, or the range beyond TASK_SIZE → EINVAL; a hole
 *   succeeds; a VMA cut in the middle needs one more VMA, ENOMEM when map_count ≥ max_map_count.
 *
 * brk(addr): returns the new break, or the old one when the request is refused (below start_brk,
 *   running into the next mapping within a guard page, or no memory), as sys_brk does.
 */
import { SyscallError, rangeText } from './errors.ts';
import { allocObject } from './vm.ts';
import { handleFault } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MMF } from './mm-struct.ts';
import { gapAround, mergeAround, splitAt, zapRange } from './vma-ops.ts';
import { MmuGather } from './mmu-gather.ts';
import { alignsMapping } from './thp.ts';
import { MAP, MMAP_MIN_ADDR, PAGE_SIZE, PMD_SIZE, PROT, PROT_MASK, TASK_SIZE, VM, pageAlign } from './types.ts';

/** TASK_UNMAPPED_BASE: where the bottom-up search starts (TASK_SIZE / 3, page-aligned). */
const TASK_UNMAPPED_BASE = Math.floor(TASK_SIZE / 3 / PAGE_SIZE) * PAGE_SIZE;

/** calc_vm_prot_bits: the VM access flags of prot, with the MAY bits every anonymous mapping has. */
export function protToVmFlags(prot: number): number {
  return (prot & PROT_MASK) | VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC;
}

function isLength(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}

export function doMmap(mm: AddressSpace, addr: number, length: number, prot: number, flags: number): number {
  const fail = (errno: 'EINVAL' | 'ENOMEM' | 'EEXIST' | 'EPERM', why: string): never => {
    throw new SyscallError('mmap', errno, `${rangeText(addr, length)}: ${why}`);
  };
  if (!isLength(addr) || !isLength(length) || !Number.isInteger(prot) || !Number.isInteger(flags)) fail('EINVAL', 'expected non-negative integer arguments');
  if (length === 0) fail('EINVAL', 'expected a length of at least one byte');
  const type = flags & MAP.TYPE;
  if (type !== MAP.PRIVATE) fail('EINVAL', type === MAP.SHARED || type === MAP.SHARED_VALIDATE ? 'MAP_SHARED anonymous memory (shmem) is not modelled: expected MAP_PRIVATE' : 'expected MAP_PRIVATE');
  if ((flags & MAP.ANONYMOUS) === 0) fail('EINVAL', 'kmem maps no files: expected MAP_ANONYMOUS');
  const len = pageAlign(length);
  if (len > TASK_SIZE) fail('ENOMEM', `length exceeds TASK_SIZE (0x${TASK_SIZE.toString(16)})`);
  const fixed = (flags & (MAP.FIXED | MAP.FIXED_NOREPLACE)) !== 0;
  if (fixed) {
    if (addr % PAGE_SIZE !== 0) fail('EINVAL', 'MAP_FIXED needs a page-aligned address');
    if (addr + len > TASK_SIZE) fail('ENOMEM', 'MAP_FIXED range ends beyond TASK_SIZE');
    if (addr < MMAP_MIN_ADDR) fail('EPERM', `MAP_FIXED below vm.mmap_min_addr (0x${MMAP_MIN_ADDR.toString(16)})`);
  }
  mm.lockMmap();
  try {
    if (mm.mapCount > mm.maxMapCount) fail('ENOMEM', `map_count ${mm.mapCount} exceeds max_map_count ${mm.maxMapCount}`);
    let start: number;
    if (fixed) {
      start = addr;
      if ((flags & MAP.FIXED) === 0 && overlaps(mm, start, start + len)) fail('EEXIST', 'MAP_FIXED_NOREPLACE over an existing mapping');
    } else {
      start = alignsMapping(mm.vm, len) ? thpUnmappedArea(mm, addr, len) : unmappedArea(mm, addr, len);
      if (start < 0) fail('ENOMEM', 'no gap in the address space is large enough');
    }
    // Room for the worst case: the fixed unmap splits one VMA, and the new VMA.
    if (!mm.reserveIndex(2)) fail('ENOMEM', 'no memory for the VMA index');
    if (fixed) unmapLocked(mm, start, len, 'mmap');
    const vmFlags = protToVmFlags(prot);
    insertVma(mm, start, start + len, vmFlags, () => fail('ENOMEM', 'no memory for a vm_area_struct'));
    if ((flags & MAP.POPULATE) !== 0) populate(mm, start, start + len, (vmFlags & VM.WRITE) !== 0 ? 'write' : 'read');
    return start;
  } finally {
    mm.lock.release();
  }
}

/** Adds VMA [start, end) (the range is free), merged with whatever it touches. */
export function insertVma(mm: AddressSpace, start: number, end: number, vmFlags: number, noMemory: () => never): void {
  const vm = mm.vm;
  const vma = allocObject(vm.vmaCache);
  if (vma === null) noMemory();
  vm.vmas.init(vma, mm.paddr, start, end, vmFlags, 0);
  const i = mm.findIndex(start);
  mm.insertAt(i, vma);
  mm.addNum(MMF.TOTAL_VM, (end - start) / PAGE_SIZE);
  mergeAround(mm, i, i + 1);
}

function overlaps(mm: AddressSpace, start: number, end: number): boolean {
  const i = mm.findIndex(start);
  return i < mm.mapCount && mm.vm.vmas.start(mm.vmaAt(i)) < end;
}

/** get_unmapped_area for anonymous memory: the hint if it is free, else top-down, else bottom-up. Returns −1 when nothing fits. */
export function unmappedArea(mm: AddressSpace, hint: number, len: number): number {
  const lowLimit = Math.max(PAGE_SIZE, MMAP_MIN_ADDR);
  if (hint !== 0) {
    const start = pageAlign(hint);
    if (start <= TASK_SIZE - len && start >= lowLimit && !overlaps(mm, start, start + len)) return start;
  }
  const vmas = mm.vm.vmas;
  // Top-down: the highest gap below mmap_base that fits.
  let hi = mm.mmapBase;
  let i = mm.findIndex(hi);
  if (i < mm.mapCount && vmas.start(mm.vmaAt(i)) < hi) hi = vmas.start(mm.vmaAt(i));
  for (let k = i - 1; k >= -1; k--) {
    const lo = Math.max(k >= 0 ? vmas.end(mm.vmaAt(k)) : 0, lowLimit);
    if (hi - len >= lo) return hi - len;
    if (k < 0) break;
    hi = vmas.start(mm.vmaAt(k));
    if (hi <= lowLimit) break;
  }
  // Bottom-up from TASK_UNMAPPED_BASE.
  let lo = TASK_UNMAPPED_BASE;
  for (i = mm.findIndex(lo); i <= mm.mapCount; i++) {
    const top = i < mm.mapCount ? vmas.start(mm.vmaAt(i)) : TASK_SIZE;
    if (lo + len <= top) return lo;
    if (i < mm.mapCount) lo = Math.max(lo, vmas.end(mm.vmaAt(i)));
  }
  return -1;
}

/**
 * thp_get_unmapped_area for anonymous memory (__thp_get_unmapped_area): search for len + 2 MiB, keep
 * a taken hint, else move up to the next 2 MiB boundary, or, when the area found is aligned already
 * and the search is top-down, take its upper part. Falls back to the plain search when the padded
 * one fails.
 */
export function thpUnmappedArea(mm: AddressSpace, hint: number, len: number): number {
  const padded = unmappedArea(mm, hint, len + PMD_SIZE);
  if (padded < 0) return unmappedArea(mm, hint, len);
  if (hint !== 0 && padded === pageAlign(hint)) return padded;
  const offSub = (PMD_SIZE - (padded % PMD_SIZE)) % PMD_SIZE;
  return offSub === 0 ? padded + PMD_SIZE : padded + offSub;
}

export function doMunmap(mm: AddressSpace, addr: number, length: number): void {
  if (!isLength(addr) || !isLength(length) || addr % PAGE_SIZE !== 0) {
    throw new SyscallError('munmap', 'EINVAL', `${rangeText(addr, length)}: expected a page-aligned address`);
  }
  const len = pageAlign(length);
  if (len === 0 || len > TASK_SIZE || addr > TASK_SIZE - len) {
    throw new SyscallError('munmap', 'EINVAL', `${rangeText(addr, length)}: expected a non-empty range inside user space`);
  }
  mm.lockMmap();
  try {
    if (!mm.reserveIndex(1)) throw new SyscallError('munmap', 'ENOMEM', 'no memory for the VMA index');
    unmapLocked(mm, addr, len, 'munmap');
  } finally {
    mm.lock.release();
  }
}

/** do_vmi_munmap: removes [start, start + len) from the VMAs and the page tables. Index room for one split is reserved. */
export function unmapLocked(mm: AddressSpace, start: number, len: number, call: string): void {
  const vm = mm.vm;
  const vmas = vm.vmas;
  const end = start + len;
  let i = mm.findIndex(start);
  if (i >= mm.mapCount || vmas.start(mm.vmaAt(i)) >= end) return;
  const first = mm.vmaAt(i);
  if (vmas.start(first) < start && vmas.end(first) > end && mm.mapCount >= mm.maxMapCount) {
    throw new SyscallError(call, 'ENOMEM', `${rangeText(start, len)}: cutting a hole in a VMA would exceed max_map_count ${mm.maxMapCount}`);
  }
  let removedBytes = 0;
  for (let k = i; k < mm.mapCount && vmas.start(mm.vmaAt(k)) < end; k++) {
    const vma = mm.vmaAt(k);
    removedBytes += Math.min(vmas.end(vma), end) - Math.max(vmas.start(vma), start);
  }
  mm.addNum(MMF.TOTAL_VM, -removedBytes / PAGE_SIZE);
  // unmap_region: one mmu_gather over the zap and free_pgtables, so that neither a page nor a page
  // table is freed before the TLBs (and page-walk caches) have dropped it.
  const tlb = new MmuGather(mm, false);
  zapRange(mm, start, end, null, tlb);
  if (vmas.start(first) < start) {
    if (!splitAt(mm, i, start)) throw new SyscallError(call, 'ENOMEM', 'no memory for a vm_area_struct');
    i++;
  }
  let j = i;
  while (j < mm.mapCount && vmas.start(mm.vmaAt(j)) < end) j++;
  const last = mm.vmaAt(j - 1);
  if (vmas.end(last) > end) {
    // The upper piece keeps its object; a fresh one is not needed: move its start.
    vmas.setStart(last, end);
    j--;
  }
  for (let k = i; k < j; k++) vm.vmaCache.free(mm.vmaAt(k));
  mm.removeAt(i, j - i);
  const freedTables = vm.tables.walkRange(mm.pgdPfn, start, end, () => undefined, { ...gapAround(mm, start, end), free: (pfn, vaddr) => tlb.removeTable(pfn, vaddr) });
  if (freedTables > 0) mm.countTables(-freedTables);
  tlb.finish();
}

/** Faults every page of [start, end) in (populate_vma_page_range). */
export function populate(mm: AddressSpace, start: number, end: number, access: 'read' | 'write'): void {
  for (let page = start; page < end; page += PAGE_SIZE) {
    if (!mm.translates(page, access)) handleFault(mm, page, access);
  }
}

export function doBrk(mm: AddressSpace, brk: number): number {
  const vm = mm.vm;
  const vmas = vm.vmas;
  mm.lockMmap();
  try {
    const orig = mm.brkEnd;
    if (!Number.isInteger(brk) || brk < mm.startBrk || brk > TASK_SIZE) return orig;
    const newEnd = pageAlign(brk);
    const oldEnd = pageAlign(orig);
    if (newEnd === oldEnd) {
      mm.setNum(MMF.BRK, brk);
      return brk;
    }
    if (brk <= orig) {
      if (!mm.reserveIndex(1)) return orig;
      try {
        unmapLocked(mm, newEnd, oldEnd - newEnd, 'brk');
      } catch {
        return orig;
      }
      mm.setNum(MMF.BRK, brk);
      return brk;
    }
    // Growing: the next mapping must stay at least a page above the new break.
    const i = mm.findIndex(oldEnd);
    if (i < mm.mapCount && newEnd + PAGE_SIZE > vmas.start(mm.vmaAt(i))) return orig;
    if (!mm.reserveIndex(1)) return orig;
    const flags = protToVmFlags(PROT.READ | PROT.WRITE);
    try {
      insertVma(mm, oldEnd, newEnd, flags, () => {
        throw new SyscallError('brk', 'ENOMEM', 'no memory for a vm_area_struct');
      });
    } catch {
      return orig;
    }
    mm.setNum(MMF.BRK, brk);
    return brk;
  } finally {
    mm.lock.release();
  }
}

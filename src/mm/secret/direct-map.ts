/**
 * Holes in the kernel's direct map for secret frames (Linux's set_direct_map_invalid_noflush /
 * set_direct_map_default_noflush, arch/x86/mm/pat/set_memory.c).
 *
 * The direct map (vm.ts) maps RAM at DIRECT_MAP_BASE in 2 MiB entries. Removing one 4 KiB frame
 * splits its 2 MiB entry into a table of 512 PTEs with the same rights (present, writable, global,
 * accessed, dirty, NX), as Linux splits a large page and counts direct_map_level2_splits; then the
 * frame's PTE is cleared. The table stays when the frame comes back, as Linux's split pages do.
 * Every change flushes the range from every bound CPU's TLB (flushKernelTlb).
 *
 * Locking: the Vm root lock, which guards init_mm's tables.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_GLOBAL, PTE_HI_NX, PTE_HUGE, PTE_PRESENT, PTE_WRITABLE } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { PageFlag } from '../types.ts';
import { entryPfn } from '../vm/page-table.ts';
import { DIRECT_MAP_BASE, PAGE_SIZE, PMD_SIZE, PTRS_PER_TABLE } from '../vm/types.ts';
import type { Vm } from '../vm/vm.ts';
import { ROOT } from '../vm/vm.ts';
import { SecretAccessError } from './errors.ts';

/** PAGE_KERNEL: what a direct-map entry grants (vm.ts's initKernelTables). */
const PAGE_KERNEL = PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL;
/** A kernel table entry: present, writable, accessed (the leaves decide the rest). */
const KERNEL_TABLE_ENTRY = PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED;

/**
 * The word index of pfn's 4 KiB direct-map PTE, splitting its 2 MiB entry first when `split` is set.
 * -1 when the entry is still a 2 MiB one (not split, or no page for the table).
 */
function pteSlot(vm: Vm, pfn: number, split: boolean): number {
  const vaddr = DIRECT_MAP_BASE + pfn * PAGE_SIZE;
  const pmd = vm.tables.entry(vm.kernelPgdPfn, vaddr, 2, false);
  assert(pmd >= 0, () => `direct map has no PMD for pfn ${pfn}`);
  const lo = vm.u[pmd] as number;
  if ((lo & PTE_HUGE) === 0) return vm.tables.entry(vm.kernelPgdPfn, vaddr, 1, false);
  if (!split) return -1;
  const table = vm.tables.allocTable();
  if (table === null) return -1;
  vm.addRoot(ROOT.KERNEL_TABLES, 1);
  const base = entryPfn(lo) * PAGE_SIZE;
  const words = (table * PAGE_SIZE) / 4;
  for (let i = 0; i < PTRS_PER_TABLE; i++) {
    vm.u[words + 2 * i] = ((base + i * PAGE_SIZE) | PAGE_KERNEL) >>> 0;
    vm.u[words + 2 * i + 1] = PTE_HI_NX >>> 0;
  }
  vm.u[pmd + 1] = 0;
  vm.u[pmd] = ((table * PAGE_SIZE) | KERNEL_TABLE_ENTRY) >>> 0;
  vm.count('direct_map_level2_splits');
  const start = DIRECT_MAP_BASE + base;
  vm.flushKernelTlb(start, start + PMD_SIZE);
  return vm.tables.entry(vm.kernelPgdPfn, vaddr, 1, false);
}

/** Whether pfn has a present direct-map entry. */
export function directMapPresent(vm: Vm, pfn: number): boolean {
  const slot = pteSlot(vm, pfn, false);
  return slot < 0 || ((vm.u[slot] as number) & PTE_PRESENT) !== 0;
}

/** Removes pfn from the direct map; false (nothing changed) when no page was left for a split. */
export function setDirectMapInvalid(vm: Vm, pfn: number): boolean {
  vm.lock.acquire();
  try {
    const slot = pteSlot(vm, pfn, true);
    if (slot < 0) return false;
    assert(((vm.u[slot] as number) & PTE_PRESENT) !== 0, () => `pfn ${pfn} is already out of the direct map`);
    vm.u[slot] = 0;
    vm.u[slot + 1] = 0;
  } finally {
    vm.lock.release();
  }
  const vaddr = DIRECT_MAP_BASE + pfn * PAGE_SIZE;
  vm.flushKernelTlb(vaddr, vaddr + PAGE_SIZE);
  return true;
}

/** Puts pfn back into the direct map (a no-op when it is there). */
export function setDirectMapDefault(vm: Vm, pfn: number): void {
  vm.lock.acquire();
  try {
    const slot = pteSlot(vm, pfn, false);
    if (slot < 0 || ((vm.u[slot] as number) & PTE_PRESENT) !== 0) return;
    vm.u[slot + 1] = PTE_HI_NX >>> 0;
    vm.u[slot] = ((pfn * PAGE_SIZE) | PAGE_KERNEL) >>> 0;
  } finally {
    vm.lock.release();
  }
}

/**
 * The typed error for a kernel fault at vaddr when it is a secret frame's direct-map address, else
 * null (the fault handlers of cpu-binding.ts and Vm.kernelRead/kernelWrite ask this first).
 */
export function secretFaultError(vm: Vm, vaddr: number, access: 'read' | 'write' | 'exec'): SecretAccessError | null {
  if (vaddr < DIRECT_MAP_BASE || vaddr >= DIRECT_MAP_BASE + vm.ram.sizeBytes) return null;
  const pfn = Math.floor((vaddr - DIRECT_MAP_BASE) / PAGE_SIZE);
  if (((vm.memMap.flags[pfn] as number) & PageFlag.Sensitive) === 0 || directMapPresent(vm, pfn)) return null;
  return new SecretAccessError(vaddr, pfn, access);
}

/** Frames whose direct-map entry is absent, in order (for validate and stats). */
export function directMapHoles(vm: Vm): number[] {
  const out: number[] = [];
  for (let pmdStart = 0; pmdStart < vm.pages.nrPages; pmdStart += PTRS_PER_TABLE) {
    const pmd = vm.tables.entry(vm.kernelPgdPfn, DIRECT_MAP_BASE + pmdStart * PAGE_SIZE, 2, false);
    if (pmd < 0 || ((vm.u[pmd] as number) & PTE_HUGE) !== 0) continue;
    const end = Math.min(pmdStart + PTRS_PER_TABLE, vm.pages.nrPages);
    for (let pfn = pmdStart; pfn < end; pfn++) if (!directMapPresent(vm, pfn)) out.push(pfn);
  }
  return out;
}

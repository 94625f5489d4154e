/**
 * vmalloc: virtually contiguous kernel memory from physically scattered pages (Linux mm/vmalloc.c).
 *
 * Each area is a `vmap_area` object of the slab cache 'vmap_area', on a list sorted by address whose
 * head is in Vm's root page:
 *
 *   byte 0  f64 start   byte 8  f64 sizeBytes (the pages and the trailing guard page, as Linux's
 *                                              VM_NO_GUARD-less areas have)
 *   byte 16 i32 next (paddr, 0 = end)           byte 20 i32 nrPages
 *
 * Pages are order-0 GFP_KERNEL, owner VM_OWNER_VMALLOC, mapped in init_mm's tables with PAGE_KERNEL
 * (present, writable, global, accessed, dirty, no-execute). The guard page is never mapped: a
 * kernel access that runs off the end faults, and `Vm.kernelRead/kernelWrite` name it as a guard-page
 * hit. Areas are first-fit in [VMALLOC_START, VMALLOC_START + 512 GiB) (see vm.ts for the 512).
 * Page tables made for vmalloc stay when areas are freed, as Linux's do.
 *
 * Locking: the Vm root lock is held for every list and table change.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_GLOBAL, PTE_HI_NX, PTE_PRESENT, PTE_WRITABLE } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { ArgumentError } from '../../util/errors.ts';
import { GFP } from '../gfp.ts';
import { VM_OWNER_VMALLOC } from './owners.ts';
import { entryPfn } from './page-table.ts';
import { PAGE_SIZE, PGDIR_SIZE, VMALLOC_START, pageAlign } from './types.ts';
import { ROOT, allocObject } from './vm.ts';
import type { Vm } from './vm.ts';

export const VMAP_AREA_BYTES = 24;
/** The part of Linux's vmalloc space kmem uses: one PGD entry (vm.ts). */
export const VMALLOC_USABLE_END = VMALLOC_START + PGDIR_SIZE;

export interface VmapArea {
  start: number;
  sizeBytes: number;
  nrPages: number;
}

/** vmalloc(sizeBytes): the start of a new area, or null when memory or vmalloc space ran out. */
export function vmalloc(vm: Vm, sizeBytes: number): number | null {
  if (!Number.isInteger(sizeBytes) || sizeBytes <= 0) throw new ArgumentError(`vmalloc size ${sizeBytes}: expected a positive integer`);
  const nrPages = pageAlign(sizeBytes) / PAGE_SIZE;
  const span = (nrPages + 1) * PAGE_SIZE;
  vm.lock.acquire();
  try {
    // First fit along the sorted list.
    let prev = 0;
    let start = VMALLOC_START;
    for (let a = vm.root(ROOT.FIRST_VMAP), n = 0; a !== 0; a = vm.w[a / 4 + 4] as number, n++) {
      assert(n < 1 << 24, 'vmap_area list does not end');
      if (start + span <= (vm.f[a / 8] as number)) break;
      start = (vm.f[a / 8] as number) + (vm.f[a / 8 + 1] as number);
      prev = a;
    }
    if (start + span > VMALLOC_USABLE_END) return null;
    const area = allocObject(vm.vmapCache);
    if (area === null) return null;
    const pgd = vm.kernelPgdPfn;
    const u = vm.u;
    let mapped = 0;
    for (; mapped < nrPages; mapped++) {
      const vaddr = start + mapped * PAGE_SIZE;
      const slot = vm.tables.entry(pgd, vaddr, 1, true, (d) => {
        vm.addRoot(ROOT.KERNEL_TABLES, d);
      });
      const pfn = slot < 0 ? null : vm.pages.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY | GFP.NOWARN, VM_OWNER_VMALLOC);
      if (pfn === null) break;
      u[slot + 1] = PTE_HI_NX >>> 0;
      u[slot] = ((pfn * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL) >>> 0;
    }
    if (mapped < nrPages) {
      unmapPages(vm, start, mapped);
      vm.vmapCache.free(area);
      return null;
    }
    vm.f[area / 8] = start;
    vm.f[area / 8 + 1] = span;
    vm.w[area / 4 + 5] = nrPages;
    if (prev === 0) {
      vm.w[area / 4 + 4] = vm.root(ROOT.FIRST_VMAP);
      vm.setRoot(ROOT.FIRST_VMAP, area);
    } else {
      vm.w[area / 4 + 4] = vm.w[prev / 4 + 4] as number;
      vm.w[prev / 4 + 4] = area;
    }
    vm.count('nr_vmalloc', nrPages);
    return start;
  } finally {
    vm.lock.release();
  }
}

/** vfree(addr): unmaps and frees the area that starts at addr. */
export function vfree(vm: Vm, addr: number): void {
  vm.lock.acquire();
  try {
    let prev = 0;
    let a = vm.root(ROOT.FIRST_VMAP);
    for (let n = 0; a !== 0 && (vm.f[a / 8] as number) !== addr; a = vm.w[a / 4 + 4] as number, n++) {
      assert(n < 1 << 24, 'vmap_area list does not end');
      prev = a;
    }
    if (a === 0) throw new ArgumentError(`vfree of 0x${addr.toString(16)}: expected the start of a vmalloc area`);
    const nrPages = vm.w[a / 4 + 5] as number;
    unmapPages(vm, addr, nrPages);
    const next = vm.w[a / 4 + 4] as number;
    if (prev === 0) vm.setRoot(ROOT.FIRST_VMAP, next);
    else vm.w[prev / 4 + 4] = next;
    vm.vmapCache.free(a);
    vm.count('nr_vmalloc', -nrPages);
  } finally {
    vm.lock.release();
  }
}

/** vunmap then free: every entry cleared, every CPU flushed, and only then the pages freed (vfree frees after the flush). */
function unmapPages(vm: Vm, start: number, nrPages: number): void {
  const u = vm.u;
  const pfns = new Int32Array(nrPages);
  for (let i = 0; i < nrPages; i++) {
    const slot = vm.tables.entry(vm.kernelPgdPfn, start + i * PAGE_SIZE, 1, false);
    assert(slot >= 0 && ((u[slot] as number) & PTE_PRESENT) !== 0, () => `vmalloc page at 0x${(start + i * PAGE_SIZE).toString(16)} is not mapped`);
    pfns[i] = entryPfn(u[slot] as number);
    u[slot] = 0;
    u[slot + 1] = 0;
  }
  vm.flushKernelTlb(start, start + nrPages * PAGE_SIZE);
  for (let i = 0; i < nrPages; i++) vm.pages.freePages(pfns[i]!, 0, VM_OWNER_VMALLOC);
}

/** Every vmalloc area, by address. */
export function vmapAreas(vm: Vm): VmapArea[] {
  const out: VmapArea[] = [];
  for (let a = vm.root(ROOT.FIRST_VMAP), n = 0; a !== 0; a = vm.w[a / 4 + 4] as number, n++) {
    assert(n < 1 << 24, 'vmap_area list does not end');
    out.push({ start: vm.f[a / 8] as number, sizeBytes: vm.f[a / 8 + 1] as number, nrPages: vm.w[a / 4 + 5] as number });
  }
  return out;
}

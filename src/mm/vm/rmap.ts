/**
 * The reverse map of anonymous pages: for each page, the (mm, vaddr) of every page-table entry that
 * maps it, so that compaction can move a page and fork can share one (Linux mm/rmap.c).
 *
 * Linux finds the mappings of an anonymous page through its anon_vma (the VMAs that may map it) and
 * page->index; kmem keeps one 16-byte item per mapping instead, on a list whose head is
 * mem_map.private[pfn] (0 = none):
 *
 *   byte 0  i32 mm (paddr of the mm_struct)   byte 4  i32 next item (paddr, 0 = end)   byte 8  f64 vaddr
 *
 * Items come from the slab cache 'anon_rmap_item', so slabinfo shows what the reverse map costs.
 * It is exact (no candidate VMAs to search) at 16 bytes per mapping, where Linux spends nothing per
 * page but walks every VMA of the anon_vma.
 *
 * With the LRU enabled (mm/swap/lru.ts), a page joins it with its first mapping and leaves with its last.
 *
 * Invariant: for an anonymous page p, |list(p)| = mapcount[p] = refcount[p], and each item names a
 * leaf entry that maps p (checked by validate.ts). Callers hold the mm's mmap_lock.
 */
import { PageFlag } from '../types.ts';
import { releaseSensitivePage } from '../secret/release.ts';
import { lruAdd, lruDel, lruEnabled } from '../swap/lru.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP } from './owners.ts';
import { assert } from '../../util/assert.ts';
import type { Vm } from './vm.ts';

export const RMAP_ITEM_BYTES = 16;

/** Adds the mapping (mm, vaddr) of page pfn: page_add_anon_rmap, with the mapcount and refcount it takes. */
export function rmapAdd(vm: Vm, pfn: number, mm: number, vaddr: number): void {
  const item = vm.rmapCache.alloc();
  assert(item !== null, 'no memory for an rmap item');
  vm.w[item / 4] = mm;
  vm.w[item / 4 + 1] = vm.memMap.private[pfn] as number;
  vm.f[item / 8 + 1] = vaddr;
  vm.memMap.private[pfn] = item;
  const mapcount = (vm.memMap.mapcount[pfn] as number) + 1;
  vm.memMap.mapcount[pfn] = mapcount;
  // The allocation's reference is the first mapping's; each further mapping takes one more.
  if (mapcount > 1) vm.memMap.refcount[pfn] = (vm.memMap.refcount[pfn] as number) + 1;
  else if (lruEnabled(vm)) lruAdd(vm, pfn);
}

/** Where an unmap leaves pages whose last mapping went, to free them after the TLB flush (mmu-gather.ts). */
export interface PageGather {
  removePage(pfn: number, order: number): void;
}

/**
 * Removes the mapping (mm, vaddr) of page pfn and drops its reference; when that was the last, frees
 * the page (order `order`), or with `gather` hands it to the gather, which keeps that last reference
 * until the TLBs are flushed (putGatheredPage). Returns whether the page was (or will be) freed.
 */
export function rmapRemove(vm: Vm, pfn: number, mm: number, vaddr: number, order: number, gather: PageGather | null = null): boolean {
  const priv = vm.memMap.private;
  let prev = 0;
  let item = priv[pfn] as number;
  for (let n = 0; item !== 0; n++) {
    assert(n < 1 << 20, () => `rmap list of pfn ${pfn} does not end`);
    if ((vm.w[item / 4] as number) === mm && (vm.f[item / 8 + 1] as number) === vaddr) break;
    prev = item;
    item = vm.w[item / 4 + 1] as number;
  }
  assert(item !== 0, () => `pfn ${pfn} has no rmap item for mm 0x${mm.toString(16)} vaddr 0x${vaddr.toString(16)}: expected the mapping being removed`);
  const next = vm.w[item / 4 + 1] as number;
  if (prev === 0) priv[pfn] = next;
  else vm.w[prev / 4 + 1] = next;
  vm.rmapCache.free(item);
  const mapcount = (vm.memMap.mapcount[pfn] as number) - 1;
  vm.memMap.mapcount[pfn] = mapcount;
  if (mapcount === 0) lruDel(vm, pfn);
  const refcount = (vm.memMap.refcount[pfn] as number) - 1;
  if (refcount > 0) {
    vm.memMap.refcount[pfn] = refcount;
    return false;
  }
  assert(vm.memMap.mapcount[pfn] === 0 && priv[pfn] === 0, () => `pfn ${pfn} lost its last reference while still mapped`);
  if (gather !== null) {
    // refcount stays 1: the gather's reference, dropped after the flush.
    gather.removePage(pfn, order);
    return true;
  }
  releaseAnonPage(vm, pfn, order);
  return true;
}

/** put_page of a page an mmu_gather held (mmu-gather.ts): drops the gather's reference and frees it. */
export function putGatheredPage(vm: Vm, pfn: number, order: number): void {
  assert(
    vm.memMap.refcount[pfn] === 1 && vm.memMap.mapcount[pfn] === 0 && vm.memMap.private[pfn] === 0,
    () => `gathered pfn ${pfn}: refcount ${vm.memMap.refcount[pfn]}, mapcount ${vm.memMap.mapcount[pfn]}: expected only the gather's reference`,
  );
  releaseAnonPage(vm, pfn, order);
}

/** Frees an anonymous page whose last reference is gone. */
function releaseAnonPage(vm: Vm, pfn: number, order: number): void {
  const owner = vm.memMap.owner[pfn] as number;
  assert(owner === VM_OWNER_ANON || owner === VM_OWNER_ANON_THP, () => `pfn ${pfn}: owner tag 0x${owner.toString(16)}, expected an anonymous page's`);
  vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) & ~PageFlag.AnonExclusive;
  if (((vm.memMap.flags[pfn] as number) & PageFlag.Sensitive) !== 0) releaseSensitivePage(vm, pfn);
  vm.pages.freePages(pfn, order, owner);
}

/** Calls fn(mm, vaddr) for every mapping of pfn (rmap_walk). */
export function rmapWalk(vm: Vm, pfn: number, fn: (mm: number, vaddr: number) => void): number {
  let n = 0;
  for (let item = vm.memMap.private[pfn] as number; item !== 0; item = vm.w[item / 4 + 1] as number) {
    assert(n < 1 << 20, () => `rmap list of pfn ${pfn} does not end`);
    fn(vm.w[item / 4] as number, vm.f[item / 8 + 1] as number);
    n++;
  }
  return n;
}

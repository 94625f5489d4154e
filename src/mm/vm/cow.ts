/**
 * Copy-on-write of anonymous pages after fork (Linux mm/memory.c do_wp_page, wp_can_reuse_anon_folio,
 * wp_page_copy; the PageAnonExclusive rules of Linux 5.19+).
 *
 * A write to a read-only entry of a writable VMA that maps an anonymous page:
 *   the page is AnonExclusive (PageFlag.AnonExclusive in mem_map.flags)      → reuse: make it writable
 *   else mapcount = refcount = 1 (nobody else maps it, no GUP reference)       → reuse, mark exclusive
 *   else                                                                      → copy: a new page, the
 *                                                                              bytes copied, the entry
 *                                                                              moved to it, exclusive
 * Reuse on mapcount alone (Linux before 5.8) is CVE-2020-29374: a GUP reference taken through a COW
 * mapping that was then unmapped would see the writer's new data. Checking the refcount closes it.
 *
 * Under the fork policy 'defer-write' (fork.ts) a write that would copy a page that may be pinned
 * for DMA throws DmaWaitError instead: the writer must wait for the DMA to complete and retry (the
 * caller's clock models the wait). The mm's word MM.FORK_DMA_POLICY holds the policy of its last fork.
 *
 * Locking: the mm's mmap_lock is held.
 */
import { KmemError } from '../../util/errors.ts';
import { GFP } from '../gfp.ts';
import { PageFlag } from '../types.ts';
import { GUP_PIN_COUNTING_BIAS } from '../dma/gup.ts';
import { SyscallError } from './errors.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MM } from './mm-struct.ts';
import { VM_OWNER_ANON } from './owners.ts';
import { rmapAdd, rmapRemove } from './rmap.ts';
import { PAGE_SIZE, formatVaddr } from './types.ts';
import type { Vm } from './vm.ts';

/** What fork does with a page that may be pinned for DMA (fork.ts). */
export type ForkDmaPolicy = 'naive' | 'early-copy' | 'defer-write';
export const FORK_DMA_POLICIES: readonly ForkDmaPolicy[] = ['naive', 'early-copy', 'defer-write'];

/** A write must wait: the page it would copy may be pinned for DMA and the mm's policy is 'defer-write'. */
export class DmaWaitError extends KmemError {
  override name = 'DmaWaitError';
  constructor(
    readonly vaddr: number,
    readonly pfn: number,
  ) {
    super(`write to 0x${formatVaddr(vaddr)}: pfn ${pfn} may be pinned for DMA and is shared copy-on-write; expected the writer to wait for the DMA to complete (fork policy defer-write)`);
  }
}

export function forkDmaPolicy(mm: AddressSpace): ForkDmaPolicy {
  return FORK_DMA_POLICIES[mm.word(MM.FORK_DMA_POLICY)] ?? 'naive';
}

export function isAnonExclusive(vm: Vm, pfn: number): boolean {
  return ((vm.memMap.flags[pfn] as number) & PageFlag.AnonExclusive) !== 0;
}

export function setAnonExclusive(vm: Vm, pfn: number, exclusive: boolean): void {
  const flags = vm.memMap.flags[pfn] as number;
  vm.memMap.flags[pfn] = exclusive ? flags | PageFlag.AnonExclusive : flags & ~PageFlag.AnonExclusive;
}

/** page_maybe_dma_pinned for an anonymous small page: its references beyond its mappings reach the bias. */
export function anonMaybeDmaPinned(vm: Vm, pfn: number): boolean {
  return (vm.memMap.refcount[pfn] as number) - (vm.memMap.mapcount[pfn] as number) >= GUP_PIN_COUNTING_BIAS;
}

/** wp_can_reuse_anon_folio: whether a write may keep the page the entry maps. */
export function canReuseAnon(vm: Vm, pfn: number): boolean {
  if (isAnonExclusive(vm, pfn)) return true;
  return vm.memMap.mapcount[pfn] === 1 && vm.memMap.refcount[pfn] === 1;
}

/**
 * wp_page_copy: gives (mm, page) a private copy of the page its entry at `slot` maps, with the
 * entry's other bits; writable (and dirty) when `writable`, else read-only (an unshare for a read pin).
 * Returns the new pfn. Throws SyscallError ENOMEM when no page is free (VM_FAULT_OOM).
 */
export function copyAnonPage(mm: AddressSpace, slot: number, page: number, writable: boolean, writeBits: number): number {
  const vm = mm.vm;
  const u = vm.u;
  const lo = u[slot] as number;
  const old = lo >>> 12;
  const pfn = vm.pages.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.NORETRY | GFP.NOWARN, VM_OWNER_ANON);
  if (pfn === null) throw new SyscallError('fault', 'ENOMEM', `no page to copy 0x${formatVaddr(page)} on write (VM_FAULT_OOM)`);
  const bytes = vm.ram.bytes;
  bytes.copyWithin(pfn * PAGE_SIZE, old * PAGE_SIZE, (old + 1) * PAGE_SIZE);
  rmapAdd(vm, pfn, mm.paddr, page);
  setAnonExclusive(vm, pfn, true);
  const keep = (lo & (PAGE_SIZE - 1) & ~writeBits) >>> 0;
  u[slot] = ((pfn * PAGE_SIZE) | keep | (writable ? writeBits : 0)) >>> 0;
  // Flush before the old page's reference is dropped (wp_page_copy: ptep_clear_flush, then
  // page_remove_rmap): if that was its last reference it is freed, and no TLB may still reach it.
  vm.flushTlb(mm, page, page + PAGE_SIZE);
  if (old === vm.zeroPfn) vm.count('nr_zero_page_maps', -1);
  else rmapRemove(vm, old, mm.paddr, page, 0);
  if (old === vm.zeroPfn) mm.countAnon(1);
  vm.count('kmem_cow_copy');
  return pfn;
}

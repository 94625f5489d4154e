/**
 * Page reclaim for anonymous pages (Linux mm/vmscan.c): shrink_lruvec ages the active list when the
 * inactive one is too short (inactive_is_low), then shrink_inactive_list takes pages from the
 * inactive tail and decides each as folio_check_references does, with the PTE accessed bit as the
 * second chance:
 *
 *   tagged Mlocked or Sensitive            → the unevictable list (never written to swap)
 *   mapped in a VM_LOCKED VMA, or pinned   → back to the active list (try_to_unmap refuses it)
 *   accessed bit set in some mapping       → the bit is cleared (folio_referenced) and the page
 *     and PG_referenced set already, or      marked referenced: activated when it was referenced
 *     set in more than one mapping           before or through several entries, else kept on the
 *                                            inactive list for another trip
 *   not referenced                         → swapped out: a slot (get_swap_page), every mapping
 *                                            replaced by a swap PTE through the reverse map
 *                                            (try_to_unmap), the bytes written (swap_writepage),
 *                                            the page freed
 *
 * shrink_active_list moves pages from the active tail to the inactive head, clearing their accessed
 * bits (anonymous pages are always deactivated; only executable file pages get another round in
 * Linux). As in x86 Linux (ptep_clear_flush_young), clearing an accessed bit does not flush the TLB.
 *
 * kmem has no swap cache: a page is freed as soon as its bytes are written, and each swap-in makes a
 * private page (swap-pte.ts). Reclaim runs when asked (reclaimPages, like writing to
 * /sys/.../memory.reclaim or kswapd's pass) and as direct reclaim when a fault finds no free page.
 *
 * Locking: pages are isolated under the swap root lock; each page's mms are taken with a trylock
 * (the caller's own, `held`, is already held), as compaction's migratePage does; a page whose mms are
 * busy is left for later.
 */
import { PTE_ACCESSED } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { PageFlag } from '../types.ts';
import type { AddressSpace } from '../vm/mm-struct.ts';
import { MMF } from '../vm/mm-struct.ts';
import { entryPfn } from '../vm/page-table.ts';
import { VM_OWNER_ANON_THP } from '../vm/owners.ts';
import { splitHugePmd } from '../vm/thp.ts';
import { rmapAdd, rmapRemove, rmapWalk } from '../vm/rmap.ts';
import { HPAGE_PMD_NR, PAGE_SIZE, VM } from '../vm/types.ts';
import type { Vm } from '../vm/vm.ts';
import { SwapIoError } from './errors.ts';
import { UNEVICTABLE_TAGS, lruCounts, lruEnabled, lruIsolate, lruPutback } from './lru.ts';
import { sr } from './root.ts';
import { swpEntryHi, swpEntryLo } from './swp-entry.ts';
import { swapFree, swapSlotAlloc, swapWritable, swapWritePage } from './swapfile.ts';
import { LruList, SR, SWAP_CLUSTER_MAX } from './types.ts';

export interface ReclaimResult {
  /** Pages taken from the inactive list and looked at (pgscan_anon). */
  scanned: number;
  /** Pages written to swap and freed (pgsteal_anon). */
  reclaimed: number;
  /** Inactive pages moved to the active list (pgactivate). */
  activated: number;
  /** Active pages moved to the inactive list (pgdeactivate). */
  deactivated: number;
  /** Referenced once: kept on the inactive list for another trip. */
  kept: number;
  /** Tagged pages moved to the unevictable list. */
  culled: number;
  /** Pages left where they were: their mms were busy, or a mapping's VMA is VM_LOCKED, or a GUP reference holds them. */
  skipped: number;
  /** Pages that found no free slot (the device is full). */
  noSlot: number;
  /** THPs split into 4 KiB pages so that they can be swapped. */
  thpSplit: number;
}

/** Free pages a THP split in reclaim wants first: its 511 new rmap items take about 2 pages of slab. */
const THP_SPLIT_FREE_PAGES_MIN = 8;

const emptyResult = (): ReclaimResult => ({ scanned: 0, reclaimed: 0, activated: 0, deactivated: 0, kept: 0, culled: 0, skipped: 0, noSlot: 0, thpSplit: 0 });

/**
 * inactive_is_low for anonymous pages: the inactive list should hold at least 1/ratio of the two,
 * ratio = int_sqrt(10 × GiB of both lists), 1 below a GiB (mm/vmscan.c).
 */
export function inactiveIsLow(inactive: number, active: number): boolean {
  const gb = Math.floor(((inactive + active) * PAGE_SIZE) / 2 ** 30);
  const ratio = gb > 0 ? Math.floor(Math.sqrt(10 * gb)) : 1;
  return inactive * ratio < active;
}

/**
 * Reclaims up to nrPages anonymous pages to swap, in batches of at most SWAP_CLUSTER_MAX. Scans at
 * most twice the pages on the inactive and active lists, a THP's 4 KiB pages counted once it is split
 * (so a page referenced once gets its second chance, and is taken on the second look if it was not
 * used again). Nothing is scanned
 * while no swap device is on (Linux does not scan anonymous lists without swap space). A backing
 * that fails a write is a SwapIoError: the page stays mapped, and the pages isolated with it return.
 */
export function reclaimPages(vm: Vm, nrPages: number, held: AddressSpace | null = null): ReclaimResult {
  assert(Number.isInteger(nrPages) && nrPages >= 0, () => `reclaim of ${nrPages} pages: expected a non-negative integer`);
  const result = emptyResult();
  if (!lruEnabled(vm) || !swapWritable(vm)) return result;
  rescueUnevictable(vm, held);
  const start = lruCounts(vm);
  let maxScan = 2 * (start.inactive + start.active);
  for (let batch = 0; result.reclaimed < nrPages && result.scanned + result.deactivated < maxScan; batch++) {
    assert(batch <= maxScan, 'reclaim made no progress through its scan budget');
    const now = lruCounts(vm);
    if (now.inactive + now.active === 0) break;
    if (inactiveIsLow(now.inactive, now.active) || now.inactive === 0) shrinkActiveList(vm, SWAP_CLUSTER_MAX, held, result);
    const splits = result.thpSplit;
    shrinkInactiveList(vm, Math.min(SWAP_CLUSTER_MAX, nrPages - result.reclaimed), held, result);
    // A split THP adds 511 pages to the lists: the budget grows by their two looks.
    maxScan += 2 * (HPAGE_PMD_NR - 1) * (result.thpSplit - splits);
  }
  return result;
}

/** Direct reclaim from an allocation that found no free page (held: the faulting mm). Whether it freed any. */
export function directReclaim(vm: Vm, held: AddressSpace | null): boolean {
  if (!lruEnabled(vm) || !swapWritable(vm)) return false;
  vm.count('allocstall_movable');
  try {
    return reclaimPages(vm, SWAP_CLUSTER_MAX, held).reclaimed > 0;
  } catch (error) {
    // A failed write leaves everything as it was: the allocation fails as it would have.
    if (error instanceof SwapIoError) return false;
    throw error;
  }
}

/**
 * check_move_unevictable_folios: pages on the unevictable list whose tags are gone (munlock) go back
 * to the inactive list. A page still tagged Mlocked that no VM_LOCKED VMA maps any more (its locked
 * mapping went away while another, unlocked one stayed: a fork's child keeps the page after the
 * parent exits, since the child does not inherit VM_LOCKED) loses the tag here, which is what
 * Linux's mlock_count reaching zero at munmap does (counted as unevictable_pgs_munlocked); when a
 * mapper's mm is busy the page waits for the next pass. Bounded by the list's length.
 */
function rescueUnevictable(vm: Vm, held: AddressSpace | null): void {
  const n = sr(vm, SR.UNEVICTABLE_COUNT);
  if (n === 0) return;
  const flags = vm.memMap.flags;
  for (const pfn of lruIsolate(vm, LruList.Unevictable, n)) {
    if (((flags[pfn] as number) & (PageFlag.Mlocked | PageFlag.Sensitive)) === PageFlag.Mlocked) {
      const mms = lockMappers(vm, pfn, held);
      try {
        if (mms !== null && !mappedLocked(vm, pfn)) {
          flags[pfn] = (flags[pfn] as number) & ~PageFlag.Mlocked;
          vm.count('unevictable_pgs_munlocked');
        }
      } finally {
        unlockAll(mms);
      }
    }
    const tagged = ((flags[pfn] as number) & UNEVICTABLE_TAGS) !== 0;
    lruPutback(vm, pfn, tagged ? LruList.Unevictable : LruList.Inactive);
  }
}

/** shrink_active_list: up to n pages from the active tail to the inactive head, their accessed bits cleared. */
function shrinkActiveList(vm: Vm, n: number, held: AddressSpace | null, result: ReclaimResult): void {
  const pages = lruIsolate(vm, LruList.Active, n);
  vm.count('pgrefill', pages.length);
  for (const pfn of pages) {
    const mms = lockMappers(vm, pfn, held);
    try {
      if (mms !== null) referencedPtes(vm, pfn);
    } finally {
      unlockAll(mms);
    }
    vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) & ~PageFlag.Active;
    lruPutback(vm, pfn, LruList.Inactive);
    result.deactivated++;
    vm.count('pgdeactivate');
  }
}

/** shrink_inactive_list + shrink_folio_list for up to n pages from the inactive tail. */
function shrinkInactiveList(vm: Vm, n: number, held: AddressSpace | null, result: ReclaimResult): void {
  const pages = lruIsolate(vm, LruList.Inactive, n);
  vm.count('pgscan_anon', pages.length);
  result.scanned += pages.length;
  let i = 0;
  try {
    for (; i < pages.length; i++) {
      const pfn = pages[i] as number;
      lruPutback(vm, pfn, decide(vm, pfn, held, result));
    }
  } catch (error) {
    // pages[i] was put back by pageOut's failure path; the rest of the batch goes back untouched.
    for (let j = i + 1; j < pages.length; j++) lruPutback(vm, pages[j] as number, LruList.Inactive);
    throw error;
  }
}

/** One isolated inactive page: where it goes next (after pageOut, the putback frees it). */
function decide(vm: Vm, pfn: number, held: AddressSpace | null, result: ReclaimResult): LruList {
  const mem = vm.memMap;
  const mapcount = mem.mapcount[pfn] as number;
  if (mapcount === 0) return LruList.Inactive; // unmapped meanwhile: the putback frees or drops it
  if (((mem.flags[pfn] as number) & UNEVICTABLE_TAGS) !== 0) {
    result.culled++;
    return LruList.Unevictable;
  }
  // Reclaim's own reference is the one above the mappings; any other is a GUP or DMA pin.
  if ((mem.refcount[pfn] as number) > mapcount + 1) {
    result.skipped++;
    return LruList.Active;
  }
  const mms = lockMappers(vm, pfn, held);
  if (mms === null) {
    result.skipped++;
    return LruList.Inactive;
  }
  try {
    if (mappedLocked(vm, pfn)) {
      result.skipped++;
      return LruList.Active;
    }
    const refs = referencedPtes(vm, pfn);
    const referencedBefore = ((mem.flags[pfn] as number) & PageFlag.Referenced) !== 0;
    if (refs > 0) {
      mem.flags[pfn] = (mem.flags[pfn] as number) | PageFlag.Referenced;
      if (referencedBefore || refs > 1) {
        result.activated++;
        vm.count('pgactivate');
        return LruList.Active;
      }
      result.kept++;
      return LruList.Inactive;
    }
    mem.flags[pfn] = (mem.flags[pfn] as number) & ~PageFlag.Referenced;
    if (mem.owner[pfn] === VM_OWNER_ANON_THP) {
      // The split needs 511 more rmap items; with memory that short, leave the THP for later.
      if (vm.pages.freePagesTotal < THP_SPLIT_FREE_PAGES_MIN) {
        result.skipped++;
        return LruList.Active;
      }
      // split_folio before swapping: each 4 KiB page joins the inactive list, unreferenced, and is
      // taken as it comes (kmem maps a THP in one mm only: fork splits it first).
      let haddr = -1;
      let owner: AddressSpace | null = null;
      rmapWalk(vm, pfn, (mmPaddr, vaddr) => {
        owner = vm.wrap(mmPaddr);
        haddr = vaddr;
      });
      assert(owner !== null && haddr >= 0, () => `THP at pfn ${pfn} has no mapping to split`);
      splitHugePmd(owner, haddr);
      result.thpSplit++;
      return LruList.Inactive;
    }
    const slot = swapSlotAlloc(vm, mapcount);
    if (slot === 0) {
      result.noSlot++;
      result.activated++;
      vm.count('pgactivate');
      return LruList.Active;
    }
    pageOut(vm, pfn, slot);
    result.reclaimed++;
    return LruList.Inactive;
  } finally {
    unlockAll(mms);
  }
}

/** Whether some mapping of pfn lies in a VM_LOCKED VMA (try_to_unmap_one's mlock check). */
function mappedLocked(vm: Vm, pfn: number): boolean {
  let locked = false;
  rmapWalk(vm, pfn, (mmPaddr, vaddr) => {
    const vma = vm.wrap(mmPaddr).vmaContaining(vaddr);
    if (vma !== 0 && (vm.vmas.flags(vma) & VM.LOCKED) !== 0) locked = true;
  });
  return locked;
}

/** folio_referenced: how many mappings of pfn have the accessed bit set; clears each. */
function referencedPtes(vm: Vm, pfn: number): number {
  let refs = 0;
  rmapWalk(vm, pfn, (mmPaddr, vaddr) => {
    const slot = vm.tables.entry(vm.wrap(mmPaddr).pgdPfn, vaddr, 1, false);
    assert(slot >= 0 && entryPfn(vm.u[slot] as number) === pfn, () => `rmap of pfn ${pfn} names 0x${vaddr.toString(16)}, whose entry does not map it`);
    if (((vm.u[slot] as number) & PTE_ACCESSED) !== 0) {
      Atomics.and(vm.u, slot, ~PTE_ACCESSED >>> 0);
      refs++;
    }
  });
  return refs;
}

/**
 * try_to_unmap + swap_writepage: every mapping of pfn becomes a swap PTE naming `slot` (whose count
 * swapSlotAlloc set to the mappings), then the bytes go to the device. The caller holds every
 * mapping mm and one page reference; the putback after this frees the page. When the write fails
 * every mapping comes back as it was, the slot is freed, and a SwapIoError is thrown.
 */
function pageOut(vm: Vm, pfn: number, slot: number): void {
  const mem = vm.memMap;
  const type = sr(vm, SR.TYPE);
  const exclusive = (mem.flags[pfn] as number) & PageFlag.AnonExclusive;
  const mappings: { mm: AddressSpace; vaddr: number; pte: number; lo: number; hi: number }[] = [];
  rmapWalk(vm, pfn, (mmPaddr, vaddr) => {
    const mm = vm.wrap(mmPaddr);
    const pte = vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
    mappings.push({ mm, vaddr, pte, lo: vm.u[pte] as number, hi: vm.u[pte + 1] as number });
  });
  for (const m of mappings) {
    vm.u[m.pte + 1] = swpEntryHi(type);
    vm.u[m.pte] = swpEntryLo(slot);
    m.mm.addNum(MMF.SWAP_ENTS, 1);
    m.mm.countAnon(-1);
    const freed = rmapRemove(vm, pfn, m.mm.paddr, m.vaddr, 0);
    assert(!freed, () => `pfn ${pfn} was freed while reclaim held a reference`);
    vm.flushTlb(m.mm, m.vaddr, m.vaddr + PAGE_SIZE);
  }
  try {
    swapWritePage(vm, slot, pfn);
  } catch (error) {
    for (const m of mappings) {
      rmapAdd(vm, pfn, m.mm.paddr, m.vaddr);
      vm.u[m.pte + 1] = m.hi;
      vm.u[m.pte] = m.lo;
      m.mm.addNum(MMF.SWAP_ENTS, -1);
      m.mm.countAnon(1);
    }
    // rmapAdd counts the first mapping's reference as the allocation's; reclaim's own is still held.
    mem.refcount[pfn] = (mem.refcount[pfn] as number) + 1;
    mem.flags[pfn] = (mem.flags[pfn] as number) | exclusive;
    swapFree(vm, slot, mappings.length);
    lruPutback(vm, pfn, LruList.Active);
    throw error;
  }
  vm.count('pswpout');
  vm.count('pgsteal_anon');
}

/** Trylocks every mm that maps pfn (not `held`); null, with none kept, when one is busy. */
function lockMappers(vm: Vm, pfn: number, held: AddressSpace | null): AddressSpace[] | null {
  const mms: AddressSpace[] = [];
  rmapWalk(vm, pfn, (mmPaddr) => {
    const mm = vm.wrap(mmPaddr);
    if (mm !== held && !mms.includes(mm)) mms.push(mm);
  });
  const taken: AddressSpace[] = [];
  for (const mm of mms) {
    if (!mm.lock.tryAcquire()) {
      unlockAll(taken);
      return null;
    }
    taken.push(mm);
  }
  return taken;
}

function unlockAll(mms: AddressSpace[] | null): void {
  if (mms !== null) for (const mm of mms) mm.lock.release();
}

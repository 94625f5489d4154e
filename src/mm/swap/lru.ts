/**
 * The LRU lists of anonymous pages (Linux mm/swap.c folio_add_lru, lru_cache_add; mm/vmscan.c
 * isolate_lru_folios, folio_putback_lru; include/linux/mm_inline.h lruvec_add_folio). Three lists,
 * each doubly linked through mem_map.firstObject (next) and mem_map.prev (NO_PFN ends), head and tail
 * and length in the swap root (types.ts SR.*). firstObject is the slab's field, free on an anonymous
 * page; next is not, since a THP keeps its deposited page table there:
 *
 *   inactive_anon   a new page starts here (Linux since 5.9 puts new anonymous pages on the inactive
 *                   list, "mm/vmscan: protect the workingset on anonymous LRU"); reclaim takes from
 *                   its tail
 *   active_anon     pages referenced twice on the inactive list; aged back to inactive
 *   unevictable     pages tagged Mlocked or Sensitive (mlock, memfd_secret: secretmem's mapping is
 *                   unevictable in Linux); never scanned for reclaim
 *
 * Membership: with the LRU enabled (the first swapon), an order-0 anonymous page is on a list exactly
 * while it is mapped: rmapAdd adds it on its first mapping, rmapRemove takes it off with its last,
 * compaction moves its place to the new frame (lruMigrate), reclaim isolates it (off every list,
 * holding a page reference) while it works on it. A THP is on the lists by its first page; reclaim
 * splits it into 4 KiB pages before it swaps any of them (as shrink_folio_list splits a large folio).
 *
 * Locking: the swap root lock around every list change.
 */
import { assert } from '../../util/assert.ts';
import { NO_PFN, PageFlag } from '../types.ts';
import { releaseSensitivePage } from '../secret/release.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP } from '../vm/owners.ts';
import type { Vm } from '../vm/vm.ts';
import { setSr, sr, srWord, swapLock, swapRootPfn } from './root.ts';
import { indexListAdd, indexListDel, indexListReplace } from '../../util/index-list.ts';
import type { IndexLinks } from '../../util/index-list.ts';
import { LRU_HEAD, LruList } from './types.ts';

const LRU_FLAGS = PageFlag.Lru | PageFlag.Active | PageFlag.Unevictable;
/** Tags that keep a page off swap: Linux's folio_evictable (mlocked) and secretmem's unevictable mapping. */
export const UNEVICTABLE_TAGS = PageFlag.Mlocked | PageFlag.Sensitive;

/** Whether the LRU lists exist (swap was enabled once). */
export function lruEnabled(vm: Vm): boolean {
  return swapRootPfn(vm) !== 0;
}

/**
 * The pages on each LRU list, as /proc/meminfo's Inactive(anon), Active(anon) and Unevictable count
 * them (Linux's nr_inactive_anon & co. count a THP as its 512 pages, where the lists' length words
 * count entries). Before the first swapon the lists do not exist yet, but their membership is the
 * rule above: every mapped anonymous page, on the inactive list (nothing has been scanned, so
 * nothing activated) or, tagged, on the unevictable one; that is what is counted then.
 */
export function lruPages(vm: Vm): { inactive: number; active: number; unevictable: number } {
  const mem = vm.memMap;
  const pages = new Float64Array(3);
  if (lruEnabled(vm)) {
    for (let list = 0; list < LRU_HEAD.length; list++) {
      let n = 0;
      for (let pfn = sr(vm, LRU_HEAD[list] as number); pfn !== NO_PFN && n <= mem.nrPages; pfn = mem.firstObject[pfn] as number, n++) pages[list] = (pages[list] as number) + (1 << (mem.order[pfn] as number));
    }
  } else {
    for (let pfn = 0; pfn < mem.nrPages; pfn++) {
      if ((mem.mapcount[pfn] as number) === 0 || !isLruAnon(vm, pfn)) continue;
      const list = evictableList(vm, pfn, LruList.Inactive);
      pages[list] = (pages[list] as number) + (1 << (mem.order[pfn] as number));
    }
  }
  return { inactive: pages[LruList.Inactive] as number, active: pages[LruList.Active] as number, unevictable: pages[LruList.Unevictable] as number };
}

/** Which list a page on the LRU is on (by its flags). */
export function lruListOf(flags: number): LruList {
  if ((flags & PageFlag.Unevictable) !== 0) return LruList.Unevictable;
  return (flags & PageFlag.Active) !== 0 ? LruList.Active : LruList.Inactive;
}

function listFlags(list: LruList): number {
  return PageFlag.Lru | (list === LruList.Active ? PageFlag.Active : list === LruList.Unevictable ? PageFlag.Unevictable : 0);
}

const linksByMemMap = new WeakMap<object, IndexLinks>();

/** The LRU lists' links (index-list.ts): next in mem_map.firstObject, prev in mem_map.prev; one object per mem_map (a fault adds a page). */
function lruLinks(vm: Vm): IndexLinks {
  let links = linksByMemMap.get(vm.memMap);
  if (links === undefined) {
    links = { next: vm.memMap.firstObject, prev: vm.memMap.prev, name: 'LRU list' };
    linksByMemMap.set(vm.memMap, links);
  }
  return links;
}

/** Links pfn at the head of `list` (the lock held). */
function linkHead(vm: Vm, pfn: number, list: LruList): void {
  const mem = vm.memMap;
  indexListAdd(vm.w, srWord(vm, LRU_HEAD[list] as number), lruLinks(vm), pfn, false);
  mem.flags[pfn] = ((mem.flags[pfn] as number) & ~LRU_FLAGS) | listFlags(list);
}

/** Unlinks pfn from the list its flags name (the lock held). */
function unlink(vm: Vm, pfn: number): void {
  const mem = vm.memMap;
  indexListDel(vm.w, srWord(vm, LRU_HEAD[lruListOf(mem.flags[pfn] as number)] as number), lruLinks(vm), pfn);
  mem.firstObject[pfn] = NO_PFN;
  mem.prev[pfn] = NO_PFN;
  mem.flags[pfn] = (mem.flags[pfn] as number) & ~(LRU_FLAGS | PageFlag.Referenced);
}

/** The list a page should join now: unevictable when tagged, else `want`. */
function evictableList(vm: Vm, pfn: number, want: LruList): LruList {
  return ((vm.memMap.flags[pfn] as number) & UNEVICTABLE_TAGS) !== 0 ? LruList.Unevictable : want;
}

/** Whether pfn heads an anonymous page the LRU keeps: a 4 KiB page or a THP. */
export function isLruAnon(vm: Vm, pfn: number): boolean {
  const owner = vm.memMap.owner[pfn];
  return (owner === VM_OWNER_ANON || owner === VM_OWNER_ANON_THP) && ((vm.memMap.flags[pfn] as number) & PageFlag.Allocated) !== 0;
}

/** folio_add_lru: a newly mapped anonymous page (or THP) joins the inactive list (or unevictable). */
export function lruAdd(vm: Vm, pfn: number): void {
  if (!isLruAnon(vm, pfn) || ((vm.memMap.flags[pfn] as number) & PageFlag.Lru) !== 0) return;
  const lock = swapLock(vm);
  lock.acquire();
  try {
    linkHead(vm, pfn, evictableList(vm, pfn, LruList.Inactive));
  } finally {
    lock.release();
  }
}

/** Takes a page off its list when its last mapping goes (no-op for a page not on one). */
export function lruDel(vm: Vm, pfn: number): void {
  if (((vm.memMap.flags[pfn] as number) & PageFlag.Lru) === 0) return;
  const lock = swapLock(vm);
  lock.acquire();
  try {
    unlink(vm, pfn);
  } finally {
    lock.release();
  }
}

/**
 * A THP at pfn was split into nr pages (split_page copied the head's flags to every page): the head
 * keeps its place on the list, the others carry no list flags until their mappings add them.
 */
export function lruSplit(vm: Vm, pfn: number, nr: number): void {
  const flags = vm.memMap.flags;
  for (let p = pfn + 1; p < pfn + nr; p++) flags[p] = (flags[p] as number) & ~(LRU_FLAGS | PageFlag.Referenced);
}

/** Compaction moved a page from src to dst: dst takes src's place on its list. */
export function lruMigrate(vm: Vm, src: number, dst: number): void {
  const mem = vm.memMap;
  const f = mem.flags[src] as number;
  if ((f & PageFlag.Lru) === 0) return;
  const lock = swapLock(vm);
  lock.acquire();
  try {
    indexListReplace(vm.w, srWord(vm, LRU_HEAD[lruListOf(f)] as number), lruLinks(vm), src, dst);
    mem.flags[dst] = ((mem.flags[dst] as number) & ~(LRU_FLAGS | PageFlag.Referenced)) | (f & (LRU_FLAGS | PageFlag.Referenced));
    mem.flags[src] = f & ~(LRU_FLAGS | PageFlag.Referenced);
    mem.firstObject[src] = NO_PFN;
    mem.prev[src] = NO_PFN;
  } finally {
    lock.release();
  }
}

/**
 * isolate_lru_folios: up to n pages from the tail of `list`, off the list, each holding one more
 * page reference (so an unmap meanwhile cannot free it under reclaim). Their Active flag is kept.
 */
export function lruIsolate(vm: Vm, list: LruList, n: number): number[] {
  const mem = vm.memMap;
  const out: number[] = [];
  const lock = swapLock(vm);
  lock.acquire();
  try {
    const h = LRU_HEAD[list] as number;
    for (let pfn = sr(vm, h + 1); pfn !== NO_PFN && out.length < n; pfn = sr(vm, h + 1)) {
      const referenced = (mem.flags[pfn] as number) & PageFlag.Referenced;
      unlink(vm, pfn);
      mem.flags[pfn] = (mem.flags[pfn] as number) | referenced | (list === LruList.Active ? PageFlag.Active : 0);
      mem.refcount[pfn] = (mem.refcount[pfn] as number) + 1;
      out.push(pfn);
    }
  } finally {
    lock.release();
  }
  return out;
}

/**
 * folio_putback_lru: an isolated page goes back to the head of `list` (unevictable instead when it
 * is tagged) and drops reclaim's reference. A page whose last mapping went while it was isolated is
 * freed here, wiped first if it held a secret (the last reference's job, as in rmapRemove).
 */
export function lruPutback(vm: Vm, pfn: number, list: LruList): void {
  const mem = vm.memMap;
  const refcount = (mem.refcount[pfn] as number) - 1;
  assert(refcount >= 0, () => `pfn ${pfn}: putback of an isolated page without its reference`);
  mem.refcount[pfn] = refcount;
  if (refcount === 0) {
    assert(mem.mapcount[pfn] === 0, () => `pfn ${pfn} lost its last reference while mapped ${mem.mapcount[pfn]} times`);
    mem.flags[pfn] = (mem.flags[pfn] as number) & ~(LRU_FLAGS | PageFlag.Referenced | PageFlag.AnonExclusive);
    if (((mem.flags[pfn] as number) & PageFlag.Sensitive) !== 0) releaseSensitivePage(vm, pfn);
    vm.pages.freePages(pfn, 0, mem.owner[pfn] as number);
    return;
  }
  if ((mem.mapcount[pfn] as number) === 0 || ((mem.flags[pfn] as number) & PageFlag.Lru) !== 0) {
    // Unmapped (a GUP reference keeps it) or already back on a list by a new mapping: nothing to link.
    if ((mem.mapcount[pfn] as number) === 0) mem.flags[pfn] = (mem.flags[pfn] as number) & ~(PageFlag.Active | PageFlag.Referenced);
    return;
  }
  const lock = swapLock(vm);
  lock.acquire();
  try {
    const referenced = (mem.flags[pfn] as number) & PageFlag.Referenced;
    linkHead(vm, pfn, evictableList(vm, pfn, list));
    mem.flags[pfn] = (mem.flags[pfn] as number) | referenced;
  } finally {
    lock.release();
  }
}

/**
 * The first swapon: the lists start empty (NO_PFN heads: the root page is zeroed, and 0 is a pfn) and every
 * mapped anonymous page (a THP by its first page) joins the inactive list (or the unevictable one), in pfn order.
 * Called with the Vm root lock held, once.
 */
export function lruEnable(vm: Vm): void {
  for (const h of LRU_HEAD) {
    setSr(vm, h, NO_PFN);
    setSr(vm, h + 1, NO_PFN);
    setSr(vm, h + 2, 0);
  }
  const mem = vm.memMap;
  for (let pfn = 0; pfn < mem.nrPages; pfn++) {
    if (!isLruAnon(vm, pfn) || (mem.mapcount[pfn] as number) === 0) continue;
    linkHead(vm, pfn, evictableList(vm, pfn, LruList.Inactive));
  }
}

/** The length word of each list. */
export function lruCounts(vm: Vm): { inactive: number; active: number; unevictable: number } {
  const len = (list: LruList): number => sr(vm, (LRU_HEAD[list] as number) + 2);
  return { inactive: len(LruList.Inactive), active: len(LruList.Active), unevictable: len(LruList.Unevictable) };
}

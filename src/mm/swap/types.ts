/**
 * Swap (mm/swap/): a swap device for anonymous pages, the LRU lists reclaim scans, swap entries in
 * page-table entries, and swap-in on fault. Read this file first. The Linux counterparts:
 * mm/swapfile.c (swap_info_struct, swap_map, swap_duplicate, swap_free), mm/vmscan.c
 * (shrink_active_list, shrink_inactive_list, shrink_folio_list, folio_check_references), mm/rmap.c
 * (folio_referenced, try_to_unmap), mm/memory.c (do_swap_page, copy_nonpresent_pte, zap_pte_range),
 * mm/page_io.c (swap_writepage, swap_read_folio).
 *
 * Where the state lives:
 *
 *   the swap root        one buddy page (owner VM_OWNER_SWAP), its pfn in the Vm root's word
 *                          SWAP_ROOT_WORD (0 = swap and the LRU were never enabled); i32 words SR.*:
 *                          the lock, the device (swap_info_struct: state, slots, pages in use, the
 *                          swap_map block, the next slot to try) and the three LRU lists (head, tail,
 *                          length each)
 *   swap_map             a buddy block of u16 counts, one per slot: 0 free, n > 0 the number of swap
 *                          PTEs naming the slot, SWAP_MAP_BAD for slot 0 (the header page). Linux keeps
 *                          one byte per slot with SWAP_MAP_MAX = 0x3e and continuation pages above it;
 *                          kmem keeps 16 bits and no continuation, so a slot holds up to SWAP_COUNT_MAX
 *   the LRU lists        doubly linked through mem_map.firstObject / prev of each anonymous page (as
 *                          Linux links folio->lru), with PageFlag.Lru / Active / Unevictable / Referenced
 *                          in its flags (PG_lru, PG_active, PG_unevictable, PG_referenced)
 *   a swap PTE           a level-1 entry with P and _PAGE_PROTNONE clear and not zero (swp-entry.ts)
 *   the slots' bytes     the backing (backing.ts): a host buffer or a file, host-side
 *
 * Invariants (validateSwap, run by Vm.validate):
 *   swap_map[s] = the number of swap PTEs, over every mm, that name slot s (s ≥ 1); swap_map[0] = BAD
 *   inuse = |{s ≥ 1 : swap_map[s] > 0}| ≤ slots − 1
 *   Σ over mms of mm.swapents = the number of swap PTEs = Σ_s swap_map[s]
 *   with the LRU enabled: an allocated anonymous page or THP p is on exactly one list ⇔ mapcount[p] > 0,
 *     the list its Active / Unevictable flags name; each list's length word counts its pages, and its
 *     links run both ways from head to tail
 *   no page tagged Sensitive or Mlocked, nor one mapped in a VM_LOCKED VMA, is ever written to a slot
 *     (vmscan.ts checks before writing; the secrets sweep checks the backing's bytes)
 *
 * Lock order: an mm's mmap_lock (taken with a trylock by reclaim, or held by the caller) → the swap
 * root lock (SR.LOCK: the device and the LRU lists, never held across a call that takes another lock)
 * → the zone and slab locks. Reclaim isolates pages from the LRU under the root lock and works on
 * them without it, holding one page reference each (as isolate_lru_folios does).
 *
 * Host-side state: the backing object (the swapped bytes, as a disk holds them; another worker must
 * attach the same backing with swapAttach before it faults swapped pages in) and statistics in the
 * arena's counters. Losing the wrappers loses nothing the arena does not also hold.
 */
import { VM_OWNER_BASE } from '../vm/owners.ts';

/** The Vm root page's word holding the swap root's pfn (vm.ts ROOT.SWAP_ROOT). */
export const SWAP_ROOT_WORD = 22;

/** page_owner tag of the swap root page and of the swap_map block. */
export const VM_OWNER_SWAP = VM_OWNER_BASE + 8;

/** i32 words of the swap root page. */
export const SR = {
  LOCK: 0,
  /** 1 while a device is on (SWP_USED | SWP_WRITEOK), 0 when none is. */
  DEVICE_ON: 1,
  /** Slots of the device, the header slot 0 included (swap_info_struct.max). */
  SLOTS: 2,
  /** Slots with a count (inuse_pages). */
  INUSE: 3,
  MAP_PFN: 4,
  MAP_ORDER: 5,
  /** Where the next slot search starts (cluster_next). */
  NEXT_SLOT: 6,
  /** The device's type in swap entries (its index in swap_info[]); kmem has one device. */
  TYPE: 7,
  INACTIVE_HEAD: 16,
  INACTIVE_TAIL: 17,
  INACTIVE_COUNT: 18,
  ACTIVE_HEAD: 19,
  ACTIVE_TAIL: 20,
  ACTIVE_COUNT: 21,
  UNEVICTABLE_HEAD: 22,
  UNEVICTABLE_TAIL: 23,
  UNEVICTABLE_COUNT: 24,
} as const;

/** The three anonymous LRU lists (Linux's LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_UNEVICTABLE). */
export const LruList = { Inactive: 0, Active: 1, Unevictable: 2 } as const;
export type LruList = (typeof LruList)[keyof typeof LruList];
export const LRU_NAMES: readonly string[] = ['inactive_anon', 'active_anon', 'unevictable'];
/** Each list's head word in the swap root; its tail and length follow. */
export const LRU_HEAD: readonly number[] = [SR.INACTIVE_HEAD, SR.ACTIVE_HEAD, SR.UNEVICTABLE_HEAD];

/** swap_map's value for a slot that is never used: slot 0 holds the header (Linux's SWAP_MAP_BAD is 0x3f in a byte map). */
export const SWAP_MAP_BAD = 0xffff;
/** The most swap PTEs one slot may have (kmem's 16-bit counts; Linux: SWAP_MAP_MAX 0x3e plus continuation pages). */
export const SWAP_COUNT_MAX = 0xfffe;
/** The most slots a device may have: the offset field of a kmem swap PTE is 23 bits wide (swp-entry.ts). */
export const SWAP_SLOTS_MAX = 1 << 23;

/**
 * Pages reclaim isolates from a list at a time (SWAP_CLUSTER_MAX in include/linux/swap.h is 32).
 */
export const SWAP_CLUSTER_MAX = 32;

/**
 * The mkswap header in slot 0 (include/linux/swap.h, union swap_header): 1024 boot bytes, then
 * u32 version (1), u32 last_page, u32 nr_badpages, 16 bytes sws_uuid, 16 bytes sws_volume, and the
 * magic "SWAPSPACE2" in the page's last 10 bytes.
 */
export const SWAP_HEADER = {
  VERSION_BYTE: 1024,
  LAST_PAGE_BYTE: 1028,
  NR_BADPAGES_BYTE: 1032,
  UUID_BYTE: 1036,
  VOLUME_BYTE: 1052,
  MAGIC: 'SWAPSPACE2',
  VERSION: 1,
} as const;

export interface SwapStats {
  /** Whether a device is on. */
  on: boolean;
  /** Pages a device can hold (its slots less the header), as SwapTotal counts them. */
  totalPages: number;
  /** Slots free (SwapFree / 4 KiB). */
  freePages: number;
  /** Slots with a count. */
  usedPages: number;
  /** Swap PTEs over every mm (Σ swap_map). */
  swapEntries: number;
  lru: { inactive: number; active: number; unevictable: number };
  /** vmstat: pages written to and read from the device. */
  pswpout: number;
  pswpin: number;
}

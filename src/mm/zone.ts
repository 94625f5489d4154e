/**
 * Zones and their free areas (Linux's struct zone and struct free_area), in the arena.
 *
 * Each zone's descriptor is ZONE_WORDS 32-bit words:
 *   [0] lock   [1] start pfn   [2] spanned pages   [3] managed pages   [4] free pages
 *   [5] lowmem reserve: pages this zone keeps from allocations that prefer a higher zone
 *   [16 + 3·(order·MIGRATE_TYPES + mt) + {0,1,2}] head pfn, tail pfn, block count of the
 *       free list of (order, mt); NO_PFN ends a list, links go through mem_map.next / .prev
 * and ZONE_STATS event counters (f64, so they never wrap) in a second region, and the lock's
 * contention statistics (LOCK_STAT_COUNT f64, sync/lock-stats.ts) in a third, 'zones.lockstat'.
 *
 * Invariants (checked by PageAllocator.validate()):
 *   free = Σ count(order, mt) · 2^order
 *   a list's blocks are Buddy heads of its order, linked both ways, count of them exactly
 * Locking: every list operation and every count is under the zone's lock. The list operations
 * (addFree, delFree) are module functions, not methods, so no holder of a Zone can call them.
 */
import { indexListAdd, indexListDel } from '../util/index-list.ts';
import type { IndexLinks } from '../util/index-list.ts';
import type { LockStatsRecord } from '../sync/lock-stats.ts';
import { LockWord, type LockOwner } from '../sync/lock-word.ts';
import { assert } from '../util/assert.ts';
import { InvariantError } from '../util/errors.ts';
import type { MemMap } from './mem-map.ts';
import { MIGRATE_TYPES, NO_PFN, NR_PAGE_ORDERS, PageFlag, ZONE_NAMES } from './types.ts';

export const Z = {
  LOCK: 0,
  START_PFN: 1,
  SPANNED: 2,
  MANAGED: 3,
  FREE: 4,
  LOWMEM_RESERVE: 5,
  LISTS: 16,
} as const;
export const ZONE_WORDS = Z.LISTS + 3 * NR_PAGE_ORDERS * MIGRATE_TYPES;

/** Event counters per zone, as in /proc/vmstat. */
export const ZoneStat = {
  allocBlocks: 0,
  allocPages: 1,
  freeBlocks: 2,
  freePages: 3,
  allocFailures: 4,
  fallbacks: 5,
  pageblockClaims: 6,
  splits: 7,
  merges: 8,
} as const;
export type ZoneStatName = keyof typeof ZoneStat;
export const ZONE_STATS = Object.keys(ZoneStat).length;

interface ZoneLinks extends IndexLinks {
  readonly flags: Uint32Array;
  readonly order: Uint8Array;
}

let linksOf: (zone: Zone) => ZoneLinks;

function listFail(op: string, pfn: number, order: number, mt: number, flags: number): never {
  throw new InvariantError(`zone ${op}: block at pfn ${pfn} (order ${order}, type ${mt}) has flags 0x${flags.toString(16)}; expected ${op === 'addFree' ? 'a block on no list' : 'a Buddy block of that order'}`);
}

export class Zone {
  readonly name: string;
  readonly startPfn: number;
  readonly spannedPages: number;
  /** One past the last pfn. */
  readonly endPfn: number;
  #lock: LockWord;
  /** The struct-page arrays its lists link through (host-side views; one object, built once). */
  readonly #links: ZoneLinks;

  static {
    linksOf = (zone) => zone.#links;
  }

  constructor(
    readonly id: number,
    /** @internal The zone's descriptor words in the arena. */
    readonly words: Int32Array,
    readonly stats: Float64Array,
    memMap: MemMap,
    lockStats: LockStatsRecord | null = null,
  ) {
    assert(words.length === ZONE_WORDS, 'zone descriptor size');
    this.name = ZONE_NAMES[id] ?? `zone${id}`;
    this.startPfn = words[Z.START_PFN] ?? 0;
    this.spannedPages = words[Z.SPANNED] ?? 0;
    this.endPfn = this.startPfn + this.spannedPages;
    this.#lock = new LockWord(words, Z.LOCK, undefined, lockStats);
    this.#links = { flags: memMap.flags, order: memMap.order, next: memMap.next, prev: memMap.prev, name: `zone ${this.name} free list` };
  }

  /** @internal The zone's lock (every list operation and count is under it). */
  get lock(): LockWord {
    return this.#lock;
  }

  /**
   * @internal The kernel's CPU slots name the lock's holders, so that a lock a worker died holding
   * is taken over by the next thread that wants it, which runs `repair` first (the holder may have
   * stopped half-way through a list operation: page-alloc-repair.ts).
   */
  adoptLockOwner(owner: LockOwner, repair: () => void): void {
    this.#lock = new LockWord(this.words, Z.LOCK, owner, this.#lock.stats, repair);
  }

  get freePages(): number {
    return this.words[Z.FREE] ?? 0;
  }

  get managedPages(): number {
    return this.words[Z.MANAGED] ?? 0;
  }

  get lowmemReserve(): number {
    return this.words[Z.LOWMEM_RESERVE] ?? 0;
  }

  contains(pfn: number): boolean {
    return pfn >= this.startPfn && pfn < this.endPfn;
  }

  listHead(order: number, mt: number): number {
    return this.words[Z.LISTS + 3 * (order * MIGRATE_TYPES + mt)] ?? NO_PFN;
  }

  listTail(order: number, mt: number): number {
    return this.words[Z.LISTS + 3 * (order * MIGRATE_TYPES + mt) + 1] ?? NO_PFN;
  }

  listCount(order: number, mt: number): number {
    return this.words[Z.LISTS + 3 * (order * MIGRATE_TYPES + mt) + 2] ?? 0;
  }

  /** Free blocks of `order`, all migratetypes (Linux's free_area[order].nr_free). */
  nrFree(order: number): number {
    let total = 0;
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) total += this.listCount(order, mt);
    return total;
  }

  /** @internal Adds to an event counter; `stat` is a ZoneStat index (a constant, so the access stays monomorphic). */
  count(stat: number, by = 1): void {
    this.stats[stat] = (this.stats[stat] as number) + by;
  }

  stat(name: ZoneStatName): number {
    return this.stats[ZoneStat[name]] as number;
  }
}

/**
 * Puts a free block on its zone's list, at the head or (when a merge is likely soon) the tail. Zone
 * lock held. A module function, not a Zone method: kmem's public API cannot list a block.
 */
export function addFree(zone: Zone, pfn: number, order: number, mt: number, toTail: boolean): void {
  const w = zone.words;
  const links = linksOf(zone);
  const base = Z.LISTS + 3 * (order * MIGRATE_TYPES + mt);
  // Internal tier (always on, one load): a block goes on a list only when it is on none.
  if (((links.flags[pfn] as number) & (PageFlag.Buddy | PageFlag.Pcp)) !== 0) listFail('addFree', pfn, order, mt, links.flags[pfn] as number);
  links.flags[pfn] = ((links.flags[pfn] as number) | PageFlag.Buddy) & ~PageFlag.Allocated;
  links.order[pfn] = order;
  indexListAdd(w, base, links, pfn, toTail);
  w[Z.FREE] = (w[Z.FREE] as number) + (1 << order);
}

/** Empties every free list of the zone and zeroes its free count (repairZone rebuilds them). Zone lock held. */
export function resetFreeLists(zone: Zone): void {
  const w = zone.words;
  for (let list = 0; list < NR_PAGE_ORDERS * MIGRATE_TYPES; list++) {
    const base = Z.LISTS + 3 * list;
    w[base] = NO_PFN;
    w[base + 1] = NO_PFN;
    w[base + 2] = 0;
  }
  w[Z.FREE] = 0;
}

/** Takes a free block off its zone's list. Zone lock held. */
export function delFree(zone: Zone, pfn: number, order: number, mt: number): void {
  const w = zone.words;
  const links = linksOf(zone);
  const base = Z.LISTS + 3 * (order * MIGRATE_TYPES + mt);
  // Internal tier: only a listed block of this order comes off a list (and, in indexListDel, only
  // from where its links say).
  if (((links.flags[pfn] as number) & PageFlag.Buddy) === 0 || links.order[pfn] !== order) listFail('delFree', pfn, order, mt, links.flags[pfn] as number);
  indexListDel(w, base, links, pfn);
  links.flags[pfn] = (links.flags[pfn] as number) & ~PageFlag.Buddy;
  w[Z.FREE] = (w[Z.FREE] as number) - (1 << order);
}

/**
 * SlabAllocator.validate(): walks every cache's slabs, free lists, depot and per-CPU magazines, and
 * checks every invariant of types.ts. Every object must be in exactly one place (a slab free list,
 * a magazine, or with its user), every slab on the list its in-use count says, every slab page
 * marked as the cache's, every free object's red zones and poison intact. Read other CPUs'
 * magazines only when workers are quiescent: their fast paths take no lock.
 */
import { InvariantError } from '../../util/errors.ts';
import { PAGE_SIZE, PageFlag } from '../types.ts';
import type { SlabAllocator } from './allocator.ts';
import { listWalk } from '../../util/arena-list.ts';
import { SLAB_LIST_LINKS } from './context.ts';
import type { CacheContext } from './context.ts';
import { FREE_MARK } from './alloc-state.ts';
import { checkObject } from './debug.ts';
import { SLAB_LISTS } from './slab-layer.ts';
import {
  C_DEPOT_EMPTY,
  C_DEPOT_FULL,
  C_FREE_IN_SLABS,
  C_NR_DEPOT_EMPTY,
  C_NR_DEPOT_FULL,
  C_EMPTY,
  C_FULL,
  C_PARTIAL,
  D_CACHE,
  D_INUSE,
  D_OBJS,
  D_SMEM,
  P_LOADED,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
  SLAB_INDEX_MASK,
  SLAB_OWNER_FALLBACK,
  isSlabOwner,
} from './types.ts';

function fail(cache: string, message: string): never {
  throw new InvariantError(`slab cache ${cache}: ${message}`);
}

const LIST_NAMES: Record<number, string> = { [C_PARTIAL]: 'partial', [C_FULL]: 'full', [C_EMPTY]: 'empty' };

export function validateSlab(slab: SlabAllocator, caches: readonly CacheContext[]): void {
  const mm = slab.memMap;
  const slabPages = new Uint8Array(mm.nrPages);
  for (const cache of caches) {
    cache.depotLock.acquire();
    cache.slabLock.acquire();
    try {
      validateCache(slab, cache, slabPages);
    } finally {
      cache.slabLock.release();
      cache.depotLock.release();
    }
  }
  for (let pfn = 0; pfn < mm.nrPages; pfn++) {
    const owner = mm.owner[pfn] as number;
    if (isSlabOwner(owner) && slabPages[pfn] === 0) {
      throw new InvariantError(`slab: pfn ${pfn} is marked as a page of cache slot ${owner & SLAB_INDEX_MASK} but no slab of that cache holds it`);
    }
  }
}

function validateCache(slab: SlabAllocator, cache: CacheContext, slabPages: Uint8Array): void {
  const w = cache.w;
  const mm = slab.memMap;
  const name = cache.name;
  /** Every free object seen, so that none is in two places. */
  const seen = new Set<number>();
  /** Every object whose state bit says free: each must have been seen on a free list or in a magazine. */
  const marked: number[] = [];
  let freeInSlabs = 0;
  /** A free object on a slab free list or (`round`) in a magazine: lazy rounds keep their bit and carry the mark (alloc-state.ts). */
  const checkFreeObject = (addr: number, where: string, round: boolean): void => {
    if (cache.objectStartError(addr) !== null) fail(name, `${where}: 0x${addr.toString(16)} is not an object of this cache`);
    if (seen.has(addr)) fail(name, `${where}: object 0x${addr.toString(16)} is free in two places`);
    seen.add(addr);
    if (round && cache.lazy) {
      if (!cache.state.isAllocated(addr)) fail(name, `${where}: round 0x${addr.toString(16)} has its state bit clear (lazy state keeps it set)`);
      if (w[(addr >>> 2) + cache.markWord] !== (addr ^ FREE_MARK)) fail(name, `${where}: round 0x${addr.toString(16)} has lost its free mark (written after it was freed?)`);
    } else if (cache.state.isAllocated(addr)) {
      fail(name, `${where}: free object 0x${addr.toString(16)} is marked allocated`);
    } else if (cache.lazy && !cache.markIsLink && w[(addr >>> 2) + cache.markWord] !== (addr ^ FREE_MARK)) {
      fail(name, `${where}: free object 0x${addr.toString(16)} has lost its free mark (written after it was freed?)`);
    }
    if (cache.debug) checkObject(cache, addr, false);
  };

  for (const list of SLAB_LISTS) {
    // The walk checks the links and the length word (arena-list.ts); the visit checks each slab.
    cache.listCheck(list);
    listWalk(w, cache.base + list, SLAB_LIST_LINKS, mm.nrPages, (desc) => {
      const where = `${LIST_NAMES[list]} slab 0x${desc.toString(16)}`;
      if (w[cache.d(desc, D_CACHE)] !== cache.tag) fail(name, `${where}: descriptor names another cache`);
      if (cache.listFor(desc) !== list) fail(name, `${where}: in-use count ${w[cache.d(desc, D_INUSE)]} belongs on another list`);
      const { pfn, order } = cache.slabPages(desc);
      if (((mm.flags[pfn] as number) & (PageFlag.Allocated | PageFlag.Slab)) !== (PageFlag.Allocated | PageFlag.Slab) || mm.order[pfn] !== order) {
        fail(name, `${where}: its pages at pfn ${pfn} are not an allocated slab block of order ${order}`);
      }
      for (let p = pfn; p < pfn + (1 << order); p++) {
        const tag = order === cache.order ? cache.tag : cache.tag | SLAB_OWNER_FALLBACK;
        if (mm.owner[p] !== tag || (mm.private[p] as number) >>> 0 !== desc || (mm.firstObject[p] as number) >>> 0 !== ((w[cache.d(desc, D_SMEM)] as number) >>> 0)) {
          fail(name, `${where}: page ${p} is not marked as this slab's`);
        }
        if (slabPages[p] !== 0) fail(name, `${where}: page ${p} belongs to two slabs`);
        slabPages[p] = 1;
      }
      const smem = (w[cache.d(desc, D_SMEM)] as number) >>> 0;
      const objs = w[cache.d(desc, D_OBJS)] as number;
      // Slot i is [smem − left red zone + i · size, … + size): the left red zone comes first.
      const slots = smem - cache.redLeftPad;
      if (slots < pfn * PAGE_SIZE || slots + objs * cache.size > (pfn + (1 << order)) * PAGE_SIZE) fail(name, `${where}: objects overrun the slab`);
      let free = 0;
      for (const obj of cache.freeObjects(desc)) {
        free++;
        if (cache.descOf(obj) !== desc) fail(name, `${where}: free list reaches 0x${obj.toString(16)} in another slab`);
        checkFreeObject(obj, `${where} free list`, false);
      }
      if (free !== objs - (w[cache.d(desc, D_INUSE)] as number)) fail(name, `${where}: ${free} free objects, in-use count says ${objs - (w[cache.d(desc, D_INUSE)] as number)}`);
      freeInSlabs += free;
      for (let i = 0; i < objs; i++) {
        const obj = smem + i * cache.size;
        if (!cache.state.isAllocated(obj)) marked.push(obj);
      }
    });
  }
  if (freeInSlabs !== cache.word(C_FREE_IN_SLABS)) fail(name, `slab free lists hold ${freeInSlabs} objects, the cache counts ${cache.word(C_FREE_IN_SLABS)}`);

  const magazineRounds = (mag: number, rounds: number, where: string): void => {
    if (rounds < 0 || rounds > cache.rounds) fail(name, `${where}: ${rounds} rounds in a magazine of ${cache.rounds}`);
    for (let i = 0; i < rounds; i++) checkFreeObject((w[(mag >>> 2) + 1 + i] as number) >>> 0, where, true);
  };
  for (const [list, countWord, full] of [
    [C_DEPOT_FULL, C_NR_DEPOT_FULL, true],
    [C_DEPOT_EMPTY, C_NR_DEPOT_EMPTY, false],
  ] as const) {
    let count = 0;
    for (let mag = cache.word(list) >>> 0; mag !== 0; mag = (w[mag >>> 2] as number) >>> 0) {
      if (count++ > mm.nrPages * 1024) fail(name, 'depot list does not end');
      if (full) magazineRounds(mag, cache.rounds, 'depot full magazine');
    }
    if (count !== cache.word(countWord)) fail(name, `depot ${full ? 'full' : 'empty'} list holds ${count} magazines, its count says ${cache.word(countWord)}`);
  }
  for (let cpu = 0; cpu < slab.cpus; cpu++) {
    const p = slab.pcpuWord(cache.index, cpu);
    for (const [magWord, roundsWord, label] of [
      [P_LOADED, P_ROUNDS, 'loaded'],
      [P_PREV, P_PREV_ROUNDS, 'previous'],
    ] as const) {
      const mag = (w[p + magWord] as number) >>> 0;
      const rounds = w[p + roundsWord] as number;
      if ((mag === 0) !== (rounds === -1)) fail(name, `CPU ${cpu} ${label} magazine 0x${mag.toString(16)} with ${rounds} rounds`);
      if (mag === 0) continue;
      if (label === 'previous' && rounds !== 0 && rounds !== cache.rounds) fail(name, `CPU ${cpu} previous magazine holds ${rounds} rounds: expected full or empty`);
      magazineRounds(mag, rounds, `CPU ${cpu} ${label} magazine`);
    }
  }
  for (const obj of marked) {
    if (!seen.has(obj)) fail(name, `object 0x${obj.toString(16)} is marked free but is on no free list and in no magazine (lost)`);
  }
}

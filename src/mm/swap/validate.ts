/**
 * validateSwap (run by Vm.validate, which walks the page tables and hands over the swap PTEs it
 * found) and swapStats: the invariants of types.ts.
 */
import { assert } from '../../util/assert.ts';
import { NO_PFN, PAGE_SIZE, PageFlag } from '../types.ts';
import type { AddressSpace } from '../vm/mm-struct.ts';
import type { Vm } from '../vm/vm.ts';
import { isLruAnon, lruCounts, lruListOf } from './lru.ts';
import { sr, swapRootPfn } from './root.ts';
import { swpOffset, swpType } from './swp-entry.ts';
import { swapMap, swapOn } from './swapfile.ts';
import { LRU_HEAD, LRU_NAMES, SR, SWAP_MAP_BAD, SWAP_SLOTS_MAX } from './types.ts';
import type { SwapStats } from './types.ts';

/** Counts one swap PTE (its low and high words) into refs, keyed by type and slot. */
export function noteSwapPte(refs: Map<number, number>, lo: number, hi: number): void {
  const key = swpType(hi) * SWAP_SLOTS_MAX + swpOffset(lo);
  refs.set(key, (refs.get(key) ?? 0) + 1);
}

export function validateSwap(vm: Vm, refs: Map<number, number>, mms: readonly AddressSpace[]): void {
  let ptes = 0;
  for (const n of refs.values()) ptes += n;
  let swapents = 0;
  for (const mm of mms) swapents += mm.swapEntries;
  assert(swapents === ptes, () => `Σ MM_SWAPENTS ${swapents}, expected the ${ptes} swap PTEs`);
  if (swapRootPfn(vm) === 0) {
    assert(ptes === 0, () => `${ptes} swap PTEs, but swap was never enabled`);
    return;
  }
  validateLru(vm);
  if (!swapOn(vm)) {
    assert(ptes === 0, () => `${ptes} swap PTEs while no swap device is on`);
    return;
  }
  const map = swapMap(vm);
  const type = sr(vm, SR.TYPE);
  assert(map[0] === SWAP_MAP_BAD, () => `swap_map[0] is ${map[0]}: expected the header slot marked bad`);
  for (const key of refs.keys()) {
    const t = Math.floor(key / SWAP_SLOTS_MAX);
    const s = key % SWAP_SLOTS_MAX;
    assert(t === type && s >= 1 && s < map.length, () => `a swap PTE names type ${t} slot ${s}: expected type ${type} and a slot in [1, ${map.length})`);
  }
  let inuse = 0;
  for (let s = 1; s < map.length; s++) {
    const c = map[s] as number;
    const want = refs.get(type * SWAP_SLOTS_MAX + s) ?? 0;
    assert(c === want, () => `swap_map[${s}] = ${c}: expected the ${want} swap PTEs that name slot ${s}`);
    if (c > 0) inuse++;
  }
  assert(inuse === sr(vm, SR.INUSE), () => `swap device: ${inuse} slots in use, inuse_pages says ${sr(vm, SR.INUSE)}`);
}

/** Each list runs both ways with its length; a page is on one list ⇔ it is a mapped order-0 anonymous page. */
function validateLru(vm: Vm): void {
  const mem = vm.memMap;
  const onList = new Uint8Array(mem.nrPages);
  for (let list = 0; list < LRU_HEAD.length; list++) {
    const h = LRU_HEAD[list] as number;
    const name = LRU_NAMES[list] as string;
    let prev = NO_PFN;
    let n = 0;
    for (let pfn = sr(vm, h); pfn !== NO_PFN; pfn = mem.firstObject[pfn] as number) {
      assert(n < mem.nrPages && pfn >= 0 && pfn < mem.nrPages && onList[pfn] === 0, () => `LRU list ${name} does not end, or holds pfn ${pfn} twice`);
      onList[pfn] = 1;
      const f = mem.flags[pfn] as number;
      assert((f & PageFlag.Lru) !== 0 && lruListOf(f) === list, () => `pfn ${pfn} is on LRU list ${name} but its flags (0x${f.toString(16)}) name another`);
      assert(mem.prev[pfn] === prev, () => `pfn ${pfn} on LRU list ${name}: prev ${mem.prev[pfn]}, expected ${prev}`);
      prev = pfn;
      n++;
    }
    assert(sr(vm, h + 1) === prev, () => `LRU list ${name}: tail ${sr(vm, h + 1)}, expected ${prev}`);
    assert(sr(vm, h + 2) === n, () => `LRU list ${name}: length word ${sr(vm, h + 2)}, expected the ${n} pages linked`);
  }
  for (let pfn = 0; pfn < mem.nrPages; pfn++) {
    const f = mem.flags[pfn] as number;
    const mappedAnon = isLruAnon(vm, pfn) && (mem.mapcount[pfn] as number) > 0;
    assert(mappedAnon === (onList[pfn] === 1), () => `pfn ${pfn}: ${mappedAnon ? 'a mapped anonymous page on no LRU list' : 'on an LRU list but not a mapped anonymous page'}`);
    assert(onList[pfn] === 1 || (f & (PageFlag.Lru | PageFlag.Active | PageFlag.Unevictable)) === 0, () => `pfn ${pfn} is on no LRU list but its flags 0x${f.toString(16)} say it is`);
  }
}

export function swapStats(vm: Vm): SwapStats {
  const on = swapOn(vm);
  const slots = on ? sr(vm, SR.SLOTS) : 0;
  const inuse = on ? sr(vm, SR.INUSE) : 0;
  let entries = 0;
  if (on) for (const c of swapMap(vm).subarray(1)) entries += c;
  return {
    on,
    totalPages: Math.max(0, slots - 1),
    freePages: Math.max(0, slots - 1 - inuse),
    usedPages: inuse,
    swapEntries: entries,
    lru: swapRootPfn(vm) === 0 ? { inactive: 0, active: 0, unevictable: 0 } : lruCounts(vm),
    pswpout: vm.counter('pswpout'),
    pswpin: vm.counter('pswpin'),
  };
}

/** Bytes of swap in use and in all, for /proc/meminfo (SwapTotal, SwapFree). */
export function swapBytes(vm: Vm): { totalBytes: number; freeBytes: number } {
  const s = swapStats(vm);
  return { totalBytes: s.totalPages * PAGE_SIZE, freeBytes: s.freePages * PAGE_SIZE };
}

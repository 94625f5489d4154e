/**
 * The swap root page (types.ts has its words) and the host-side wrapper state of each Vm: the root
 * lock's LockWord, this worker's backing of the device, a view of swap_map.
 */
import { LockWord } from '../../sync/lock-word.ts';
import { assert } from '../../util/assert.ts';
import { PAGE_SIZE } from '../types.ts';
import type { Vm } from '../vm/vm.ts';
import type { SwapBacking } from './backing.ts';
import { SR, SWAP_ROOT_WORD } from './types.ts';

export interface SwapHost {
  lock: LockWord;
  backing: SwapBacking | null;
  map: Uint16Array | null;
  mapPfn: number;
}

/** Host-side per Vm wrapper: the root lock's wrapper, this worker's backing, a view of swap_map. */
const hosts = new WeakMap<Vm, SwapHost>();

/** The swap root page's pfn, 0 when swap was never enabled. */
export function swapRootPfn(vm: Vm): number {
  return vm.root(SWAP_ROOT_WORD);
}

/** The i32 word index of swap root word `i`. */
export function srWord(vm: Vm, i: number): number {
  return (swapRootPfn(vm) * PAGE_SIZE) / 4 + i;
}

export function sr(vm: Vm, i: number): number {
  return vm.w[srWord(vm, i)] as number;
}

export function setSr(vm: Vm, i: number, value: number): void {
  vm.w[srWord(vm, i)] = value;
}

export function host(vm: Vm): SwapHost {
  assert(swapRootPfn(vm) !== 0, 'swap state: swap was never enabled (expected swapon first)');
  let h = hosts.get(vm);
  if (h === undefined) {
    // Its holder recorded; a dead holder's lock is refused, not taken over (nothing rebuilds the LRU and swap map).
    h = { lock: new LockWord(vm.w, srWord(vm, SR.LOCK), vm.kernel.lockOwner, null, 'refuse'), backing: null, map: null, mapPfn: 0 };
    hosts.set(vm, h);
  }
  return h;
}

/** The swap root lock (the device and the LRU lists). */
export function swapLock(vm: Vm): LockWord {
  assert(swapRootPfn(vm) !== 0, 'swap root lock: swap was never enabled');
  return host(vm).lock;
}


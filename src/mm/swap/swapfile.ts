/**
 * The swap device (Linux mm/swapfile.c): swapon writes the mkswap header into slot 0 and sets up the
 * swap_map, slots are taken by reclaim (get_swap_page → scan_swap_map_slots), shared by fork
 * (swap_duplicate) and dropped by swap-in and unmap (swap_free); a slot is free again when its count
 * reaches zero. swapoff brings every swapped page back first (try_to_unuse, swapoff.ts).
 *
 *   const backing = BufferBacking.create(1024);   // 4 MiB: the header and 1023 slots
 *   swapon(kernel.vm, backing);                    // the first swapon also starts the LRU lists
 *   reclaimPages(kernel.vm, 64);                   // vmscan.ts: pages out to the device
 *
 * Slots are searched from the last one taken onward, wrapping (Linux groups slots into 256-slot
 * clusters per CPU; one device and one lock make that unnecessary here).
 *
 * Locking: the swap root lock (SR.LOCK) around every swap_map change; callers hold the mmap_lock of
 * the mm whose entry they change.
 */
import { assert } from '../../util/assert.ts';
import { GFP } from '../gfp.ts';
import { PAGE_SIZE } from '../types.ts';
import type { Vm } from '../vm/vm.ts';
import type { SwapBacking } from './backing.ts';
import { SwapDeviceError, SwapIoError } from './errors.ts';
import { lruEnable } from './lru.ts';
import { host, setSr, sr, swapRootPfn } from './root.ts';
import { SR, SWAP_COUNT_MAX, SWAP_HEADER, SWAP_MAP_BAD, SWAP_ROOT_WORD, SWAP_SLOTS_MAX, VM_OWNER_SWAP } from './types.ts';

/** Whether a device is on (its swap entries valid), writable or being drained by swapoff. */
export function swapOn(vm: Vm): boolean {
  return swapRootPfn(vm) !== 0 && sr(vm, SR.DEVICE_ON) !== 0;
}

/** Whether reclaim may take new slots (SWP_WRITEOK: on, and no swapoff under way). */
export function swapWritable(vm: Vm): boolean {
  return swapRootPfn(vm) !== 0 && sr(vm, SR.DEVICE_ON) === DEVICE_WRITEOK;
}

/** SR.DEVICE_ON values: off, on and writable, on while swapoff drains it. */
export const DEVICE_OFF = 0;
export const DEVICE_WRITEOK = 1;
export const DEVICE_DRAINING = 2;

/** A view of swap_map (u16 per slot); the device must be on. */
export function swapMap(vm: Vm): Uint16Array {
  const h = host(vm);
  const pfn = sr(vm, SR.MAP_PFN);
  if (h.map === null || h.mapPfn !== pfn) {
    h.map = new Uint16Array(vm.ram.buffer, pfn * PAGE_SIZE, sr(vm, SR.SLOTS));
    h.mapPfn = pfn;
  }
  return h.map;
}

/** This worker's backing of the device; a SwapDeviceError when it attached none. */
export function swapBacking(vm: Vm, call: string): SwapBacking {
  const b = host(vm).backing;
  if (b === null) throw new SwapDeviceError(call, 'this worker has no backing for the swap device: expected swapon, or swapAttach of the same backing');
  return b;
}

function mapOrder(slots: number): number {
  const pages = Math.ceil((slots * 2) / PAGE_SIZE);
  return Math.ceil(Math.log2(pages));
}

/** Makes the swap root page (and so the LRU lists) if there is none yet. Returns its pfn. */
function ensureRoot(vm: Vm): number {
  vm.lock.acquire();
  try {
    if (swapRootPfn(vm) !== 0) return swapRootPfn(vm);
    const pfn = vm.pages.allocPages(0, GFP.KERNEL | GFP.ZERO, VM_OWNER_SWAP);
    assert(pfn !== null, 'no page for the swap root');
    vm.setRoot(SWAP_ROOT_WORD, pfn);
    lruEnable(vm);
    return pfn;
  } finally {
    vm.lock.release();
  }
}

/** The mkswap header (include/linux/swap.h union swap_header, version 1) for a device of `slots`. */
export function swapHeader(slots: number): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  view.setUint32(SWAP_HEADER.VERSION_BYTE, SWAP_HEADER.VERSION, true);
  view.setUint32(SWAP_HEADER.LAST_PAGE_BYTE, slots - 1, true);
  view.setUint32(SWAP_HEADER.NR_BADPAGES_BYTE, 0, true);
  const magic = SWAP_HEADER.MAGIC;
  for (let i = 0; i < magic.length; i++) page[PAGE_SIZE - magic.length + i] = magic.charCodeAt(i);
  return page;
}

/**
 * mkswap + swapon(2): writes the header to slot 0 of `backing` and turns the device on. The first
 * swapon also starts the LRU lists (every mapped anonymous page joins the inactive list), so call it
 * while no other worker is faulting. A device already on is a SwapDeviceError.
 */
export function swapon(vm: Vm, backing: SwapBacking): void {
  const slots = Math.min(backing.slots, SWAP_SLOTS_MAX);
  if (!Number.isInteger(slots) || slots < 2) throw new SwapDeviceError('swapon', `a backing of ${backing.slots} slots: expected at least 2 (the header and one slot)`);
  ensureRoot(vm);
  const h = host(vm);
  h.lock.acquire();
  try {
    if (sr(vm, SR.DEVICE_ON) !== DEVICE_OFF) throw new SwapDeviceError('swapon', 'a swap device is already on (kmem has one)');
    try {
      backing.writeSlot(0, swapHeader(slots));
    } catch (error) {
      throw new SwapIoError(0, 'write', error);
    }
    const order = mapOrder(slots);
    const mapPfn = vm.pages.tryAllocPages(order, GFP.KERNEL | GFP.ZERO | GFP.NORETRY | GFP.NOWARN, VM_OWNER_SWAP);
    if (mapPfn === null) throw new SwapDeviceError('swapon', `no memory for a swap_map of ${slots} slots (ENOMEM)`);
    setSr(vm, SR.MAP_PFN, mapPfn);
    setSr(vm, SR.MAP_ORDER, order);
    setSr(vm, SR.SLOTS, slots);
    setSr(vm, SR.INUSE, 0);
    setSr(vm, SR.NEXT_SLOT, 1);
    setSr(vm, SR.TYPE, 0);
    h.map = null;
    swapMap(vm)[0] = SWAP_MAP_BAD;
    h.backing = backing;
    setSr(vm, SR.DEVICE_ON, DEVICE_WRITEOK);
  } finally {
    h.lock.release();
  }
}

/** Another worker of the same arena attaches its handle on the device that is on (the same buffer or file). */
export function swapAttach(vm: Vm, backing: SwapBacking): void {
  if (!swapOn(vm)) throw new SwapDeviceError('swapAttach', 'no swap device is on');
  if (backing.slots < sr(vm, SR.SLOTS)) throw new SwapDeviceError('swapAttach', `a backing of ${backing.slots} slots: the device has ${sr(vm, SR.SLOTS)}`);
  host(vm).backing = backing;
}

/** Frees the device's swap_map and turns it off; its slots must all be free (swapoff.ts brings pages back first). */
export function swapDeviceOff(vm: Vm): void {
  const h = host(vm);
  h.lock.acquire();
  try {
    assert(sr(vm, SR.INUSE) === 0, () => `swapoff with ${sr(vm, SR.INUSE)} slots still in use: expected try_to_unuse to have emptied them`);
    setSr(vm, SR.DEVICE_ON, DEVICE_OFF);
    vm.pages.freePages(sr(vm, SR.MAP_PFN), sr(vm, SR.MAP_ORDER), VM_OWNER_SWAP);
    setSr(vm, SR.MAP_PFN, 0);
    setSr(vm, SR.SLOTS, 0);
    h.map = null;
    h.backing = null;
  } finally {
    h.lock.release();
  }
}

/**
 * get_swap_page: a free slot with its count set to `count` (the entries about to name it), or 0 when
 * the device is full or off.
 */
export function swapSlotAlloc(vm: Vm, count: number): number {
  assert(count >= 1 && count <= SWAP_COUNT_MAX, () => `swap slot for ${count} entries: expected 1..${SWAP_COUNT_MAX}`);
  if (!swapWritable(vm)) return 0;
  const h = host(vm);
  h.lock.acquire();
  try {
    const map = swapMap(vm);
    const slots = map.length;
    if (sr(vm, SR.INUSE) >= slots - 1) return 0;
    let s = sr(vm, SR.NEXT_SLOT);
    for (let n = 0; n < slots; n++, s = s + 1 >= slots ? 1 : s + 1) {
      if (map[s] !== 0) continue;
      map[s] = count;
      setSr(vm, SR.INUSE, sr(vm, SR.INUSE) + 1);
      setSr(vm, SR.NEXT_SLOT, s + 1 >= slots ? 1 : s + 1);
      return s;
    }
    return 0;
  } finally {
    h.lock.release();
  }
}

/** swap_duplicate: one more entry names slot s (fork). False when its count is at SWAP_COUNT_MAX. */
export function swapDuplicate(vm: Vm, s: number): boolean {
  const h = host(vm);
  h.lock.acquire();
  try {
    const map = swapMap(vm);
    const c = map[s] as number;
    assert(s >= 1 && s < map.length && c >= 1 && c !== SWAP_MAP_BAD, () => `swap_duplicate of slot ${s} (count ${c}): expected a slot in use`);
    if (c >= SWAP_COUNT_MAX) return false;
    map[s] = c + 1;
    return true;
  } finally {
    h.lock.release();
  }
}

/** swap_free: one entry naming slot s is gone; the slot is free once none is left. `n` entries at once. */
export function swapFree(vm: Vm, s: number, n = 1): void {
  const h = host(vm);
  h.lock.acquire();
  try {
    const map = swapMap(vm);
    const c = map[s] as number;
    assert(s >= 1 && s < map.length && c >= n && c !== SWAP_MAP_BAD, () => `swap_free of slot ${s} (count ${c}) by ${n}: expected a slot with that many entries`);
    map[s] = c - n;
    if (c === n) setSr(vm, SR.INUSE, sr(vm, SR.INUSE) - 1);
  } finally {
    h.lock.release();
  }
}

/** swap_writepage: the page's bytes to slot s. A failure of the backing is a SwapIoError. */
export function swapWritePage(vm: Vm, s: number, pfn: number): void {
  const backing = swapBacking(vm, 'swap_writepage');
  try {
    backing.writeSlot(s, vm.ram.bytes.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE));
  } catch (error) {
    throw new SwapIoError(s, 'write', error);
  }
}

/** swap_read_folio: slot s's bytes into the page. */
export function swapReadPage(vm: Vm, s: number, pfn: number): void {
  const backing = swapBacking(vm, 'swap_read_folio');
  try {
    backing.readSlot(s, vm.ram.bytes.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE));
  } catch (error) {
    throw new SwapIoError(s, 'read', error);
  }
}

/**
 * swapoff(2) (Linux mm/swapfile.c: swapoff → try_to_unuse → unuse_mm → unuse_pte): the device
 * stops taking slots (SWP_WRITEOK cleared), every swap PTE of every mm is faulted back in
 * (do_swap_page), and only then is the swap_map freed. When memory runs out on the way the device is
 * writable again and the error is thrown: the pages already back stay in RAM, the rest on the device.
 *
 * Locking: each mm's mmap_lock while its entries come back; the swap root lock inside each slot change.
 */
import { isSwapPte } from './swp-entry.ts';
import { setSr } from './root.ts';
import { DEVICE_DRAINING, DEVICE_WRITEOK, swapDeviceOff, swapOn } from './swapfile.ts';
import { doSwapPage } from './swap-pte.ts';
import { SwapDeviceError } from './errors.ts';
import { SR } from './types.ts';
import type { Vm } from '../vm/vm.ts';

export function swapoff(vm: Vm): void {
  if (!swapOn(vm)) throw new SwapDeviceError('swapoff', 'no swap device is on');
  setSr(vm, SR.DEVICE_ON, DEVICE_DRAINING);
  try {
    for (const mm of vm.addressSpaces()) {
      mm.lockMmap();
      try {
        for (let i = 0; i < mm.mapCount; i++) {
          const vma = mm.vmaAt(i);
          const flags = vm.vmas.flags(vma);
          vm.tables.walkRange(
            mm.pgdPfn,
            vm.vmas.start(vma),
            vm.vmas.end(vma),
            (slot, vaddr, level) => {
              if (level === 1 && isSwapPte(vm.u[slot] as number)) doSwapPage(mm, vma, slot, vaddr, flags);
            },
            null,
          );
        }
      } finally {
        mm.lock.release();
      }
    }
  } catch (error) {
    setSr(vm, SR.DEVICE_ON, DEVICE_WRITEOK);
    throw error;
  }
  swapDeviceOff(vm);
}

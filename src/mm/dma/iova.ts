/**
 * IOVA space of one device behind an IOMMU (Linux drivers/iommu/iova.c's job): ranges of I/O page
 * numbers below the device's mask, first fit from a rotating cursor, page 0 never handed out (so a
 * DMA address is never 0). Linux allocates top-down from the mask; the direction changes nothing the
 * device can reach.
 *
 * Host-side state (one byte per IOVA page below min(mask, 4 GiB)): the IOMMU's tables are hardware
 * state the kernel reprograms on resume, and so is this allocator; losing it loses no RAM.
 */
import { dmaMaskLimit } from '../../machine/dma-engine.ts';
import { InvariantError } from '../../util/errors.ts';
import { PAGE_SIZE } from '../types.ts';
import { DmaMappingError } from './errors.ts';

const MAX_IOVA_BYTES = 2 ** 32;

export class IovaSpace {
  private readonly used: Uint8Array;
  private cursor = 1;
  usedPages = 0;

  constructor(maskBits: number) {
    const limit = Math.min(dmaMaskLimit(maskBits) + 1, MAX_IOVA_BYTES);
    this.used = new Uint8Array(Math.floor(limit / PAGE_SIZE));
  }

  get pages(): number {
    return this.used.length;
  }

  /** `n` contiguous IOVA pages; returns the first. */
  alloc(n: number): number {
    const total = this.used.length;
    for (let tried = 0, start = this.cursor; tried < total; tried++, start = start + 1 >= total ? 1 : start + 1) {
      if (start + n > total) continue;
      let free = true;
      for (let p = start; p < start + n; p++) {
        if (this.used[p] !== 0) {
          free = false;
          break;
        }
      }
      if (!free) continue;
      this.used.fill(1, start, start + n);
      this.usedPages += n;
      this.cursor = start + n >= total ? 1 : start + n;
      return start;
    }
    throw new DmaMappingError(`IOVA space exhausted: no ${n} contiguous free I/O pages of ${total}`);
  }

  free(first: number, n: number): void {
    for (let p = first; p < first + n; p++) {
      if (this.used[p] !== 1) throw new InvariantError(`IOVA page ${p} freed but not in use`);
    }
    this.used.fill(0, first, first + n);
    this.usedPages -= n;
  }
}

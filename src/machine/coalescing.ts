/**
 * Memory coalescing, as GPU memory systems do it: the lanes of a warp execute one store instruction
 * together, and the hardware turns the bytes they write into transactions of aligned 32-byte sectors
 * (NVIDIA's L2 sector; a 128-byte cache line is four of them). Lanes writing neighbouring bytes
 * share sectors; scattered lanes each cost their own. The figure that matters is distinct sectors
 * per warp-wide store, against the fewest the same store could touch were each lane's element packed
 * in lane order from an aligned address.
 *
 * This module only counts: which lanes formed a warp and which bytes each wrote is recorded by
 * whoever ran the store (src/gpu reads it back from the device).
 */

export const SECTOR_BYTES = 32;

/** Distinct aligned sectors touched by lanes each writing `widthBytes` from the given byte addresses. */
export function sectorsTouched(startsBytes: readonly number[], widthBytes: number): number {
  const sectors = new Set<number>();
  for (const start of startsBytes) {
    const last = Math.floor((start + widthBytes - 1) / SECTOR_BYTES);
    for (let s = Math.floor(start / SECTOR_BYTES); s <= last; s++) sectors.add(s);
  }
  return sectors.size;
}

/**
 * The fewest sectors `lanes` stores of `widthBytes` can touch when lane i writes at
 * `offsetBytes + i · strideBytes` past an aligned sector: each lane's element packed in lane order.
 * With the stride equal to the width (the default) that is ⌈lanes · width / 32⌉; a store of one word
 * of larger elements (stride > width) touches every sector the elements span.
 */
export function idealSectors(lanes: number, widthBytes: number, strideBytes = widthBytes, offsetBytes = 0): number {
  return sectorsTouched(Array.from({ length: lanes }, (_, i) => offsetBytes + i * strideBytes), widthBytes);
}

/**
 * Sums over many warp-wide stores, each lane writing `widthBytes` of an element `strideBytes` long
 * (the whole element by default; one word of it when a lane writes its element a word at a time).
 */
export class CoalescingTally {
  stores = 0;
  lanes = 0;
  sectors = 0;
  ideal = 0;
  private readonly idealCache = new Map<string, number>();

  constructor(
    readonly widthBytes: number,
    readonly strideBytes = widthBytes,
  ) {}

  /**
   * One warp-wide store: the byte addresses its participating lanes wrote (an empty store is
   * ignored), `offsetBytes` into their elements (for the ideal).
   */
  addStore(startsBytes: readonly number[], offsetBytes = 0): void {
    if (startsBytes.length === 0) return;
    this.stores++;
    this.lanes += startsBytes.length;
    this.sectors += sectorsTouched(startsBytes, this.widthBytes);
    const key = `${startsBytes.length}+${offsetBytes}`;
    let ideal = this.idealCache.get(key);
    if (ideal === undefined) {
      ideal = idealSectors(startsBytes.length, this.widthBytes, this.strideBytes, offsetBytes);
      this.idealCache.set(key, ideal);
    }
    this.ideal += ideal;
  }

  merge(other: CoalescingTally): void {
    this.stores += other.stores;
    this.lanes += other.lanes;
    this.sectors += other.sectors;
    this.ideal += other.ideal;
  }

  get sectorsPerStore(): number {
    return this.stores === 0 ? 0 : this.sectors / this.stores;
  }

  get idealPerStore(): number {
    return this.stores === 0 ? 0 : this.ideal / this.stores;
  }
}

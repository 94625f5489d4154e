/**
 * Memory coalescing, as GPU memory systems do it: the lanes of a warp execute one store instruction
 * together, and the hardware turns the bytes they write into transactions of aligned 32-byte sectors
 * (NVIDIA's L2 sector; a 128-byte cache line is four of them). Lanes writing neighbouring bytes
 * share sectors; scattered lanes each cost their own. The figure that matters is distinct sectors
 * per warp-wide store, against the fewest that could hold the bytes written.
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

/** The fewest sectors `lanes` stores of `widthBytes` could touch: packed and sector-aligned. */
export function idealSectors(lanes: number, widthBytes: number): number {
  return Math.ceil((lanes * widthBytes) / SECTOR_BYTES);
}

/** Sums over many warp-wide stores. */
export class CoalescingTally {
  stores = 0;
  lanes = 0;
  sectors = 0;
  ideal = 0;

  constructor(readonly widthBytes: number) {}

  /** One warp-wide store: the byte addresses its participating lanes wrote (an empty store is ignored). */
  addStore(startsBytes: readonly number[]): void {
    if (startsBytes.length === 0) return;
    this.stores++;
    this.lanes += startsBytes.length;
    this.sectors += sectorsTouched(startsBytes, this.widthBytes);
    this.ideal += idealSectors(startsBytes.length, this.widthBytes);
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

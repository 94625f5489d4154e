/**
 * The allocation-state bitmap: whether each slab object is allocated, kept outside the objects so
 * that no byte a caller writes can make a live object look free (or a free one look live). SLUB's
 * debug tracking keeps such state beside the object; kmem keeps one bit per 8 bytes of RAM (the
 * smallest slot, kmalloc-8, is 8 bytes, so every object start has a bit of its own), in the region
 * 'slab-state' of RAM / 64 bytes (1.6 % of RAM).
 *
 *   word  stateBase + (addr >>> 8)        bit  (addr >>> 3) & 31        1 = allocated, 0 = free
 *
 * Invariants (validate.ts): a bit is set only at an object start of a slab page, exactly for the
 * objects that are neither on a slab free list nor in a magazine; every other bit is 0.
 *
 * Concurrency: over a shared arena every change is one Atomics.or / Atomics.and whose old value
 * says whether this thread made it: of two racing frees of one object exactly one sees the bit set
 * and goes on; the other gets SlabDoubleFreeError. Over a plain ArrayBuffer they are plain loads and
 * stores. The fast paths (cpu-slab.ts) inline the same arithmetic.
 *
 * The cost, measured against the free marker this replaces (a cookie ^ addr word inside the object,
 * which a caller could write by chance): docs/benchmarks.md, "allocation state".
 */
export const STATE_WORD_SHIFT = 8;
export const STATE_BIT_SHIFT = 3;
/** Bytes of RAM per byte of bitmap. */
export const STATE_RAM_BYTES_PER_BYTE = 64;

/** Bytes of the bitmap for `ramBytes` of RAM. */
export function stateBytes(ramBytes: number): number {
  return Math.ceil(ramBytes / STATE_RAM_BYTES_PER_BYTE);
}

export class AllocState {
  constructor(
    private readonly w: Int32Array,
    private readonly base: number,
    private readonly shared: boolean,
  ) {}

  isAllocated(addr: number): boolean {
    const sw = this.base + (addr >>> STATE_WORD_SHIFT);
    const word = this.shared ? Atomics.load(this.w, sw) : (this.w[sw] as number);
    return (word & (1 << ((addr >>> STATE_BIT_SHIFT) & 31))) !== 0;
  }

  /** Sets the bit; false (nothing changed) when it was set already. */
  markAllocated(addr: number): boolean {
    const sw = this.base + (addr >>> STATE_WORD_SHIFT);
    const bit = 1 << ((addr >>> STATE_BIT_SHIFT) & 31);
    if (this.shared) return (Atomics.or(this.w, sw, bit) & bit) === 0;
    const word = this.w[sw] as number;
    if ((word & bit) !== 0) return false;
    this.w[sw] = word | bit;
    return true;
  }

  /** Clears the bit; false (nothing changed) when it was clear already: a double free. */
  markFree(addr: number): boolean {
    const sw = this.base + (addr >>> STATE_WORD_SHIFT);
    const bit = 1 << ((addr >>> STATE_BIT_SHIFT) & 31);
    if (this.shared) return (Atomics.and(this.w, sw, ~bit) & bit) !== 0;
    const word = this.w[sw] as number;
    if ((word & bit) === 0) return false;
    this.w[sw] = word & ~bit;
    return true;
  }

  /** Whether any bit of [startAddr, endAddr) is set (a slab about to be freed must have none). */
  anyAllocated(startAddr: number, endAddr: number): boolean {
    for (let addr = startAddr; addr < endAddr; addr += 8 << 5) {
      if ((this.w[this.base + (addr >>> STATE_WORD_SHIFT)] as number) !== 0) return true;
    }
    return false;
  }
}

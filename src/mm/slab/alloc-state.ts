/**
 * The allocation-state bitmap: whether each slab object is allocated, kept outside the objects so
 * that no byte a caller writes can make a live object look free (or a free one look live). SLUB's
 * debug tracking keeps such state beside the object; kmem keeps one bit per 8 bytes of RAM (the
 * smallest slot, kmalloc-8, is 8 bytes, so every object start has a bit of its own), in the region
 * 'slab-state' of RAM / 64 bytes (1.6 % of RAM).
 *
 *   word  stateBase + (addr >>> 8)        bit  (addr >>> 3) & 31        1 = allocated, 0 = free
 *
 * Two modes, fixed when the arena boots (types.ts H_STATE_MODE):
 *
 * Eager (arenas booted shared). A bit is set exactly for the objects that are neither on a slab
 * free list nor in a magazine; every other bit is 0. Every fast alloc sets a bit and every fast
 * free clears one. Over a shared arena every change is one Atomics.or / Atomics.and whose old value
 * says whether this thread made it: of two racing frees of one object exactly one sees the bit set
 * and goes on; the other gets SlabDoubleFreeError. Some atomic read-modify-write per free is
 * unavoidable there: two threads freeing one object must agree on one winner, and plain reads and
 * writes cannot settle that between two threads (consensus number 1: Herlihy, "Wait-free
 * synchronization", TOPLAS 1991).
 *
 * Lazy (arenas booted over a plain ArrayBuffer, which only one thread can ever use). The bitmap
 * changes only when objects move between the slab layer and the magazines: a bit is set exactly for
 * the objects off their slab's free list — allocated, or a round in a magazine. Every free object
 * also carries FREE_MARK ^ addr in its mark word (CacheContext.markWord: the first word, the second
 * where the first is the free pointer), written when its slab is made and at every free, and
 * cleared (0) at alloc. Where the mark must share the free-pointer word (constructor, poisoning
 * and SLAB_TYPESAFE_BY_RCU caches, whose free bytes stay as they were), objects on a slab free
 * list carry their link there instead, and the fast free reads the bit as well. So a fast free
 * reads the mark (present: free already, or a caller's bytes — the slow path tells which, exactly:
 * the bit, then a search of every magazine of the cache), writes it, and pushes; a fast alloc
 * writes 0 to the mark. Neither does a read-modify-write of a word that other objects share. A
 * caller's bytes in a live object can at most send its free to the search, which finds it in no
 * magazine and frees it: no false positive.
 * What the lazy mode does not see is a write into an object after it was freed (a use after free)
 * that overwrites its mark: a second free of it then passes the fast path while the object is
 * still free. Such a write already corrupts the free list where it hits the free pointer, as in
 * SLUB without hardening; validate() reports a lost mark, and the poisoning debug option
 * (slab_debug=P, slow path, eager state) checks every byte of freed objects.
 *
 * Invariants (validate.ts): a bit is set only at an object start of a slab page; eager: exactly for
 * objects neither on a slab free list nor in a magazine; lazy: exactly for objects not on a slab
 * free list, and every free object carries its mark (rounds always; slab free-list objects unless
 * the mark is the free pointer).
 *
 * The cost, measured against the free marker the bitmap replaced (a cookie ^ addr word inside the
 * object whose value a caller could write by chance, so a live object could look free; the lazy
 * mode's mark can only send such a free to the exact slow path): docs/benchmarks.md, "Allocation
 * state outside the objects" and "Lazy allocation state on plain arenas".
 */
export const STATE_WORD_SHIFT = 8;
/**
 * A round's mark in lazy mode is FREE_MARK ^ addr: odd, so never 0 (the mark of an allocated
 * object) for the 8-byte-aligned object addresses.
 */
export const FREE_MARK = 0x4d41475b;
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

/**
 * The floor for a fixed-size allocator: a hand-written slab of `count` objects of `sizeBytes`
 * bytes in one ArrayBuffer, with an Int32Array free list (index of the next free object). No
 * checks, no statistics, one thread. What kmem's caches are measured against.
 */
export class FreeListSlab {
  private readonly next: Int32Array;
  private head = 0;

  constructor(
    readonly count: number,
    readonly sizeBytes: number,
  ) {
    this.next = new Int32Array(count);
    for (let i = 0; i < count; i++) this.next[i] = i + 1 < count ? i + 1 : -1;
  }

  /** The byte offset of a free object, or -1 when all are taken. */
  alloc(): number {
    const i = this.head;
    if (i < 0) return -1;
    this.head = this.next[i] as number;
    return i * this.sizeBytes;
  }

  free(offset: number): void {
    const i = (offset / this.sizeBytes) | 0;
    this.next[i] = this.head;
    this.head = i;
  }
}

/**
 * The strong floor a user would hand-write: a stack of free slot indices in an Int32Array, the
 * address a shift of the index (objects of 2^k bytes), no division. Over `shared` memory the
 * stack lives in a SharedArrayBuffer (still one thread: the plain/shared comparison of the floor).
 */
export class SlotStackSlab {
  private readonly stack: Int32Array;
  private top: number;

  constructor(
    readonly count: number,
    readonly shift: number,
    shared = false,
  ) {
    this.stack = new Int32Array(shared ? new SharedArrayBuffer(count * 4) : new ArrayBuffer(count * 4));
    for (let i = 0; i < count; i++) this.stack[i] = count - 1 - i;
    this.top = count;
  }

  /** The byte offset of a free object, or -1 when all are taken. */
  alloc(): number {
    if (this.top === 0) return -1;
    return (this.stack[--this.top] as number) << this.shift;
  }

  free(offset: number): void {
    this.stack[this.top++] = offset >>> this.shift;
  }
}

/**
 * The strong floor over a SharedArrayBuffer plus the least an exact double-free check costs there:
 * a state word per slot (allocated 1, free 0; no word holds two slots' state, so alloc's store is
 * a plain one) and one Atomics.compareExchange per free, the step that lets exactly one of two
 * threads freeing one slot win (plain reads and writes cannot: consensus number 1, Herlihy,
 * "Wait-free synchronization", TOPLAS 1991). A double free returns false. One thread, like the
 * other floors: the reference for kmem's shared-arena fixed-size pair.
 */
export class ClaimingSlotStackSlab {
  private readonly stack: Int32Array;
  private readonly state: Int32Array;
  private top: number;

  constructor(
    readonly count: number,
    readonly shift: number,
  ) {
    this.stack = new Int32Array(new SharedArrayBuffer(count * 4));
    this.state = new Int32Array(new SharedArrayBuffer(count * 4));
    for (let i = 0; i < count; i++) this.stack[i] = count - 1 - i;
    this.top = count;
  }

  /** The byte offset of a free object, or -1 when all are taken. */
  alloc(): number {
    if (this.top === 0) return -1;
    const i = this.stack[--this.top] as number;
    this.state[i] = 1;
    return i << this.shift;
  }

  /** False, with nothing changed, when the slot is not allocated (a double free, or a lost race). */
  free(offset: number): boolean {
    const i = offset >>> this.shift;
    if (Atomics.compareExchange(this.state, i, 1, 0) !== 1) return false;
    this.stack[this.top++] = i;
    return true;
  }
}

/**
 * The strong floor over a SharedArrayBuffer plus the exact allocation state that issue 9's item 3
 * asks for on both sides: a bitmap of allocated slots (32 per int32 word, as kmem's per-slab state
 * is) changed by one atomic read-modify-write at alloc (Atomics.or) and one at free (Atomics.and),
 * whose old value says whether this thread made the change. A word holds 32 slots' state, so even
 * the alloc's change must be atomic: another thread may be freeing a neighbour in the same word.
 * A double free, or an alloc of a slot already taken, returns false / -2 with nothing changed.
 * One thread, like the other floors: the floor of kmem's shared-arena state changes.
 */
export class BitmapClaimingSlotStackSlab {
  private readonly stack: Int32Array;
  private readonly allocated: Int32Array;
  private top: number;

  constructor(
    readonly count: number,
    readonly shift: number,
  ) {
    this.stack = new Int32Array(new SharedArrayBuffer(count * 4));
    this.allocated = new Int32Array(new SharedArrayBuffer(Math.ceil(count / 32) * 4));
    for (let i = 0; i < count; i++) this.stack[i] = count - 1 - i;
    this.top = count;
  }

  /** The byte offset of a free object, -1 when all are taken, -2 if the popped slot was taken. */
  alloc(): number {
    if (this.top === 0) return -1;
    const i = this.stack[--this.top] as number;
    const bit = 1 << (i & 31);
    if ((Atomics.or(this.allocated, i >>> 5, bit) & bit) !== 0) return -2;
    return i << this.shift;
  }

  /** False, with nothing changed, when the slot is not allocated (a double free, or a lost race). */
  free(offset: number): boolean {
    const i = offset >>> this.shift;
    const bit = 1 << (i & 31);
    if ((Atomics.and(this.allocated, i >>> 5, ~bit) & bit) === 0) return false;
    this.stack[this.top++] = i;
    return true;
  }
}

/**
 * A hand-written per-CPU page list with every check and every write that kmem's order-0 fast paths
 * make (src/mm/page-alloc.ts, #installFastPaths), and nothing else: no zones, no buddy allocator
 * behind it, no refill and no drain (the benchmark's pair never needs them: an empty list or a
 * full one throws here). It is the floor of the design, not of the machine: what an order-0
 * allocPages + freePages pair must cost once it keeps kmem's contract, measured beside kmem's pair
 * and the Int32Array stack of pfns (bench/page-alloc.bench.ts).
 *
 * What one pair does, as kmem's does:
 *   alloc  decode the GFP flags (a 128-entry table: the list and the page flags), check them and
 *          the owner tag; pop the hot end of the list's ring (the slot before `end`, a
 *          power-of-two capacity; an empty list shows the NO_PFN sentinel there); count; write
 *          struct page: flags, refcount 1, mapcount 0, pincount 0, owner
 *   free   check the pfn (an integer in range, in the list's zone), the owner tag, order 0, the
 *          flags (allocated, not a slab's); the pageblock's migratetype picks the list; at `high`
 *          the pair would drain (here: throws); write flags, refcount 0, owner 0; push the hot
 *          end; count; one f64 event counter (pcp frees)
 * The arrays are the ones kmem keeps in the arena: struct page as a struct of arrays (mem_map.ts),
 * the pageblock migratetypes, the pcp words and rings (pcp.ts), the pcp event counters. Written as
 * closures over them, the shape kmem's fast paths have (cpu-slab.ts explains why).
 */
const ALLOCATED = 1 << 2; // PageFlag.Allocated
const SLAB = 1 << 6; // PageFlag.Slab
const PCP = 1 << 7; // PageFlag.Pcp
const PAGEBLOCK_ORDER = 9;
const GFP_MASK = 127;
const NONE = -1; // NO_PFN
// One pcp's words, as in pcp.ts: count, high, then [start, end] of the three lists.
const COUNT = 0;
const HIGH = 1;
const LISTS = 4;
const WORDS = 16;

/** Carves typed arrays out of one ArrayBuffer, 8-byte aligned, in order. */
class ArenaCarver {
  readonly buffer: ArrayBuffer;
  #next = 0;
  constructor(bytes: number) {
    this.buffer = new ArrayBuffer(bytes);
  }
  #take(bytes: number): number {
    const at = this.#next;
    this.#next = (at + bytes + 7) & ~7;
    if (this.#next > this.buffer.byteLength) throw new RangeError(`pcp reference: arena of ${this.buffer.byteLength} bytes too small`);
    return at;
  }
  u32(n: number): Uint32Array {
    return new Uint32Array(this.buffer, this.#take(n * 4), n);
  }
  i32(n: number): Int32Array {
    return new Int32Array(this.buffer, this.#take(n * 4), n);
  }
  f64(n: number): Float64Array {
    return new Float64Array(this.buffer, this.#take(n * 8), n);
  }
  u8(n: number): Uint8Array {
    return new Uint8Array(this.buffer, this.#take(n), n);
  }
}

export interface PcpReference {
  allocPages(order: number, gfp?: number, owner?: number): number;
  freePages(pfn: number, order: number, owner?: number): void;
}

/**
 * A machine of `nrPages` pages whose pages from `firstPfn` on sit on the Unmovable list (high
 * `high`, ring `capacity` slots, a power of two above high), as a warmed-up per-CPU list holds them.
 */
export function pcpReference(nrPages: number, firstPfn: number, high: number, capacity: number): PcpReference {
  // Views over one buffer, as kmem's arena is: off the V8 heap, where the arrays' data lives.
  const arena = new ArenaCarver(nrPages * 24 + (WORDS + 3 * capacity) * 4 + 64 + nrPages);
  const flagsOf = arena.u32(nrPages);
  const refcount = arena.i32(nrPages);
  const mapcount = arena.i32(nrPages);
  const pincount = arena.i32(nrPages);
  const ownerOf = arena.u32(nrPages);
  const w = arena.i32(WORDS + 3 * capacity);
  const stats = arena.f64(8);
  const orderOf = arena.u8(nrPages);
  const pageblockMt = arena.u8(Math.ceil(nrPages / (1 << PAGEBLOCK_ORDER)));
  const mask = capacity - 1;
  const ring = WORDS;
  w[HIGH] = high;
  // GFP → list (−1: not served here) and page flags; GFP_KERNEL (0) is Unmovable.
  const gfpMt = new Int8Array(GFP_MASK + 1).fill(-1);
  const gfpFlags = new Int32Array(GFP_MASK + 1);
  gfpMt[0] = 0;
  gfpFlags[0] = ALLOCATED;
  const stock = Math.min(high - 1, nrPages - firstPfn);
  for (let i = 0; i < stock; i++) {
    const pfn = firstPfn + i;
    flagsOf[pfn] = PCP;
    w[ring + i] = pfn;
  }
  w[LISTS + 1] = stock; // end; start 0
  for (let mt = 0; mt < 3; mt++) w[ring + mt * capacity + capacity - 1] = NONE; // the sentinels below start
  w[COUNT] = stock;

  // Where kmem takes its general path (a refill, a drain, a misuse to diagnose), this throws.
  const fail = (what: string): never => {
    throw new Error(`pcp reference: ${what}`);
  };
  const end0 = LISTS + 1;
  const end1 = LISTS + 3;
  const end2 = LISTS + 5;
  const r0 = ring;
  const r1 = ring + capacity;
  const r2 = ring + 2 * capacity;

  const allocPages = (order: number, gfp = 0, owner = 0): number => {
    const mt = gfpMt[gfp & GFP_MASK] as number;
    if (order !== 0 || mt < 0 || (gfp & GFP_MASK) !== gfp || (owner >>> 0) !== owner) return fail('not an order-0 request it serves');
    const endWord = LISTS + 1 + 2 * mt;
    const end = ((w[endWord] as number) - 1) & mask;
    const pfn = w[ring + mt * capacity + end] as number;
    if (pfn === NONE) return fail('the list is empty');
    w[endWord] = end;
    w[COUNT] = ((w[COUNT] as number) - 1) | 0;
    flagsOf[pfn] = gfpFlags[gfp] as number;
    refcount[pfn] = 1;
    mapcount[pfn] = 0;
    pincount[pfn] = 0;
    ownerOf[pfn] = owner;
    return pfn;
  };

  const freePages = (pfn: number, order: number, owner = 0): void => {
    if (order !== 0 || (pfn >>> 0) !== pfn || pfn >= nrPages || pfn < firstPfn || ownerOf[pfn] !== owner || orderOf[pfn] !== 0) return fail('not an order-0 page of this owner');
    if (((flagsOf[pfn] as number) & (ALLOCATED | SLAB)) !== ALLOCATED) return fail('not an allocated page');
    // The pageblock's migratetype picks the list by a branch, not by arithmetic: the push's
    // address then does not wait for the load (the same choice kmem's fast path makes).
    const mt = pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number;
    let endWord: number;
    let slot0: number;
    if (mt === 0) {
      endWord = end0;
      slot0 = r0;
    } else if (mt === 1) {
      endWord = end1;
      slot0 = r1;
    } else if (mt === 2) {
      endWord = end2;
      slot0 = r2;
    } else return fail('a pageblock of no pcp list');
    const count = ((w[COUNT] as number) + 1) | 0;
    if (count >= (w[HIGH] as number)) return fail('the list is at high');
    w[COUNT] = count;
    flagsOf[pfn] = PCP;
    refcount[pfn] = 0;
    ownerOf[pfn] = 0;
    const end = w[endWord] as number;
    w[slot0 + end] = pfn;
    w[endWord] = (end + 1) & mask;
    stats[1] = (stats[1] as number) + 1;
  };

  return { allocPages, freePages };
}

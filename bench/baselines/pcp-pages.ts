/**
 * A hand-written per-CPU page list with every check and every write that kmem's order-0 fast paths
 * make (src/mm/page-alloc.ts, #installFastPaths), and nothing else: no zones, no buddy allocator
 * behind it, no refill and no drain (the benchmark's pair never needs them: an empty list or a
 * full one throws here). It is the floor of the design, not of the machine: what an order-0
 * allocPages + freePages pair must cost once it keeps kmem's contract, measured beside kmem's pair
 * and the Int32Array stack of pfns (bench/page-alloc.bench.ts).
 *
 * What one pair does, as kmem's does:
 *   alloc  GFP_KERNEL (0) takes the Unmovable list with no table; any other value is decoded by
 *          a 128-entry table (the list and the page flags) and checked; an owner tag other than 0
 *          is the general path's; pop the hot end of the list's ring (the slot before `end`, a
 *          power-of-two capacity; an empty list shows the NO_PFN sentinel there); count; write
 *          the page's flags (owner 0, refcount 1, mapcount and pincount 0 are what every page on
 *          a list already has: a plain page, PageFlag.SlowFree)
 *   free   check the owner tag (0), the pfn (an integer in range, in the list's zone), the flags
 *          (allocated, not a slab's, plain: order 0, no other reference, not mapped, not
 *          pinned, Linux's bad_page check, all in the SlowFree bit); the pageblock's
 *          migratetype picks the list (Unmovable by a branch); at `high` the pair would drain,
 *          past the fold point it would fold the frees counter (here: both throw); write the
 *          flags (Pcp and the CPU's tag); push the hot end; count; count the free in an int32
 *          word of the pcp
 * The data is laid out as kmem's arena is: struct page as a struct of arrays (mem_map.ts), the
 * pageblock migratetypes, the pcp words and rings (pcp.ts), all in one ArrayBuffer, and reached,
 * as kmem's fast paths reach them, through one Int32Array and one Uint8Array over the whole buffer
 * with a word index per array (page-alloc.ts, #installFastPaths, explains why). Written as
 * closures, the shape kmem's fast paths have (cpu-slab.ts explains why).
 */
const ALLOCATED = 1 << 2; // PageFlag.Allocated
const SLAB = 1 << 6; // PageFlag.Slab
const PCP = 1 << 7; // PageFlag.Pcp
const SLOW_FREE = 1 << 20; // PageFlag.SlowFree
const PCP_TAG_SHIFT = 21; // PAGE_FLAG_PCP_TAG_SHIFT
const PAGEBLOCK_ORDER = 9;
const GFP_MASK = 127;
const NONE = -1; // NO_PFN
// One pcp's words, as in pcp.ts: count, high, then [start, end] of the three lists, the frees word.
const COUNT = 0;
const HIGH = 1;
const LISTS = 4;
const FREES = 12;
const WORDS = 16;
const FREES_FOLD = 0x3fffffff; // PCP_FREES_FOLD

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
  /** Index of the first of `n` 32-bit words in an Int32Array over the whole buffer. */
  words(n: number): number {
    return this.#take(n * 4) >>> 2;
  }
  /** Index of the first of `n` bytes. */
  bytes(n: number): number {
    return this.#take(n);
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
  // One buffer, as kmem's arena is (off the V8 heap, where the arrays' data lives), and two views of all of it.
  const arena = new ArenaCarver(nrPages * 21 + (WORDS + 3 * capacity) * 4 + 64 + nrPages);
  const FLAGS = arena.words(nrPages);
  arena.words(4 * nrPages); // refcount, mapcount, pincount, owner: the pair reads and writes none
  const PCPW = arena.words(WORDS + 3 * capacity);
  arena.bytes(nrPages); // order
  const PAGEBLOCK = arena.bytes(Math.ceil(nrPages / (1 << PAGEBLOCK_ORDER)));
  const M = new Int32Array(arena.buffer);
  const B = new Uint8Array(arena.buffer);
  const mask = capacity - 1;
  const pcpFlags = PCP | (1 << PCP_TAG_SHIFT); // pcpPageFlags(0)
  const countWord = PCPW + COUNT;
  const highWord = PCPW + HIGH;
  const freesWord = PCPW + FREES;
  const end0 = PCPW + LISTS + 1;
  const ring0 = PCPW + WORDS;
  M[highWord] = high;
  // GFP → list (−1: not served here) and page flags; GFP_KERNEL (0) is Unmovable.
  const gfpMt = new Int8Array(GFP_MASK + 1).fill(-1);
  const gfpFlags = new Int32Array(GFP_MASK + 1);
  gfpMt[0] = 0;
  gfpFlags[0] = ALLOCATED;
  const kernelFlags = ALLOCATED;
  const stock = Math.min(high - 1, nrPages - firstPfn);
  for (let i = 0; i < stock; i++) {
    const pfn = firstPfn + i;
    M[FLAGS + pfn] = pcpFlags;
    M[ring0 + i] = pfn;
  }
  M[end0] = stock; // start 0
  for (let mt = 0; mt < 3; mt++) M[ring0 + mt * capacity + capacity - 1] = NONE; // the sentinels below start
  M[countWord] = stock;

  // Where kmem takes its general path (a refill, a drain, a misuse to diagnose), this throws.
  const fail = (what: string): never => {
    throw new Error(`pcp reference: ${what}`);
  };

  const allocPages = (order: number, gfp = 0, owner = 0): number => {
    const m = M;
    let endWord = end0;
    let ring = ring0;
    let flags = kernelFlags;
    if (gfp !== 0) {
      const mt = gfpMt[gfp & GFP_MASK] as number;
      if (mt < 0 || (gfp & GFP_MASK) !== gfp) return fail('not a request it serves');
      endWord = end0 + 2 * mt;
      ring = ring0 + mt * capacity;
      flags = gfpFlags[gfp] as number;
    }
    if (order !== 0 || owner !== 0) return fail('not an order-0 request it serves');
    const end = ((m[endWord] as number) - 1) & mask;
    const pfn = m[ring + end] as number;
    if (pfn === NONE) return fail('the list is empty');
    m[endWord] = end;
    m[countWord] = ((m[countWord] as number) - 1) | 0;
    m[FLAGS + pfn] = flags;
    return pfn;
  };

  const freePages = (pfn: number, order: number, owner = 0): void => {
    const m = M;
    const flagsAt = (FLAGS + pfn) | 0;
    // One test and one exit (V8 inlines a function of up to 460 bytes of bytecode, and each exit costs some).
    if (order !== 0 || owner !== 0 || (pfn >>> 0) !== pfn || pfn >= nrPages || pfn < firstPfn || ((m[flagsAt] as number) & (SLOW_FREE | SLAB | ALLOCATED)) !== ALLOCATED) {
      return fail('not a plain allocated page');
    }
    const mt = B[PAGEBLOCK + (pfn >>> PAGEBLOCK_ORDER)] as number;
    const count = ((m[countWord] as number) + 1) | 0;
    const frees = ((m[freesWord] as number) + 1) | 0;
    // One exit, as kmem's fast path has it.
    if (mt > 2 || count >= (m[highWord] as number) || frees > FREES_FOLD) return fail('a pageblock of no pcp list, the list at high, or the frees word at its fold point');
    // The pageblock's migratetype picks the list; Unmovable's by a branch, not by arithmetic: the
    // push's address then does not wait for the load (the same choice kmem's fast path makes).
    let endWord = end0;
    let ring = ring0;
    if (mt !== 0) {
      endWord = end0 + 2 * mt;
      ring = ring0 + mt * capacity;
    }
    m[countWord] = count;
    m[flagsAt] = pcpFlags; // Pcp and the CPU's tag (pcpPageFlags)
    const end = m[endWord] as number;
    m[ring + end] = pfn;
    m[endWord] = (end + 1) & mask;
    m[freesWord] = frees;
  };

  return { allocPages, freePages };
}

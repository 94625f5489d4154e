/**
 * CpuSlab: this worker's fast paths, for every cache at once (Linux reaches the same state through
 * s->cpu_slab, a struct kmem_cache_cpu per cache and CPU). One row of ROW_WORDS integers per cache
 * table slot, in one host-side Int32Array, so that kfree() goes from an address to its cache's
 * magazine through typed-array loads alone: owner tag (mem_map) → slot → row → magazine.
 *
 *   row (slot · ROW_WORDS + …)
 *     F.ROUNDS_WORD  word index of the round count of this CPU's loaded magazine (P_ROUNDS in the
 *                    arena); the header's always −1 word when the handle is unbound or retired
 *     F.LOADED       word index of round 0 of the loaded magazine (a copy: only this CPU moves it)
 *     F.CAPACITY     rounds per magazine
 *     F.TAG          the owner tag a fast free accepts: the cache's, or −1 (never: slow-only and
 *                    init_on_free caches, and slots this worker has no handle for)
 *     F.INIT         alloc-time work: 0 none; n > 0 zero n bytes (init_on_alloc); −1 − k wipe the
 *                    word k words into the object (init_on_free's stale link word)
 *     F.MARK         word offset of the lazy-mode mark from the object's first word
 *     F.BIT_CHECK    1 when a lazy fast free must also read the state bit: the mark shares the
 *                    free-pointer word, so objects on a slab free list do not carry it
 *     F.SHIFT, F.INVERSE, F.LIMIT, F.SPAN
 *                    the object-start test without a division: with the slot size = 2^k · d, d odd,
 *                    `off` bytes past a full-order slab's first object is an object start iff
 *                    0 ≤ off < objs · size, off's low k bits are 0, and (off >> k) · d⁻¹ mod 2^32
 *                    ≤ ⌊(2^32 − 1) / d⌋ (the divisibility test of Granlund & Montgomery, PLDI 1994,
 *                    §9; Lemire, Kaser & Kurz 2019), where d⁻¹ is d's inverse mod 2^32
 *
 * Invariants: a row whose F.TAG is a cache's tag has F.ROUNDS_WORD = that cache's P_ROUNDS word for
 * this CPU or the −1 word; the row past the last slot (deadRow) never changes, so a handle retired
 * there, or a kmalloc class with no cache yet, always misses.
 *
 * Allocation state (alloc-state.ts) has two modes, and each has its own pair of fast paths:
 *   eager (shared arenas)  a fast free clears the object's state bit, a fast alloc sets it: one
 *                          Atomics.and / Atomics.or each, whose old value says whether this thread
 *                          made the change, so of two racing frees of one object exactly one wins
 *                          (plain loads and stores over a plain ArrayBuffer booted shared)
 *   lazy (plain arenas)    the bitmap does not change: a fast free reads the object's mark word
 *                          (every free object carries FREE_MARK ^ addr there, so without it the
 *                          object is allocated; F.BIT_CHECK rows also read the state bit), then
 *                          writes the mark; a fast alloc writes 0 to the mark. No read-modify-
 *                          write of a word another object shares, so an alloc and a free of one
 *                          object form no chain through memory (F.MARK: which word)
 *
 * Both fast paths either finish or change nothing and answer "slow path" (0 or false): the caller's
 * slow path then checks again and explains (a double free is reported there, with the cache name).
 *
 * The fast paths are closures over the typed arrays they read, not methods reading them from
 * `this`: V8 loads a captured array as an immutable context slot, where a method re-loads the
 * field and re-checks its holder's map on every call (a one-off measurement while this was written,
 * Node 20: 25 vs 16 ns per kmalloc churn pair on the same arena; the bench's churn group shows the
 * result, docs/benchmarks.md the history).
 */
import { DuplicateObjectError } from './errors.ts';

/** Words per row. */
export const ROW_WORDS = 16;

/** Row fields: word offsets in a row (see the file comment). @internal */
export const ROW_FIELDS = {
  ROUNDS_WORD: 0,
  LOADED: 1,
  CAPACITY: 2,
  TAG: 4,
  INIT: 5,
  SHIFT: 6,
  INVERSE: 7,
  LIMIT: 8,
  SPAN: 9,
  MARK: 11,
  BIT_CHECK: 12,
} as const;
const F = ROW_FIELDS;

/*
 * The fast paths (initObject … freeAny below) write these constants, and alloc-state.ts's
 * FREE_MARK, STATE_WORD_SHIFT, STATE_BIT_SHIFT and ram.ts's PAGE_SHIFT, as numeric literals, each
 * followed by its name in a comment, as TypeScript itself writes a const enum. A module constant
 * costs a context-slot load and a hole check in bytecode (6 bytes a use), and tsc does not inline
 * a const enum under isolatedModules. The size matters: V8 inlines the callees of a hot loop only
 * while their bytecode adds up to at most --max-inlined-bytecode-size-cumulative (920 bytes in
 * Node 20's V8). A caller's loop with kmalloc, kfree and two accesses to its objects went past it,
 * so kfree's fast path became a call (docs/benchmarks.md, "kmalloc churn with the objects used").
 * test/mm/slab/inlining.test.ts checks every such literal against the constant it names, and that
 * the loop inlines kfree.
 */

/** What a row is bound from: a cache handle's layout and state. */
interface CpuSlabBinding {
  readonly tag: number;
  readonly size: number;
  readonly objs: number;
  readonly rounds: number;
  readonly name: string;
  /** Word offset of the lazy-mode mark in an object (CacheContext.markWord). */
  readonly markWord: number;
  /** Whether the mark shares the free-pointer word (CacheContext.markIsLink). */
  readonly markIsLink: boolean;
}

/** The kmalloc size classes CpuSlab maps sizes to (kmalloc.ts owns their meaning). */
export interface KmallocClasses {
  /** Class index of every size 0..maxSize (index 0: no class). */
  readonly classOf: Uint8Array;
  readonly classes: number;
}

export interface CpuSlab {
  /** Row index of the row past the last slot: it never hits. */
  readonly deadRow: number;
  /** Pops the top round of row `b`'s loaded magazine: the address, or 0 for the slow path. */
  alloc(b: number): number;
  /** kmalloc's fast path: a round of the normal cache of `size`'s class, or 0 for the slow path. */
  kmalloc(size: number): number;
  /**
   * Frees `addr` as an object of row `b`'s cache onto its loaded magazine. False, with nothing
   * changed, unless it starts an object of a full-order slab of that cache, is allocated (eager:
   * its state bit set, and cleared by this call; lazy: no mark, which this call writes, and with
   * F.BIT_CHECK its bit set), and the magazine has room.
   */
  free(addr: number, b: number): boolean;
  /** kfree's fast path: free() with the row of the cache the page's owner tag names. */
  freeAny(addr: number): boolean;
  /** Pushes a free object (its state changed: eager bit clear, lazy mark written) on row `b`'s loaded magazine; false when it is full or missing. */
  push(b: number, addr: number): boolean;
  /** Row `b`'s alloc-time work on a new object (F.INIT). */
  initObject(b: number, addr: number): void;
  /** Fills row `b` for a cache handle (its fast free accepted only with `fastFree`). */
  bind(b: number, cache: CpuSlabBinding, fastFree: boolean, init: number): void;
  /** Points row `b` at this CPU's loaded magazine: its round-count word and the word of round 0. */
  load(b: number, roundsWord: number, loadedWord: number): void;
  /** Row `b` misses on both paths until bound again. */
  clear(b: number): void;
  /** The normal kmalloc cache of class `index` has row `b`. */
  setKmallocRow(index: number, b: number): void;
}

/**
 * This worker's CpuSlab over the arena `w`.
 * @param stateBase  word index of the allocation-state bitmap (alloc-state.ts)
 * @param shared     whether other threads share the arena: only then are the state changes Atomics
 * @param lazy       lazy allocation state (alloc-state.ts; never over a shared arena)
 */
export function createCpuSlab(
  w: Int32Array,
  owner: Uint32Array,
  firstObject: Uint32Array,
  stateBase: number,
  shared: boolean,
  lazy: boolean,
  neverWord: number,
  maxCaches: number,
  kmallocClasses: KmallocClasses,
): CpuSlab {
  let slots = 1;
  while (slots < maxCaches + 1) slots *= 2;
  const deadRow = maxCaches * ROW_WORDS;
  const rows = new Int32Array(slots * ROW_WORDS);
  const kmallocRow = new Int32Array(kmallocClasses.classes).fill(deadRow);
  return cpuSlabPaths(w, new Uint32Array(w.buffer), new Uint8Array(w.buffer), rows, owner, firstObject, kmallocClasses.classOf, kmallocRow, stateBase, shared, lazy, neverWord, deadRow, slots - 1);
}

/**
 * createCpuSlab's closures. The typed arrays are parameters here, not constants of the function
 * that made them, so that the closures read them without a hole check (two bytes of bytecode per
 * read, against the inlining budget: see ROW_FIELDS).
 */
function cpuSlabPaths(
  w: Int32Array,
  u32: Uint32Array,
  bytes: Uint8Array,
  rows: Int32Array,
  owner: Uint32Array,
  firstObject: Uint32Array,
  classOf: Uint8Array,
  kmallocRow: Int32Array,
  stateBase: number,
  shared: boolean,
  lazy: boolean,
  neverWord: number,
  deadRow: number,
  slotMask: number,
): CpuSlab {
  const slots = slotMask + 1;
  const names: string[] = [];

  const clear = (b: number): void => {
    rows.fill(0, b, b + ROW_WORDS);
    rows[b + F.ROUNDS_WORD] = neverWord;
    rows[b + F.TAG] = -1;
  };
  for (let slot = 0; slot < slots; slot++) clear(slot * ROW_WORDS);

  const initObject = (b: number, addr: number): void => {
    const init = rows[b + 5 /* F.INIT */] as number;
    if (init > 0) bytes.fill(0, addr, addr + init);
    else if (init < 0) w[(addr >>> 2) - 1 - init] = 0;
  };

  /** An alloc found the top round's state bit set: it is held elsewhere, so the round is dropped. */
  const duplicate = (b: number, addr: number): never => {
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    w[rw] = (w[rw] as number) - 1;
    throw new DuplicateObjectError(addr, names[b / ROW_WORDS] ?? '?');
  };

  const allocEager = (b: number): number => {
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    const r = (w[rw] as number) - 1;
    if (r < 0) return 0;
    const addr = u32[(rows[b + 1 /* F.LOADED */] as number) + r] as number;
    const sw = stateBase + (addr >>> 8 /* STATE_WORD_SHIFT */);
    const bit = 1 << ((addr >>> 3 /* STATE_BIT_SHIFT */) & 31);
    // The bit before the pop: V8 stops a terminated worker at an Atomics call's entry, and a round
    // popped but not yet marked would be lost; marked and not yet popped, it is an allocation cut
    // short, which offlining the CPU leaves allocated (repair.ts).
    if (shared) {
      if ((Atomics.or(w, sw, bit) & bit) !== 0) return duplicate(b, addr);
    } else {
      const s = w[sw] as number;
      if ((s & bit) !== 0) return duplicate(b, addr);
      w[sw] = s | bit;
    }
    w[rw] = r;
    if (rows[b + 5 /* F.INIT */] !== 0) initObject(b, addr);
    return addr;
  };

  const push = (b: number, addr: number): boolean => {
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    const r = w[rw] as number;
    if (r >>> 0 >= (rows[b + 2 /* F.CAPACITY */] as number)) return false;
    w[(rows[b + 1 /* F.LOADED */] as number) + r] = addr;
    w[rw] = r + 1;
    return true;
  };

  const allocLazy = (b: number): number => {
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    const r = (w[rw] as number) - 1;
    if (r < 0) return 0;
    w[rw] = r;
    const addr = u32[(rows[b + 1 /* F.LOADED */] as number) + r] as number;
    w[(addr >>> 2) + (rows[b + 11 /* F.MARK */] as number)] = 0;
    if (rows[b + 5 /* F.INIT */] !== 0) initObject(b, addr);
    return addr;
  };

  /** Whether `addr` starts an object of a full-order slab of row `b`'s cache (see F.SHIFT …). */
  // A declaration, not a const closure: its callers then call it without a hole check.
  function objectStart(addr: number, b: number): boolean {
    const pfn = addr >>> 12 /* PAGE_SHIFT */;
    const off = addr - (firstObject[pfn] as number);
    const k = rows[b + 6 /* F.SHIFT */] as number;
    const q = off >>> k;
    // Fractions, negatives and values past 2^31 all fail the second or third test.
    if (owner[pfn] !== rows[b + 4 /* F.TAG */] || q << k !== off || off >>> 0 >= (rows[b + 9 /* F.SPAN */] as number)) return false;
    return Math.imul(q, rows[b + 7 /* F.INVERSE */] as number) >>> 0 <= (rows[b + 8 /* F.LIMIT */] as number) >>> 0;
  }

  /** The object's state bit (lazy mode: set while it is off its slab's free list). Out of line: only F.BIT_CHECK rows ask. */
  const stateBitSet = (addr: number): boolean => ((w[stateBase + (addr >>> 8 /* STATE_WORD_SHIFT */)] as number) & (1 << ((addr >>> 3 /* STATE_BIT_SHIFT */) & 31))) !== 0;

  const freeLazy = (addr: number, b: number): boolean => {
    if (!objectStart(addr, b)) return false;
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    const r = w[rw] as number;
    if (r >>> 0 >= (rows[b + 2 /* F.CAPACITY */] as number)) return false;
    // Mark present: free already (or a caller's bytes); the slow path tells which. Every free
    // object carries it, except on a slab free list where the mark shares the link word: there,
    // a clear state bit says so.
    const mw = (addr >>> 2) + (rows[b + 11 /* F.MARK */] as number);
    const mark = addr ^ 0x4d41475b /* FREE_MARK */;
    if (w[mw] === mark) return false;
    if (rows[b + 12 /* F.BIT_CHECK */] !== 0 && !stateBitSet(addr)) return false;
    w[mw] = mark;
    w[(rows[b + 1 /* F.LOADED */] as number) + r] = addr;
    w[rw] = r + 1;
    return true;
  };

  const freeEager = (addr: number, b: number): boolean => {
    if (!objectStart(addr, b)) return false;
    const rw = rows[b + 0 /* F.ROUNDS_WORD */] as number;
    const r = w[rw] as number;
    if (r >>> 0 >= (rows[b + 2 /* F.CAPACITY */] as number)) return false;
    const sw = stateBase + (addr >>> 8 /* STATE_WORD_SHIFT */);
    const bit = 1 << ((addr >>> 3 /* STATE_BIT_SHIFT */) & 31);
    if (shared) {
      // One atomic step: of two racing frees, only the one that saw the bit set goes on.
      if ((Atomics.and(w, sw, ~bit) & bit) === 0) return false;
    } else {
      const s = w[sw] as number;
      if ((s & bit) === 0) return false;
      w[sw] = s & ~bit;
    }
    w[(rows[b + 1 /* F.LOADED */] as number) + r] = addr;
    w[rw] = r + 1;
    return true;
  };

  const alloc = lazy ? allocLazy : allocEager;
  const free = lazy ? freeLazy : freeEager;
  return {
    deadRow,
    alloc,
    kmalloc(size) {
      const index = classOf[size]; // undefined for sizes that are not whole numbers in range
      return index === undefined ? 0 : alloc(kmallocRow[index] as number);
    },
    free,
    freeAny: (addr) => free(addr, ((owner[addr >>> 12 /* PAGE_SHIFT */] as number) & slotMask) * 16 /* ROW_WORDS */),
    push,
    initObject,
    bind(b, cache, fastFree, init) {
      rows[b + F.ROUNDS_WORD] = neverWord;
      rows[b + F.LOADED] = 0;
      rows[b + F.CAPACITY] = cache.rounds;
      rows[b + F.TAG] = fastFree ? cache.tag : -1;
      rows[b + F.INIT] = init;
      const k = 31 - Math.clz32(cache.size & -cache.size);
      const d = cache.size >>> k;
      rows[b + F.SHIFT] = k;
      rows[b + F.INVERSE] = oddInverse(d);
      rows[b + F.LIMIT] = Math.floor(0xffffffff / d) | 0;
      rows[b + F.SPAN] = cache.objs * cache.size;
      rows[b + F.MARK] = cache.markWord;
      rows[b + F.BIT_CHECK] = cache.markIsLink ? 1 : 0;
      names[b / ROW_WORDS] = cache.name;
    },
    load(b, roundsWord, loadedWord) {
      rows[b + F.ROUNDS_WORD] = roundsWord;
      rows[b + F.LOADED] = loadedWord;
    },
    clear,
    setKmallocRow(index, b) {
      kmallocRow[index] = b;
    },
  };
}

/** x with x · d ≡ 1 (mod 2^32), for odd d: Newton's iteration, each step doubling the correct low bits. */
export function oddInverse(d: number): number {
  let x = d; // correct to 3 bits: d · d ≡ 1 (mod 8) for odd d
  for (let i = 0; i < 4; i++) x = Math.imul(x, 2 - Math.imul(d, x));
  return x | 0;
}

/**
 * Translation lookaside buffers: one CPU's L1 data TLB arrays, its second-level TLB (STLB), and
 * optional page-walk caches (Intel's paging-structure caches, SDM vol. 3A §4.10.3), with PCID tags
 * so that a CR3 switch need not flush (§4.10.1). Geometry presets and their sources: tlb-presets.ts.
 *
 * INTERFACE
 *   - `Tlb.lookup(vaddr, pcid)` probes L1, then L2; on a hit it leaves the translation in `frame`,
 *     `pageShift`, `perms` and returns the level that hit (1 or 2), or 0 on a miss. An L2 hit is
 *     copied into L1 (the inclusive-on-fill behaviour of Intel's and AMD's two-level TLBs).
 *   - `Tlb.fill(vaddr, pcid, frame, pageShift, perms)` after a walk: installs the leaf in every level
 *     that holds that page size (a level holding none of it, e.g. 1 GiB in Zen 3's L2, is skipped).
 *   - Invalidation as the instructions do it: `invlpg(vaddr, pcid)` drops the translations of that
 *     address under `pcid` and global ones, and empties the page-walk caches for `pcid` (§4.10.4.1:
 *     INVLPG invalidates all paging-structure-cache entries of the current PCID); `flushPcid(pcid)`
 *     (INVPCID single-context, keeps global entries); `flushAll(keepGlobal)` (CR3 write without PCID
 *     → keepGlobal = true; INVPCID all-context → false).
 *
 * ARRAY LAYOUT (host-side typed arrays: a TLB is private to its CPU and losing it on resume is what
 *   hardware does too, so nothing lives in RAM)
 *   entry i of an array with `ways` ways lives in set ⌊i / ways⌋; set = key mod sets (the model's
 *   index function: the real hash of the STLB is not published), key = ⌊vaddr / pageSize⌋.
 *   tag[i] = (key · 4 + sizeClass) · TAG_ASIDS + asid, −1 when empty; asid = pcid, or GLOBAL_ASID
 *   for a global entry (G = 1), which matches every PCID. Keys are < 2^36 and TAG_ASIDS = 2^13, so a
 *   tag is < 2^51 and exact in a double. An entry's asid and size class are read from its tag's low
 *   32 bits (tagAsid, tagClass): no array holds them again, so a fill writes two fewer words and
 *   the replaced entry's class and asid come from the tag it reads anyway.
 *   LRU: stamp[i] (int32) is the array's clock at the entry's last use, EMPTY_STAMP (−1) for an empty
 *   way; the victim is the first empty way, else the way of least stamp (valid stamps are distinct);
 *   at STAMP_LIMIT the stamps are renumbered as ranks within each set. A use writes only the stamp.
 *   A fill finds its victim through the set's recency ring (lruOrder, lruHeads, lruPlaced; see
 *   lruTake): the ways in the order of their stamps when they took their place, so the victim is
 *   usually the ring's head, one stamp compared where a scan reads them all (lruVictim, the scan,
 *   is what validate() and the tests check it by).
 *   sig: a byte per way (a hash of its tag) that a probe tests four ways at a time before it reads
 *   any tag (see sigWords). Invariant: within a set, no two valid entries have the same tag.
 */
import { ArgumentError, InvariantError } from '../util/errors.ts';
import { PERM_GLOBAL, type WalkCache } from './mmu.ts';
import { PAGE_SHIFT_1G, PAGE_SHIFT_2M, PAGE_SHIFT_4K } from './pte.ts';

// Module-local copies of imported constants (see mmu.ts: under tsx's CommonJS output an imported
// binding is a getter call on every use).
const L_PAGE_SHIFT_1G = PAGE_SHIFT_1G;
const L_PAGE_SHIFT_2M = PAGE_SHIFT_2M;
const L_PAGE_SHIFT_4K = PAGE_SHIFT_4K;
const L_PERM_GLOBAL = PERM_GLOBAL;

export const MAX_PCID = 4095;
export const GLOBAL_ASID = 4096;
const TAG_ASIDS = 8192;
/** Page shift by size class (tag bits 13–14): 4 KiB, 2 MiB, 1 GiB. */
const SHIFT_OF_CLASS = [L_PAGE_SHIFT_4K, L_PAGE_SHIFT_2M, L_PAGE_SHIFT_1G];

/** A valid tag's asid (its pcid, or GLOBAL_ASID): its low 13 bits. `>>> 0` takes a double's low 32
 *  bits exactly (ToUint32 of an integer below 2^53 is its value mod 2^32): no float modulo. */
export function tagAsid(tag: number): number {
  return (tag >>> 0) & 8191; // TAG_ASIDS − 1
}

/** A valid tag's size class (0: 4 KiB, 1: 2 MiB, 2: 1 GiB), the two bits above its asid. */
export function tagClass(tag: number): number {
  return (tag >>> 13) & 3;
}

/** A valid tag's page shift. */
export function tagShift(tag: number): number {
  return SHIFT_OF_CLASS[tagClass(tag)]!;
}
/** The stamp of an empty way: below every clock value (the clock starts at 0 and only grows). */
const EMPTY_STAMP = -1;
/** Stamps are int32 (so the victim scan can be branch-free, see `lruVictim`); when an array's clock
 *  reaches this, `renumberStamps()` rewrites every set's stamps as ranks 0 … ways − 1 in the same
 *  order, which keeps every victim the same. 2^29 keeps the clock a small integer (a V8 Smi, also
 *  where those are 31 bits) and leaves room for the int32 differences the scan takes. */
export const STAMP_LIMIT = 2 ** 29;
/** 1 / page size for each size class: a key is ⌊vaddr · inverse⌋ (exact: powers of two). */
const INVERSE_4K = 1 / 4096;
const INVERSE_2M = 1 / 2097152;
const INVERSE_1G = 1 / 1073741824;
const INVERSE_PAGE_BYTES = [INVERSE_4K, INVERSE_2M, INVERSE_1G];

/** One set-associative array (fully associative when sets = 1). */
export interface TlbArraySpec {
  name: string;
  entries: number;
  ways: number;
  /** Page shifts the array holds (12, 21, 30). */
  pageShifts: number[];
}

export interface ArrayCounters {
  name: string;
  hits: number;
  /** Used by the page-walk caches, whose arrays are probed one after another. */
  misses: number;
  fills: number;
  evictions: number;
}

function pageBytes(pageShift: number): number {
  return pageShift === L_PAGE_SHIFT_4K ? 4096 : pageShift === L_PAGE_SHIFT_2M ? 2097152 : 1073741824;
}

/** The filter byte of a tag (see TlbArray.sigWords): a multiplicative hash of the key's low 32 bits,
 *  the size class and the asid; any function of the tag would be exact, a good mix keeps the
 *  false matches near 1 in 256 per way. */
export function signature(key: number, cls: number, asid: number): number {
  return seededSignature(key, signatureSeed(cls, asid));
}

/** The part of a signature that depends on the size class and the asid only. */
export function signatureSeed(cls: number, asid: number): number {
  return (cls << 30) ^ Math.imul(asid, 0x2c1b3c6d);
}

const imul = Math.imul;

/** signature(key, cls, asid) from signatureSeed(cls, asid) (`^` takes the key's low 32 bits). Cpu's
 *  miss path computes its seeds once per run and calls this at two sites (its tags' signature, a
 *  global fill's); at 23 bytes of bytecode, under --max-inlined-bytecode-size-small (27), V8 inlines
 *  it outside its cumulative budget (test/machine/miss-path-inlining.test.ts). `imul`, not
 *  `Math.imul`: the global's load and property load would take it to 28. */
export function seededSignature(key: number, seed: number): number {
  return imul(key ^ seed, 0x9e3779b1) >>> 24;
}

function sizeClass(pageShift: number): number {
  return pageShift === L_PAGE_SHIFT_4K ? 0 : pageShift === L_PAGE_SHIFT_2M ? 1 : 2;
}

/** Whether one of the `count` signature words from `first` holds byte `sig` (TlbArray's filter;
 *  exported for Cpu's miss path). Up to four words (16 ways) without a loop: where `count` is a
 *  constant (the miss path's closure) the tests fold away, and the 12-way STLB's three words cost
 *  about 4 ns less per miss than through the loop (bench/vm.bench.ts miss-heavy). */
export function sigMayHold(words: Int32Array, first: number, count: number, sig: number): boolean {
  const pattern = sig * 0x01010101;
  if (count > 4) return sigLoopMayHold(words, first, count, pattern);
  // (x − 0x01010101) & ~x & 0x80808080 is non-zero iff some byte of x is 0 (the has-zero-byte test).
  const x0 = words[first]! ^ pattern;
  let zeroBytes = (x0 - 0x01010101) & ~x0;
  if (count > 1) {
    const x1 = words[first + 1]! ^ pattern;
    zeroBytes |= (x1 - 0x01010101) & ~x1;
  }
  if (count > 2) {
    const x2 = words[first + 2]! ^ pattern;
    zeroBytes |= (x2 - 0x01010101) & ~x2;
  }
  if (count > 3) {
    const x3 = words[first + 3]! ^ pattern;
    zeroBytes |= (x3 - 0x01010101) & ~x3;
  }
  return (zeroBytes & 0x80808080) !== 0;
}

function sigLoopMayHold(words: Int32Array, first: number, count: number, pattern: number): boolean {
  let zeroBytes = 0;
  for (let k = first; k < first + count; k++) {
    const x = words[k]! ^ pattern;
    zeroBytes |= (x - 0x01010101) & ~x & 0x80808080; // non-zero iff some byte of x is 0
  }
  return zeroBytes !== 0;
}

/** The way of base … base + ways − 1 whose tag is `tag`, or −1: a probe's tag scan (TlbArray's,
 *  and Cpu's miss path's over an array it holds as a constant). */
export function findWay(tags: Float64Array, base: number, ways: number, tag: number): number {
  for (let w = base; w < base + ways; w++) if (tags[w] === tag) return w;
  return -1;
}

/** findWay for two tags in one scan: the way holding `tag`, else the way holding `alt` (or −1).
 *  Cpu's miss path probes L1 for this PCID's tag and the global one (alt = tag while the array
 *  holds no global entry) through it: one call site, so one inlining candidate, not two. */
export function findWayEither(tags: Float64Array, base: number, ways: number, tag: number, alt: number): number {
  let other = -1;
  for (let w = base; w < base + ways; w++) {
    const t = tags[w];
    if (t === tag) return w;
    if (t === alt) other = w;
  }
  return other;
}

/** The LRU victim by a scan of the stamps: the first way of strictly least stamp in base … base +
 *  ways − 1. lruTake finds the same way through the ring; validate() and the tests compare the two. */
export function lruVictim(stamps: Int32Array, base: number, ways: number): number {
  const end = base + ways;
  let victim = base;
  let oldest = stamps[base]!;
  for (let i = base + 1; i < end; i++) {
    const d = stamps[i]! - oldest;
    const less = d >> 31; // −1 when stamps[i] < oldest (|d| < 2^31: stamps lie in [−1, STAMP_LIMIT])
    oldest += d & less;
    victim += (i - victim) & less;
  }
  return victim;
}

/** An lruPlaced value no stamp equals: written at a ring's head when the ring must be put in order
 *  again before its next victim (after a way of it was emptied, or the stamps renumbered). */
export const LRU_UNORDERED = -2;

/** Scratch for lruReorder (grown to the largest set it sorts). */
let reorderScratch = new Int32Array(16);

/**
 * The LRU victim of set `set` (entries set · ways … + ways − 1), lruVictim's way, found through the
 * set's recency ring; the caller gives the victim the stamp `stamp` (a fill does: the clock's next
 * value). The ring: `order` holds the set's way numbers from position 0, `heads[set]` is the ring's
 * first position, and `placed[i]` is entry i's stamp when it took its place in the ring. Along the
 * ring from its head the (placed, way) pairs increase, and a use only raises a stamp, so an entry
 * whose stamp is still its placed stamp is untouched since. Then the head, if untouched, is the least
 * (stamp, way) of the set: its stamp is the least placed one, and any other entry's stamp is at least
 * its placed stamp, which is greater (or equal, between empty ways, with a greater way number). So
 * the victim is usually the head: one stamp compared, where lruVictim reads all of them. The way
 * taken moves to the tail (the head moves on), its placed stamp the newest. A used head moves back
 * to its place by its present stamp, a ring marked LRU_UNORDERED is sorted (lruTakeSlow).
 */
export function lruTake(stamps: Int32Array, order: Uint16Array, placed: Int32Array, heads: Int32Array, set: number, ways: number, stamp: number): number {
  const base = set * ways;
  const head = heads[set]!;
  const i = base + order[base + head]!;
  if (stamps[i] !== placed[i]) return lruTakeSlow(stamps, order, placed, heads, set, ways, stamp);
  heads[set] = (head + 1) & ((head + 1 - ways) >> 31); // the next position, 0 after the last
  placed[i] = stamp;
  return i;
}

/** lruTake past a used head: each used way met at the head takes its place again at its present
 *  stamp (moved from the head towards the tail past the ways placed after that stamp, usually a
 *  few), until an unused head comes; a ring marked LRU_UNORDERED is sorted whole (lruReorder). */
function lruTakeSlow(stamps: Int32Array, order: Uint16Array, placed: Int32Array, heads: Int32Array, set: number, ways: number, stamp: number): number {
  const base = set * ways;
  for (let k = 0; k < ways; k++) {
    const head = heads[set]!;
    const i = base + order[base + head]!;
    const now = stamps[i]!;
    const first = (head + 1) & ((head + 1 - ways) >> 31); // the next position, 0 after the last
    if (now === placed[i]) {
      heads[set] = first;
      placed[i] = stamp;
      return i;
    }
    if (placed[i] === LRU_UNORDERED) break;
    // Used since placed (now > placed): the ring without it, then it, moved back while the way
    // before it was placed after `now` (placed stamps of different entries differ: each is a
    // clock value given once, or −1, below `now`).
    placed[i] = now;
    heads[set] = first;
    let at = head;
    for (let m = 1; m < ways; m++) {
      const before = at === 0 ? ways - 1 : at - 1;
      const other = order[base + before]!;
      if (placed[base + other]! < now) break;
      order[base + at] = other;
      order[base + before] = i - base;
      at = before;
      if (at === first) break;
    }
  }
  lruReorder(stamps, order, placed, heads, set, ways);
  heads[set] = ways === 1 ? 0 : 1;
  const i = base + order[base]!;
  placed[i] = stamp;
  return i;
}

/** The entry lruTake would take without sorting (nothing written), or −1 when it would sort. */
export function lruPeek(stamps: Int32Array, order: Uint16Array, placed: Int32Array, heads: Int32Array, set: number, ways: number): number {
  const base = set * ways;
  const i = base + order[base + heads[set]!]!;
  return stamps[i] === placed[i] ? i : -1;
}

/** Sorts set `set`'s ring by (stamp, way) from position 0 (an insertion sort from the ring's order,
 *  which is nearly sorted already), and places every way at its present stamp. */
export function lruReorder(stamps: Int32Array, order: Uint16Array, placed: Int32Array, heads: Int32Array, set: number, ways: number): void {
  const base = set * ways;
  const head = heads[set]!;
  if (reorderScratch.length < ways) reorderScratch = new Int32Array(ways);
  const sorted = reorderScratch;
  for (let k = 0; k < ways; k++) {
    const at = head + k < ways ? head + k : head + k - ways;
    const way = order[base + at]!;
    const stamp = stamps[base + way]!;
    let j = k;
    for (; j > 0; j--) {
      const prev = sorted[j - 1]!;
      const prevStamp = stamps[base + prev]!;
      if (prevStamp < stamp || (prevStamp === stamp && prev < way)) break;
      sorted[j] = prev;
    }
    sorted[j] = way;
  }
  for (let k = 0; k < ways; k++) {
    const way = sorted[k]!;
    order[base + k] = way;
    placed[base + way] = stamps[base + way]!;
  }
  heads[set] = 0;
}

export class TlbArray {
  readonly sets: number;
  readonly ways: number;
  /** sets − 1: the set count is a power of two, so the index is `key & setMask` (no float modulo). */
  readonly setMask: number;
  readonly holds4k: boolean;
  readonly holds2m: boolean;
  readonly holds1g: boolean;
  readonly tags: Float64Array;
  readonly frames: Float64Array;
  readonly perms: Int32Array;
  /** LRU: each entry's last-use time on `clock` (Cpu.shortcutRun bumps them inline, having checked
   *  that its run keeps the clock below STAMP_LIMIT; everything else goes through `touch`). */
  readonly stamps: Int32Array;
  clock = 0;
  /** Per set, a ring of its way numbers (`ways` entries from set · ways), the ring's first position
   *  (lruHeads[set]), and each entry's stamp when it took its place in the ring: see lruTake. */
  readonly lruOrder: Uint16Array;
  readonly lruHeads: Int32Array;
  readonly lruPlaced: Int32Array;
  /** Valid entries per size class (4K, 2M, 1G): a lookup skips the sizes the array holds none of. */
  readonly sizeCounts = new Int32Array(3);
  /** Valid global entries, so a lookup probes the global tag only when there are some. */
  globals = 0;
  readonly counters: ArrayCounters;
  /** Set by `probe()` on a hit: the entry's index. */
  hitIndex = -1;
  /**
   * A filter in front of the tag scan: one byte per way, `signature(key, class, asid)` of the tag the
   * way was last filled with, a set's bytes in `sigWordsPerSet` int32 words (padded with zeros). A
   * probe compares its tag's byte with four ways at once (a zero-byte test on the XOR); a set whose
   * words hold no equal byte cannot hold the tag, which proves most misses without reading the tags.
   * Any equal byte sends the probe to the exact tag scan, so the filter changes no result. Empty
   * ways keep a stale byte: at worst a scan that finds nothing. (Cpu's miss path reads the words
   * through a view of sigBytes' buffer and writes a fill's byte as `install` does.)
   */
  readonly sigBytes: Uint8Array;
  private readonly sigWords: Int32Array;
  readonly sigWordsPerSet: number;

  constructor(readonly spec: TlbArraySpec) {
    const { entries, ways } = spec;
    if (!Number.isInteger(entries) || !Number.isInteger(ways) || entries < 1 || ways < 1 || entries % ways !== 0) {
      throw new ArgumentError(`TLB array ${spec.name}: ${entries} entries in ${ways} ways: expected ways dividing entries`);
    }
    this.sets = entries / ways;
    if ((this.sets & (this.sets - 1)) !== 0) {
      throw new ArgumentError(`TLB array ${spec.name}: ${this.sets} sets: expected a power of two (the model indexes by the key's low bits)`);
    }
    this.setMask = this.sets - 1;
    this.ways = ways;
    this.holds4k = spec.pageShifts.includes(L_PAGE_SHIFT_4K);
    this.holds2m = spec.pageShifts.includes(L_PAGE_SHIFT_2M);
    this.holds1g = spec.pageShifts.includes(L_PAGE_SHIFT_1G);
    this.tags = new Float64Array(entries).fill(-1);
    this.frames = new Float64Array(entries);
    this.perms = new Int32Array(entries);
    this.stamps = new Int32Array(entries).fill(EMPTY_STAMP);
    if (ways > 0xffff) throw new ArgumentError(`TLB array ${spec.name}: ${ways} ways: expected at most 65535 (the LRU ring holds way numbers in 16 bits)`);
    // Every way empty, in way order, placed at its stamp: (placed, way) increase along each ring.
    this.lruOrder = new Uint16Array(entries);
    for (let i = 0; i < entries; i++) this.lruOrder[i] = i % ways;
    this.lruHeads = new Int32Array(this.sets);
    this.lruPlaced = new Int32Array(entries).fill(EMPTY_STAMP);
    this.sigWordsPerSet = Math.ceil(ways / 4);
    this.sigWords = new Int32Array(this.sets * this.sigWordsPerSet);
    this.sigBytes = new Uint8Array(this.sigWords.buffer);
    this.counters = { name: spec.name, hits: 0, misses: 0, fills: 0, evictions: 0 };
  }

  holds(pageShift: number): boolean {
    return pageShift === L_PAGE_SHIFT_4K ? this.holds4k : pageShift === L_PAGE_SHIFT_2M ? this.holds2m : this.holds1g;
  }

  /** Finds the entry for `key` of `pageShift` under `pcid` (or global); no counters. */
  find(key: number, pageShift: number, pcid: number): number {
    return this.findClass(key, sizeClass(pageShift), pcid);
  }

  private findClass(key: number, cls: number, pcid: number): number {
    const set = key & this.setMask;
    const tagBase = (key * 4 + cls) * TAG_ASIDS;
    let index = -1;
    if (this.mayHold(set, signature(key, cls, pcid))) index = this.scan(set, tagBase + pcid);
    if (index < 0 && this.globals > 0 && this.mayHold(set, signature(key, cls, GLOBAL_ASID))) index = this.scan(set, tagBase + GLOBAL_ASID);
    return index;
  }

  /** Whether a way of `set` carries signature byte `sig` (the filter: false proves the tag absent). */
  private mayHold(set: number, sig: number): boolean {
    return sigMayHold(this.sigWords, set * this.sigWordsPerSet, this.sigWordsPerSet, sig);
  }

  /** The way of `set` holding `tag`, or −1. */
  private scan(set: number, tag: number): number {
    return findWay(this.tags, set * this.ways, this.ways, tag);
  }

  /** Looks `vaddr` up for every page size the array holds; on a hit counts it, marks the entry
   *  most recently used and leaves its index in `hitIndex`. Misses are counted by the caller (per
   *  TLB level, since a level's arrays are probed in parallel). */
  probe(vaddr: number, pcid: number): boolean {
    let index = -1;
    const counts = this.sizeCounts;
    if (counts[0]! > 0) index = this.findClass(Math.floor(vaddr * INVERSE_4K), 0, pcid);
    if (index < 0 && counts[1]! > 0) index = this.findClass(Math.floor(vaddr * INVERSE_2M), 1, pcid);
    if (index < 0 && counts[2]! > 0) index = this.findClass(Math.floor(vaddr * INVERSE_1G), 2, pcid);
    if (index < 0) return false;
    this.counters.hits++;
    this.touch(index);
    this.hitIndex = index;
    return true;
  }

  /** Marks entry `index` most recently used. */
  touch(index: number): void {
    const clock = (this.clock + 1) | 0; // an int32 (below STAMP_LIMIT): see Cpu.shortcutRun
    this.clock = clock;
    this.stamps[index] = clock;
    if (clock >= STAMP_LIMIT) this.renumberStamps();
  }

  /**
   * Rewrites the stamps of every set as their ranks (0 for the least recent valid way … ), empty
   * ways staying EMPTY_STAMP, and sets the clock to the largest rank: the order within each set, the
   * only order a victim depends on, is unchanged. Called when the clock reaches STAMP_LIMIT.
   */
  renumberStamps(): void {
    const { stamps, tags, ways } = this;
    const order: number[] = [];
    let top = 0;
    for (let base = 0; base < stamps.length; base += ways) {
      order.length = 0;
      for (let i = base; i < base + ways; i++) if (tags[i]! >= 0) order.push(i);
      order.sort((a, b) => stamps[a]! - stamps[b]!);
      for (let r = 0; r < order.length; r++) stamps[order[r]!] = r;
      if (order.length > top) top = order.length;
    }
    this.clock = top - 1;
    // The placed stamps were of the old numbering: every ring is sorted again at its next fill.
    for (let set = 0; set < this.sets; set++) this.markUnordered(set);
  }

  /**
   * The way of set `set` a fill replaces when the tag is not in the set: the first empty way, else
   * the least recently used. Empty ways carry EMPTY_STAMP (below every clock value) and valid stamps
   * are distinct, so this is the first way of strictly least stamp, lruVictim's; found through the
   * set's ring (lruTake), which it leaves at the ring's tail: the caller stamps it (`touch`).
   */
  private takeVictim(set: number): number {
    return lruTake(this.stamps, this.lruOrder, this.lruPlaced, this.lruHeads, set, this.ways, this.clock + 1);
  }

  /** Makes lruTake sort set `set`'s ring before its next victim. */
  private markUnordered(set: number): void {
    const base = set * this.ways;
    this.lruPlaced[base + this.lruOrder[base + this.lruHeads[set]!]!] = LRU_UNORDERED;
  }

  /** Installs a translation; returns its index. Replaces an entry of the same tag, else the LRU way. */
  insert(vaddr: number, pcid: number, frame: number, pageShift: number, perms: number): number {
    return this.install(vaddr, pcid, frame, pageShift, perms, false);
  }

  /** `insert` of a translation the caller knows is absent (a lookup of this address and PCID just
   *  missed in this array, with nothing changed since): the tag scan is skipped. */
  insertAbsent(vaddr: number, pcid: number, frame: number, pageShift: number, perms: number): number {
    return this.install(vaddr, pcid, frame, pageShift, perms, true);
  }

  private install(vaddr: number, pcid: number, frame: number, pageShift: number, perms: number, absent: boolean): number {
    const cls = sizeClass(pageShift);
    const key = Math.floor(vaddr * INVERSE_PAGE_BYTES[cls]!);
    const asid = (perms & L_PERM_GLOBAL) !== 0 ? GLOBAL_ASID : pcid;
    const tag = (key * 4 + cls) * TAG_ASIDS + asid;
    const base = (key & this.setMask) * this.ways;
    const tags = this.tags;
    let victim = -1;
    if (!absent) {
      const end = base + this.ways;
      for (let i = base; i < end; i++) {
        if (tags[i] === tag) {
          victim = i;
          break;
        }
      }
    }
    const set = key & this.setMask;
    if (victim < 0) victim = this.takeVictim(set);
    this.sigBytes[set * this.sigWordsPerSet * 4 + (victim - base)] = signature(key, cls, asid);
    const old = tags[victim]!;
    const sizeCounts = this.sizeCounts;
    if (old >= 0) {
      // Replaces a valid entry: only the counters that change are written.
      if (old !== tag) {
        this.counters.evictions++;
        const oldCls = tagClass(old);
        if (oldCls !== cls) {
          sizeCounts[oldCls]!--;
          sizeCounts[cls]!++;
        }
        const oldGlobal = tagAsid(old) === GLOBAL_ASID;
        if (oldGlobal !== (asid === GLOBAL_ASID)) this.globals += oldGlobal ? -1 : 1;
        tags[victim] = tag;
      }
    } else {
      sizeCounts[cls]!++;
      if (asid === GLOBAL_ASID) this.globals++;
      tags[victim] = tag;
    }
    this.frames[victim] = frame;
    this.perms[victim] = perms;
    this.touch(victim);
    this.counters.fills++;
    return victim;
  }

  private drop(index: number): void {
    const tag = this.tags[index]!;
    if (tag < 0) return;
    if (tagAsid(tag) === GLOBAL_ASID) this.globals--;
    this.sizeCounts[tagClass(tag)]!--;
    this.tags[index] = -1;
    this.stamps[index] = EMPTY_STAMP;
    // Now the least recent way, wherever the ring has it: the ring is sorted at the next fill.
    this.markUnordered(Math.floor(index / this.ways));
  }

  /** Drops every translation covering `vaddr` under `pcid` and every global one. Returns how many. */
  invalidateAddress(vaddr: number, pcid: number): number {
    let dropped = 0;
    for (const shift of [L_PAGE_SHIFT_4K, L_PAGE_SHIFT_2M, L_PAGE_SHIFT_1G]) {
      if (!this.holds(shift)) continue;
      const key = Math.floor(vaddr / pageBytes(shift));
      const tagBase = (key * 4 + sizeClass(shift)) * TAG_ASIDS;
      const base = (key & this.setMask) * this.ways;
      for (let i = base; i < base + this.ways; i++) {
        const t = this.tags[i];
        if (t === tagBase + pcid || t === tagBase + GLOBAL_ASID) {
          this.drop(i);
          dropped++;
        }
      }
    }
    return dropped;
  }

  /** Drops every entry of `pcid` (keeping globals), or of every PCID when pcid < 0 (then globals go
   *  too unless keepGlobal). */
  invalidateWhere(pcid: number, keepGlobal: boolean): void {
    for (let i = 0; i < this.tags.length; i++) {
      const tag = this.tags[i]!;
      if (tag < 0) continue;
      const asid = tagAsid(tag);
      if (asid === GLOBAL_ASID ? !keepGlobal : pcid < 0 || asid === pcid) this.drop(i);
    }
  }

  validEntries(): number {
    let n = 0;
    for (let i = 0; i < this.tags.length; i++) if (this.tags[i]! >= 0) n++;
    return n;
  }

  /** Checks: no duplicate tag within a set, every tag in the set its key indexes, globals counted. */
  validate(): void {
    let globals = 0;
    for (let set = 0; set < this.sets; set++) {
      const seen = new Set<number>();
      for (let w = 0; w < this.ways; w++) {
        const i = set * this.ways + w;
        const t = this.tags[i]!;
        if (t < 0) {
          if (this.stamps[i] !== EMPTY_STAMP) throw new InvariantError(`TLB ${this.spec.name}: empty entry ${i} has stamp ${this.stamps[i]}, expected ${EMPTY_STAMP}`);
          continue;
        }
        if (!(this.stamps[i]! >= 0 && this.stamps[i]! <= this.clock)) throw new InvariantError(`TLB ${this.spec.name}: entry ${i} stamp ${this.stamps[i]} outside 0 … ${this.clock}`);
        if (seen.has(t)) throw new InvariantError(`TLB ${this.spec.name}: set ${set} holds tag ${t} twice`);
        seen.add(t);
        const key = Math.floor(Math.floor(t / TAG_ASIDS) / 4);
        if (key % this.sets !== set) throw new InvariantError(`TLB ${this.spec.name}: key ${key} in set ${set}, expected set ${key % this.sets}`);
        // The bit accessors against the tag's arithmetic (the model's definition of a tag).
        if (t % TAG_ASIDS !== tagAsid(t) || Math.floor(t / TAG_ASIDS) % 4 !== tagClass(t)) throw new InvariantError(`TLB ${this.spec.name}: entry ${i} tag ${t}: asid ${tagAsid(t)} or size class ${tagClass(t)} read wrong`);
        if (tagClass(t) > 2 || tagAsid(t) > GLOBAL_ASID) throw new InvariantError(`TLB ${this.spec.name}: entry ${i} tag ${t}: size class ${tagClass(t)} and asid ${tagAsid(t)}, expected at most 2 and ${GLOBAL_ASID}`);
        if (tagAsid(t) === GLOBAL_ASID) globals++;
        if (!this.holds(tagShift(t))) throw new InvariantError(`TLB ${this.spec.name}: holds a page of shift ${tagShift(t)} it does not cache`);
      }
    }
    for (let cls = 0; cls < 3; cls++) {
      let n = 0;
      for (let i = 0; i < this.tags.length; i++) if (this.tags[i]! >= 0 && tagClass(this.tags[i]!) === cls) n++;
      if (n !== this.sizeCounts[cls]) throw new InvariantError(`TLB ${this.spec.name}: ${n} entries of size class ${cls}, counter says ${this.sizeCounts[cls]}`);
    }
    if (globals !== this.globals) throw new InvariantError(`TLB ${this.spec.name}: ${globals} global entries, counter says ${this.globals}`);
    for (let set = 0; set < this.sets; set++) this.validateRing(set);
  }

  /** The ring of `set` holds every way once; unless marked for sorting, its (placed, way) pairs
   *  increase from its head and no stamp is below its placed stamp; its victim is the scan's. */
  private validateRing(set: number): void {
    const { ways, stamps, lruOrder, lruPlaced, lruHeads } = this;
    const base = set * ways;
    const head = lruHeads[set]!;
    const where = `TLB ${this.spec.name}: set ${set}'s LRU ring`;
    if (!(head >= 0 && head < ways)) throw new InvariantError(`${where}: head ${head} outside 0 … ${ways - 1}`);
    const seen = new Uint8Array(ways);
    for (let k = 0; k < ways; k++) {
      const way = lruOrder[base + k]!;
      if (way >= ways || seen[way] !== 0) throw new InvariantError(`${where}: way ${way} at position ${k} is repeated or not a way, expected each of 0 … ${ways - 1} once`);
      seen[way] = 1;
    }
    if (lruPlaced[base + lruOrder[base + head]!] === LRU_UNORDERED) return;
    let prev = -1;
    for (let k = 0; k < ways; k++) {
      const way = lruOrder[base + ((head + k) % ways)]!;
      const placed = lruPlaced[base + way]!;
      if (stamps[base + way]! < placed) throw new InvariantError(`${where}: way ${way} has stamp ${stamps[base + way]} below its placed stamp ${placed}`);
      if (prev >= 0) {
        const before = lruPlaced[base + prev]!;
        if (!(before < placed || (before === placed && prev < way))) throw new InvariantError(`${where}: way ${way} (placed ${placed}) after way ${prev} (placed ${before}): expected (placed, way) to increase`);
      }
      prev = way;
    }
    const taken = lruPeek(stamps, lruOrder, lruPlaced, lruHeads, set, ways);
    const scanned = lruVictim(stamps, base, ways);
    if (taken >= 0 && taken !== scanned) throw new InvariantError(`${where}: victim ${taken}, the stamp scan says ${scanned}`);
  }
}

/** Sizes of the three paging-structure caches (entries each, fully associative LRU). */
export interface WalkCacheSpec {
  pml4: number;
  pdpt: number;
  pde: number;
}

/**
 * Page-walk caches (§4.10.3): PML4-cache keyed by vaddr bits 47:39, PDPTE-cache by 47:30, PDE-cache
 * by 47:21, each tagged by PCID and holding the next table's address and the rights above it.
 */
export class PageWalkCaches implements WalkCache {
  table = 0;
  perms = 0;
  /** Index 0: PDE-cache (level 2), 1: PDPTE-cache (level 3), 2: PML4-cache (level 4). */
  readonly arrays: [TlbArray, TlbArray, TlbArray];

  constructor(readonly spec: WalkCacheSpec) {
    // The entries are stored through TlbArray with the shift of the region each entry covers.
    this.arrays = [
      new TlbArray({ name: 'PDE-cache', entries: spec.pde, ways: spec.pde, pageShifts: [L_PAGE_SHIFT_2M] }),
      new TlbArray({ name: 'PDPTE-cache', entries: spec.pdpt, ways: spec.pdpt, pageShifts: [L_PAGE_SHIFT_1G] }),
      new TlbArray({ name: 'PML4-cache', entries: spec.pml4, ways: spec.pml4, pageShifts: [L_PAGE_SHIFT_4K] }),
    ];
  }

  lookup(vaddr: number, pcid: number): number {
    const [pde, pdpt, pml4] = this.arrays;
    let i = pde.find(Math.floor(vaddr / 2 ** 21), L_PAGE_SHIFT_2M, pcid);
    if (i >= 0) return this.hit(pde, i, 1);
    i = pdpt.find(Math.floor(vaddr / 2 ** 30), L_PAGE_SHIFT_1G, pcid);
    if (i >= 0) return this.hit(pdpt, i, 2);
    // The PML4-cache reuses the 4 KiB size class with key = vaddr bits 47:39.
    i = pml4.find(Math.floor(vaddr / 2 ** 39), L_PAGE_SHIFT_4K, pcid);
    if (i >= 0) return this.hit(pml4, i, 3);
    pde.counters.misses++;
    return 4;
  }

  private hit(array: TlbArray, index: number, nextLevel: number): number {
    array.counters.hits++;
    this.table = array.frames[index]!;
    this.perms = array.perms[index]!;
    array.touch(index);
    return nextLevel;
  }

  fill(vaddr: number, pcid: number, level: number, next: number, perms: number): void {
    const perm = perms & ~L_PERM_GLOBAL;
    if (level === 2) this.arrays[0].insert(vaddr, pcid, next, L_PAGE_SHIFT_2M, perm);
    else if (level === 3) this.arrays[1].insert(vaddr, pcid, next, L_PAGE_SHIFT_1G, perm);
    else this.arrays[2].insert(Math.floor(vaddr / 2 ** 39) * 4096, pcid, next, L_PAGE_SHIFT_4K, perm);
  }

  flushPcid(pcid: number): void {
    for (const a of this.arrays) a.invalidateWhere(pcid, false);
  }
}

/** A CPU's whole TLB: its L1 arrays (probed in parallel), its L2 arrays, optional walk caches. */
export interface TlbSpec {
  name: string;
  l1: TlbArraySpec[];
  l2: TlbArraySpec[];
  walkCache: WalkCacheSpec | null;
}

export interface TlbCounters {
  l1Hits: number;
  l1Misses: number;
  l2Hits: number;
  l2Misses: number;
  invlpg: number;
  flushes: number;
}

export class Tlb {
  readonly l1: TlbArray[];
  readonly l2: TlbArray[];
  readonly walkCaches: PageWalkCaches | null;
  readonly counters: TlbCounters = { l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0, invlpg: 0, flushes: 0 };
  /** The translation of the last hit: page base, page shift, PERM_* rights. */
  frame = 0;
  pageShift = L_PAGE_SHIFT_4K;
  perms = 0;
  /** The L1 array and index now holding the last hit's or fill's translation (-1 if none holds it). */
  l1Array: TlbArray | null = null;
  l1Index = -1;

  /** Per size class (4K, 2M, 1G), the array of each level a fill goes to: the first that holds it. */
  private readonly l1ByClass: (TlbArray | null)[];
  private readonly l2ByClass: (TlbArray | null)[];

  constructor(readonly spec: TlbSpec) {
    this.l1 = spec.l1.map((a) => new TlbArray(a));
    this.l2 = spec.l2.map((a) => new TlbArray(a));
    const byClass = (arrays: TlbArray[]): (TlbArray | null)[] => [L_PAGE_SHIFT_4K, L_PAGE_SHIFT_2M, L_PAGE_SHIFT_1G].map((shift) => arrays.find((a) => a.holds(shift)) ?? null);
    this.l1ByClass = byClass(this.l1);
    this.l2ByClass = byClass(this.l2);
    this.walkCaches = spec.walkCache === null ? null : new PageWalkCaches(spec.walkCache);
  }

  /** Probes L1 then L2; returns the level that hit (1, 2) or 0. */
  lookup(vaddr: number, pcid: number): number {
    const counters = this.counters;
    const l1 = this.l1;
    for (let a = 0; a < l1.length; a++) {
      const array = l1[a]!;
      if (array.probe(vaddr, pcid)) {
        counters.l1Hits++;
        this.take(array, array.hitIndex);
        this.l1Array = array;
        this.l1Index = array.hitIndex;
        return 1;
      }
    }
    counters.l1Misses++;
    const l2 = this.l2;
    for (let a = 0; a < l2.length; a++) {
      const array = l2[a]!;
      if (array.probe(vaddr, pcid)) {
        counters.l2Hits++;
        this.take(array, array.hitIndex);
        // L1 just missed this address under pcid and globally: the tag is absent there.
        this.fillLevel(this.l1ByClass, vaddr, pcid, this.frame, this.pageShift, this.perms, true, true);
        return 2;
      }
    }
    counters.l2Misses++;
    return 0;
  }

  private take(array: TlbArray, index: number): void {
    this.frame = array.frames[index]!;
    this.pageShift = tagShift(array.tags[index]!);
    this.perms = array.perms[index]!;
  }

  /** Installs a walked translation in every level that holds its page size. `afterMiss`: the caller
   *  knows no level holds it (its `lookup` of this address and PCID returned 0, or an `invlpg` of
   *  it followed, and nothing else touched the TLB since), so the fills skip the tag scans. */
  fill(vaddr: number, pcid: number, frame: number, pageShift: number, perms: number, afterMiss = false): void {
    this.fillLevel(this.l2ByClass, vaddr, pcid, frame, pageShift, perms, false, afterMiss);
    this.fillLevel(this.l1ByClass, vaddr, pcid, frame, pageShift, perms, true, afterMiss);
    this.frame = frame;
    this.pageShift = pageShift;
    this.perms = perms;
  }

  private fillLevel(byClass: (TlbArray | null)[], vaddr: number, pcid: number, frame: number, pageShift: number, perms: number, isL1: boolean, absent: boolean): void {
    const array = byClass[sizeClass(pageShift)]!;
    const index = array === null ? -1 : absent ? array.insertAbsent(vaddr, pcid, frame, pageShift, perms) : array.insert(vaddr, pcid, frame, pageShift, perms);
    if (isL1) {
      this.l1Array = array;
      this.l1Index = index;
    }
  }

  /** INVLPG: drops `vaddr`'s translations under `pcid` and global ones, at every level, and every
   *  page-walk-cache entry of `pcid` (§4.10.4.1). */
  invlpg(vaddr: number, pcid: number): void {
    this.counters.invlpg++;
    for (const array of this.l1) array.invalidateAddress(vaddr, pcid);
    for (const array of this.l2) array.invalidateAddress(vaddr, pcid);
    this.walkCaches?.flushPcid(pcid);
    this.l1Array = null;
    this.l1Index = -1;
  }

  /** INVPCID single-context: every non-global translation of `pcid`, and its walk-cache entries. */
  flushPcid(pcid: number): void {
    this.counters.flushes++;
    for (const array of [...this.l1, ...this.l2]) array.invalidateWhere(pcid, true);
    this.walkCaches?.flushPcid(pcid);
    this.l1Array = null;
    this.l1Index = -1;
  }

  /** Every PCID: a CR3 write without PCIDs (keepGlobal) or INVPCID all-context (not). */
  flushAll(keepGlobal: boolean): void {
    this.counters.flushes++;
    for (const array of [...this.l1, ...this.l2]) array.invalidateWhere(-1, keepGlobal);
    this.walkCaches?.flushPcid(-1);
    this.l1Array = null;
    this.l1Index = -1;
  }

  validate(): void {
    for (const array of [...this.l1, ...this.l2]) array.validate();
    if (this.walkCaches !== null) for (const array of this.walkCaches.arrays) array.validate();
    const c = this.counters;
    if (c.l1Misses !== c.l2Hits + c.l2Misses) {
      throw new InvariantError(`TLB ${this.spec.name}: ${c.l1Misses} L1 misses but ${c.l2Hits} L2 hits + ${c.l2Misses} L2 misses`);
    }
  }

  stats(): { name: string; counters: TlbCounters; arrays: (ArrayCounters & { valid: number })[] } {
    const arrays = [...this.l1, ...this.l2, ...(this.walkCaches?.arrays ?? [])].map((a) => ({ ...a.counters, valid: a.validEntries() }));
    return { name: this.spec.name, counters: { ...this.counters }, arrays };
  }
}

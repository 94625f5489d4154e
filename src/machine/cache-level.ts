/**
 * One level of a CPU data cache: a set-associative array of lines that holds the lines' bytes, with
 * a tag, a dirty bit and an LRU stamp per way. It has no policy about where a line comes from or goes
 * to: cache.ts moves lines between levels and RAM.
 *
 * Layout (host-side typed arrays: a cache is hardware, not kernel state; losing it on resume is what
 * a power cycle does, and the kernel flushes it before taking an image):
 *   way index w = set · ways + i,   set = line mod sets,   line = paddr >> lineShift
 *   tags[w]  = the line held, or NO_LINE
 *   dirtyTags[w] = tags[w] when data[w·lineBytes ..] differs from the next level (dirty, write-back),
 *     else NO_LINE: one word, so that a store hit tests "this line, dirty" with one compare
 *   stamp[w] = the level's clock at the last touch: the victim is an invalid way, else the least recent
 *   clock    = ticks + writeHits: every touch adds one to exactly one of the two. touch() and
 *     readHitTouch() tick `ticks`, writeHitTouch() ticks `writeHits`; a hit counted by one of
 *     the two hitTouch methods is that tick and nothing else, so
 *     hits = countedHits + (ticks - touches) + writeHits, touches being the ticks made by touch()
 *   hint[line mod hint size] = the way that last held `line` (a guess, checked against tags: a stale
 *     hint costs the set's search, never a wrong answer; it spares a hit the search, whose exit
 *     branch mispredicts at random ways)
 *
 * Invariants (validate()): a line is in at most one way of its set; a dirty way is valid;
 * hits + misses = lookups counted by the caller.
 */
import { ArgumentError } from '../util/errors.ts';
import { InvariantError } from '../util/errors.ts';
import type { CacheGeometry } from './cache-presets.ts';

export const NO_LINE = -1;
const HINT_ENTRIES_MAX = 4096;

export interface CacheLevelStats {
  name: string;
  sizeBytes: number;
  ways: number;
  sets: number;
  lineBytes: number;
  hits: number;
  misses: number;
  /** Lines brought in (from a lower level or RAM, or pushed down from a higher level). */
  fills: number;
  /** Valid lines replaced to make room. */
  evictions: number;
  /** Dirty lines written to the next level (on eviction or clean). */
  writebacks: number;
  /** Lines dropped by an invalidate (maintenance or a device's snoop). */
  invalidations: number;
  /** Dirty lines dropped by an invalidate: their bytes never reached RAM. */
  dirtyDiscarded: number;
  validLines: number;
  dirtyLines: number;
}

export class CacheLevel {
  // `declare`: fields set once in the constructor and never declared before it. Compiled for ES2022,
  // a plain declaration first defines the field as undefined, and V8 then tracks a field that held
  // both undefined and a number or an array in its most general representation, so every read on the
  // hit path checked a Smi tag or a map (seen in --print-opt-code; V8's field representations:
  // https://v8.dev/blog/react-cliff). With `declare` the first value a field gets is its type's.
  declare readonly name: string;
  declare readonly sizeBytes: number;
  declare readonly ways: number;
  declare readonly sets: number;
  declare readonly lineBytes: number;
  declare readonly lineShift: number;
  declare readonly hitCycles: number;
  declare readonly tags: Int32Array;
  /** dirtyTags[w] = tags[w] while way w is dirty, else NO_LINE: a store hit's one test for "this line, dirty". */
  declare readonly dirtyTags: Int32Array;
  declare readonly stamp: Float64Array;
  declare readonly data: Uint8Array;
  /** `data` as 32-bit words, for the aligned-load fast path. */
  declare readonly data32: Int32Array;
  /** Way guesses by line (see the layout above); hintMask + 1 entries, a power of two. */
  declare readonly hint: Int32Array;
  declare readonly hintMask: number;
  /** The LRU clock is ticks + writeHits (see the layout above). */
  private ticks = 0;
  private writeHits = 0;
  /** Of `ticks`, those made by touch(). */
  private touches = 0;
  /** Hits the caller counted itself (`hits` adds the hitTouch methods'). */
  countedHits = 0;
  misses = 0;
  fills = 0;
  evictions = 0;
  writebacks = 0;
  invalidations = 0;
  dirtyDiscarded = 0;

  constructor(geometry: CacheGeometry) {
    const { sizeBytes, ways, lineBytes } = geometry;
    if (!Number.isInteger(lineBytes) || lineBytes < 4 || (lineBytes & (lineBytes - 1)) !== 0) {
      throw new ArgumentError(`${geometry.name}: line size ${lineBytes}: expected a power of two ≥ 4`);
    }
    if (!Number.isInteger(ways) || ways < 1 || !Number.isInteger(sizeBytes) || sizeBytes % (ways * lineBytes) !== 0) {
      throw new ArgumentError(`${geometry.name}: ${sizeBytes} bytes, ${ways} ways of ${lineBytes}-byte lines: expected a whole number of sets`);
    }
    const sets = sizeBytes / (ways * lineBytes);
    if ((sets & (sets - 1)) !== 0) throw new ArgumentError(`${geometry.name}: ${sets} sets: expected a power of two`);
    this.name = geometry.name;
    this.sizeBytes = sizeBytes;
    this.ways = ways;
    this.sets = sets;
    this.lineBytes = lineBytes;
    this.lineShift = Math.log2(lineBytes);
    this.hitCycles = geometry.hitCycles;
    const nrWays = sets * ways;
    this.tags = new Int32Array(nrWays).fill(NO_LINE);
    this.dirtyTags = new Int32Array(nrWays).fill(NO_LINE);
    this.stamp = new Float64Array(nrWays);
    this.data = new Uint8Array(nrWays * lineBytes);
    this.data32 = new Int32Array(this.data.buffer);
    // Twice the ways, at most 4096 entries (16 KiB): a large level's table would itself miss the host's caches.
    const hintEntries = Math.min(HINT_ENTRIES_MAX, 2 ** Math.ceil(Math.log2(2 * nrWays)));
    this.hint = new Int32Array(hintEntries);
    this.hintMask = hintEntries - 1;
  }

  /** The way holding `line`, or -1; touches nothing and counts nothing (the hint is no state: see above). */
  find(line: number): number {
    const tags = this.tags;
    const h = line & this.hintMask;
    const guess = this.hint[h] as number;
    if (tags[guess] === line) return guess;
    const base = (line & (this.sets - 1)) * this.ways;
    for (let w = base, end = base + this.ways; w < end; w++) {
      if (tags[w] === line) {
        this.hint[h] = w;
        return w;
      }
    }
    return -1;
  }

  /** Way `w` now holds `line`, clean (a fill). */
  setLine(w: number, line: number): void {
    this.tags[w] = line;
    this.dirtyTags[w] = NO_LINE;
    this.hint[line & this.hintMask] = w;
  }

  /** Marks way `w` most recently used. */
  touch(w: number): void {
    this.stamp[w] = ++this.ticks + this.writeHits;
    this.touches++;
  }

  /** A read hit on way `w`: marks it most recently used, and the clock's tick counts the hit. */
  readHitTouch(w: number): void {
    this.stamp[w] = ++this.ticks + this.writeHits;
  }

  /** A write hit on way `w`: marks it most recently used, and the clock's tick counts the hit. */
  writeHitTouch(w: number): void {
    this.stamp[w] = ++this.writeHits + this.ticks;
  }

  /** Hits counted by readHitTouch. */
  get readTouchHits(): number {
    return this.ticks - this.touches;
  }

  /** Hits counted by writeHitTouch. */
  get writeTouchHits(): number {
    return this.writeHits;
  }

  get hits(): number {
    return this.countedHits + this.readTouchHits + this.writeTouchHits;
  }

  /** The way a new `line` goes into: an invalid way of its set, else the least recently used. */
  victim(line: number): number {
    const base = (line & (this.sets - 1)) * this.ways;
    let best = base;
    for (let w = base, end = base + this.ways; w < end; w++) {
      if (this.tags[w] === NO_LINE) return w;
      if ((this.stamp[w] as number) < (this.stamp[best] as number)) best = w;
    }
    return best;
  }

  /** Byte offset of way `w`'s line in `data`. */
  offset(w: number): number {
    return w * this.lineBytes;
  }

  /** Drops way `w` (its bytes are lost if dirty: the caller writes them back first when it must). */
  drop(w: number): void {
    if (this.isDirty(w)) this.dirtyDiscarded++;
    this.invalidations++;
    this.tags[w] = NO_LINE;
    this.dirtyTags[w] = NO_LINE;
  }

  /** Whether way `w` is dirty (newer than the level below). */
  isDirty(w: number): boolean {
    return this.dirtyTags[w] !== NO_LINE;
  }

  /** Way `w` (holding a line) is now dirty, or clean. */
  setDirty(w: number, dirty: boolean): void {
    this.dirtyTags[w] = dirty ? (this.tags[w] as number) : NO_LINE;
  }

  validate(): void {
    const tags = this.tags;
    for (let set = 0; set < this.sets; set++) {
      const base = set * this.ways;
      for (let w = base; w < base + this.ways; w++) {
        const tag = tags[w] as number;
        if (tag === NO_LINE) {
          if (this.isDirty(w)) throw new InvariantError(`${this.name}: way ${w} is dirty but holds no line`);
          continue;
        }
        if (this.isDirty(w) && this.dirtyTags[w] !== tag) throw new InvariantError(`${this.name}: way ${w} holds line 0x${tag.toString(16)} but its dirty tag names 0x${(this.dirtyTags[w] as number).toString(16)}`);
        if ((tag & (this.sets - 1)) !== set) throw new InvariantError(`${this.name}: line 0x${tag.toString(16)} is in set ${set}, expected set ${tag & (this.sets - 1)}`);
        // The ways before w (a set has a few: a pairwise check allocates nothing).
        for (let v = base; v < w; v++) if (tags[v] === tag) throw new InvariantError(`${this.name}: line 0x${tag.toString(16)} is held twice in set ${set}`);
      }
    }
  }

  stats(): CacheLevelStats {
    let validLines = 0;
    let dirtyLines = 0;
    for (let w = 0; w < this.tags.length; w++) {
      if (this.tags[w] !== NO_LINE) validLines++;
      if (this.isDirty(w)) dirtyLines++;
    }
    return {
      name: this.name,
      sizeBytes: this.sizeBytes,
      ways: this.ways,
      sets: this.sets,
      lineBytes: this.lineBytes,
      hits: this.hits,
      misses: this.misses,
      fills: this.fills,
      evictions: this.evictions,
      writebacks: this.writebacks,
      invalidations: this.invalidations,
      dirtyDiscarded: this.dirtyDiscarded,
      validLines,
      dirtyLines,
    };
  }
}

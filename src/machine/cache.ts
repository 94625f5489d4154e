/**
 * The CPUs' data caches over RAM: per CPU a hierarchy of private levels (L1D, L2), optionally a
 * shared last level, all write-back and write-allocate, all holding the lines' bytes. A load that
 * hits returns the cached bytes, so a line a non-coherent device overwrote in RAM really reads old.
 *
 *   const mem = new MemorySystem(ram, { preset: 'skylake', cpus: 2 });
 *   const port = mem.cpu(0);                 // a MemoryPort: what the CPU model calls after translation
 *   port.store(paddr, 4, 0xdeadbeef);        // lands in L1, dirty; RAM unchanged
 *   mem.cleanRange(paddr, 64);               // written back (clflush-like clean, by physical range)
 *
 * Memory types, per access (the PAT / page-attribute type of the mapping that made it):
 *   WriteBack       cached as above.
 *   Uncached        straight to RAM, every access at RAM latency; empties this CPU's WC buffers first.
 *   WriteCombining  stores gather in a few line-sized WC buffers and reach RAM when a buffer fills, is
 *                   needed for another line, or on `fence()` (sfence); loads read RAM uncached after
 *                   emptying a WC buffer that holds their line (Intel SDM vol. 3 §11.3 describes the
 *                   buffers; when exactly a real CPU empties them is model-specific).
 * kmem assumes no two mappings of one frame with different types (x86 forbids such aliases too).
 *
 * Coherence between CPUs (a MESI-like invariant, checked by validate()): a line dirty in one CPU's
 * private levels is held in no other CPU's private levels. A private miss first has the other CPUs
 * write back a dirty copy (snoop); a store drops the other CPUs' copies. Within one CPU the nearest
 * level holding a line has its newest bytes.
 *
 * Devices reach RAM without the caches (see dma-engine.ts). A coherent device snoops through
 * `snoopForDeviceRead` / `snoopForDeviceWrite`; a non-coherent one does not, and the kernel cleans and
 * invalidates by range (`cleanRange`, `invalidateRange`, `flushRange`) around its transfers.
 *
 * All state here is host-side: caches are hardware, and losing them is a power cycle.
 */
import { ArgumentError, InvariantError } from '../util/errors.ts';
import { CacheLevel, NO_LINE } from './cache-level.ts';
import type { CacheLevelStats } from './cache-level.ts';
import { CACHE_PRESETS } from './cache-presets.ts';
import type { CacheCosts, CachePreset, CachePresetName } from './cache-presets.ts';
import type { Ram } from './ram.ts';

export const MemType = { WriteBack: 0, Uncached: 1, WriteCombining: 2 } as const;
export type MemType = (typeof MemType)[keyof typeof MemType];
export const MEM_TYPE_NAMES: readonly string[] = ['write-back', 'uncached', 'write-combining'];

export type AccessSize = 1 | 2 | 4;

/**
 * What a CPU core calls once an address is translated: loads and stores by physical address, in the
 * memory type of the mapping. Values are little-endian; 1- and 2-byte loads are unsigned, 4-byte loads
 * are the signed 32-bit word (as Int32Array reads it: V8 keeps it a small integer, where an unsigned
 * word above 2^31 would be a heap number and cost 10× on the hit path). Stores take either form.
 */
export interface MemoryPort {
  load(paddr: number, sizeBytes: AccessSize, memType?: MemType): number;
  store(paddr: number, sizeBytes: AccessSize, value: number, memType?: MemType): void;
  readBytes(paddr: number, dst: Uint8Array, memType?: MemType): void;
  writeBytes(paddr: number, src: Uint8Array, memType?: MemType): void;
}

export interface MemorySystemOptions {
  preset?: CachePresetName | CachePreset;
  /** CPUs, each with its own private levels. Default 1. */
  cpus?: number;
}

/** What a range operation did (maintenance or a device's snoop). */
export interface RangeResult {
  lines: number;
  /** Dirty lines written back to RAM. */
  writebacks: number;
  /** Cached copies dropped. */
  invalidated: number;
  cycles: number;
}

export interface CpuCacheStats {
  cpu: number;
  loads: number;
  stores: number;
  /** Page-walk reads served through this CPU's caches. */
  walkReads: number;
  cycles: number;
  uncachedAccesses: number;
  wcStores: number;
  wcFlushes: number;
  /** WC buffers emptied before all their bytes were written (several bus writes' worth, counted as one). */
  wcPartialFlushes: number;
  levels: CacheLevelStats[];
}

export interface MemorySystemStats {
  preset: string;
  cpus: CpuCacheStats[];
  shared: CacheLevelStats | null;
  maintenance: { lines: number; writebacks: number; invalidated: number };
  snoops: { lines: number; writebacks: number; invalidated: number };
}

/** An access of a size the port does not take. */
export class AccessSizeError extends ArgumentError {
  override name = 'AccessSizeError';
}

export class MemorySystem {
  readonly preset: CachePreset;
  readonly costs: CacheCosts;
  readonly lineBytes: number;
  readonly lineShift: number;
  readonly shared: CacheLevel | null;
  private readonly cpuCaches: CpuCache[];
  private readonly maint = { lines: 0, writebacks: 0, invalidated: 0 };
  private readonly snoop = { lines: 0, writebacks: 0, invalidated: 0 };

  constructor(
    readonly ram: Ram,
    options: MemorySystemOptions = {},
  ) {
    const preset = typeof options.preset === 'object' ? options.preset : CACHE_PRESETS[options.preset ?? 'skylake'];
    if (preset === undefined) throw new ArgumentError(`cache preset '${String(options.preset)}': expected one of ${Object.keys(CACHE_PRESETS).join(', ')}`);
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new ArgumentError(`cpus ${cpus}: expected an integer in [1, 64]`);
    const geometries = [...preset.private, ...(preset.shared === null ? [] : [preset.shared])];
    if (preset.private.length === 0) throw new ArgumentError(`cache preset '${preset.name}': expected at least one private level`);
    const lineBytes = geometries[0]?.lineBytes as number;
    if (geometries.some((g) => g.lineBytes !== lineBytes)) throw new ArgumentError(`cache preset '${preset.name}': every level must have the same line size`);
    this.preset = preset;
    this.costs = preset.costs;
    this.lineBytes = lineBytes;
    this.lineShift = Math.log2(lineBytes);
    this.shared = preset.shared === null ? null : new CacheLevel(preset.shared);
    this.cpuCaches = Array.from({ length: cpus }, (_, cpu) => new CpuCache(this, cpu, preset));
  }

  get nrCpus(): number {
    return this.cpuCaches.length;
  }

  cpu(index: number): CpuCache {
    const cache = this.cpuCaches[index];
    if (cache === undefined) throw new ArgumentError(`cpu ${index}: expected an integer in [0, ${this.cpuCaches.length})`);
    return cache;
  }

  /** Writes back every dirty copy of the lines of [paddr, paddr + sizeBytes) (arm64 `dc cvac`, a clean). */
  cleanRange(paddr: number, sizeBytes: number): RangeResult {
    return this.rangeOp(paddr, sizeBytes, true, false, this.maint);
  }

  /** Drops every copy, dirty or not, without writing back (arm64 `dc ivac`): dirty bytes are lost. */
  invalidateRange(paddr: number, sizeBytes: number): RangeResult {
    return this.rangeOp(paddr, sizeBytes, false, true, this.maint);
  }

  /** Writes back then drops every copy (x86 `clflush`, arm64 `dc civac`). */
  flushRange(paddr: number, sizeBytes: number): RangeResult {
    return this.rangeOp(paddr, sizeBytes, true, true, this.maint);
  }

  /** A coherent device is about to read [paddr, +sizeBytes) from RAM: dirty cached copies are written back first. */
  snoopForDeviceRead(paddr: number, sizeBytes: number): RangeResult {
    return this.rangeOp(paddr, sizeBytes, true, false, this.snoop);
  }

  /**
   * A coherent device is about to write [paddr, +sizeBytes) to RAM: every cached copy is dropped, and
   * a line the device covers only in part is written back first so the bytes it does not write survive.
   */
  snoopForDeviceWrite(paddr: number, sizeBytes: number): RangeResult {
    this.ram.checkRange(paddr, sizeBytes);
    const result: RangeResult = { lines: 0, writebacks: 0, invalidated: 0, cycles: 0 };
    if (sizeBytes === 0) return result;
    const mask = this.lineBytes - 1;
    const end = paddr + sizeBytes;
    if ((paddr & mask) !== 0) this.addTo(result, this.rangeOp(paddr, 1, true, false, this.snoop));
    if ((end & mask) !== 0) this.addTo(result, this.rangeOp(end - 1, 1, true, false, this.snoop));
    this.addTo(result, this.rangeOp(paddr, sizeBytes, false, true, this.snoop));
    result.lines = ((end - 1) >>> this.lineShift) - (paddr >>> this.lineShift) + 1;
    return result;
  }

  private addTo(into: RangeResult, r: RangeResult): void {
    into.writebacks += r.writebacks;
    into.invalidated += r.invalidated;
    into.cycles += r.cycles;
  }

  private rangeOp(paddr: number, sizeBytes: number, clean: boolean, drop: boolean, tally: { lines: number; writebacks: number; invalidated: number }): RangeResult {
    this.ram.checkRange(paddr, sizeBytes);
    const result: RangeResult = { lines: 0, writebacks: 0, invalidated: 0, cycles: 0 };
    if (sizeBytes === 0) return result;
    const first = paddr >>> this.lineShift;
    const last = (paddr + sizeBytes - 1) >>> this.lineShift;
    for (let line = first; line <= last; line++) {
      result.lines++;
      if (clean && this.cleanLine(line)) result.writebacks++;
      if (drop) result.invalidated += this.dropLine(line);
    }
    result.cycles = result.lines * this.costs.maintenanceCyclesPerLine + result.writebacks * this.costs.busWriteCycles;
    tally.lines += result.lines;
    tally.writebacks += result.writebacks;
    tally.invalidated += result.invalidated;
    return result;
  }

  /**
   * Writes the newest dirty copy of `line` to RAM and makes every copy equal to it and clean.
   * Returns whether anything was written back.
   */
  cleanLine(line: number): boolean {
    let newest: CacheLevel | null = null;
    let newestWay = -1;
    for (const cpu of this.cpuCaches) {
      // The nearest copy in a CPU is its newest; if any copy of that CPU is dirty, the nearest one's
      // bytes are what memory must get (by the invariant, at most one CPU has dirty copies).
      let nearest: CacheLevel | null = null;
      let nearestWay = -1;
      let anyDirty = false;
      for (const level of cpu.privateLevels) {
        const w = level.find(line);
        if (w < 0) continue;
        if (nearest === null) {
          nearest = level;
          nearestWay = w;
        }
        if (level.isDirty(w)) anyDirty = true;
      }
      if (anyDirty && newest === null) {
        newest = nearest;
        newestWay = nearestWay;
      }
    }
    if (newest === null && this.shared !== null) {
      const w = this.shared.find(line);
      if (w >= 0 && this.shared.isDirty(w)) {
        newest = this.shared;
        newestWay = w;
      }
    }
    if (newest === null) return false;
    const src = newest.offset(newestWay);
    this.ram.bytes.set(newest.data.subarray(src, src + this.lineBytes), line * this.lineBytes);
    newest.writebacks++;
    for (const cpu of this.cpuCaches) for (const level of cpu.privateLevels) this.refresh(level, line, newest, src);
    if (this.shared !== null) this.refresh(this.shared, line, newest, src);
    return true;
  }

  /** cleanLine's last step for one level: its copy of `line` gets the newest bytes (at `from`'s byte offset src) and is clean. */
  private refresh(level: CacheLevel, line: number, from: CacheLevel, src: number): void {
    const w = level.find(line);
    if (w < 0) return;
    if (level !== from) level.data.set(from.data.subarray(src, src + this.lineBytes), level.offset(w));
    level.setDirty(w, false);
  }

  /** Drops `line` from every level of every CPU; returns how many copies went. */
  dropLine(line: number): number {
    let dropped = 0;
    for (const cpu of this.cpuCaches) {
      for (const level of cpu.privateLevels) {
        const w = level.find(line);
        if (w < 0) continue;
        level.drop(w);
        dropped++;
      }
    }
    const shared = this.shared;
    if (shared !== null) {
      const w = shared.find(line);
      if (w >= 0) {
        shared.drop(w);
        dropped++;
      }
    }
    return dropped;
  }

  /** Before CPU `self` fetches `line` from below its private levels: other CPUs write back a dirty copy. */
  snoopOthers(self: CpuCache, line: number): void {
    for (const cpu of this.cpuCaches) {
      if (cpu === self) continue;
      for (const level of cpu.privateLevels) {
        const w = level.find(line);
        if (w >= 0 && level.isDirty(w)) {
          this.cleanLine(line);
          return;
        }
      }
    }
  }

  /** CPU `self` is about to write `line`: the other CPUs' private copies go (they are clean, by the invariant). */
  invalidateOthers(self: CpuCache, line: number): void {
    for (const cpu of this.cpuCaches) {
      if (cpu === self) continue;
      for (const level of cpu.privateLevels) {
        const w = level.find(line);
        if (w >= 0) level.drop(w);
      }
    }
  }

  validate(): void {
    for (const cpu of this.cpuCaches) {
      cpu.validate();
      for (const level of cpu.privateLevels) {
        for (let w = 0; w < level.tags.length; w++) {
          if (!level.isDirty(w)) continue;
          const line = level.tags[w] as number;
          for (const other of this.cpuCaches) {
            if (other === cpu) continue;
            for (const o of other.privateLevels) {
              if (o.find(line) >= 0) throw new InvariantError(`line 0x${line.toString(16)} is dirty in cpu ${cpu.index} ${level.name} and also held by cpu ${other.index} ${o.name}`);
            }
          }
        }
      }
    }
    this.shared?.validate();
  }

  stats(): MemorySystemStats {
    return {
      preset: this.preset.name,
      cpus: this.cpuCaches.map((c) => c.stats()),
      shared: this.shared?.stats() ?? null,
      maintenance: { ...this.maint },
      snoops: { ...this.snoop },
    };
  }
}

/** One CPU's view of memory: its private cache levels, its WC buffers, and its counters. */
export class CpuCache implements MemoryPort {
  // `declare` on the fields the constructor sets: see CacheLevel's fields (cache-level.ts).
  declare readonly privateLevels: CacheLevel[];
  /** Private levels then the shared one: the order a miss walks. */
  private declare readonly levels: CacheLevel[];
  private declare readonly l1: CacheLevel;
  /** L1's arrays and hint mask, held here so that a hit reads them without going through the level. */
  private declare readonly l1Tags: Int32Array;
  private declare readonly l1Hint: Int32Array;
  private declare readonly l1HintMask: number;
  private declare readonly l1Data32: Int32Array;
  private declare readonly l1DirtyTags: Int32Array;
  /** log2 of the 4-byte words in a line. */
  private declare readonly lineWordsShift: number;
  /** The highest address of a 4-byte word in RAM. */
  private declare readonly lastWordPaddr: number;
  private declare readonly l1HitCycles: number;
  private declare readonly lineBytes: number;
  private declare readonly lineShift: number;
  private declare readonly lineMask: number;
  private declare readonly ramBytes: Uint8Array;
  /** RAM as 32-bit words, for whole-line copies (lines are 4-byte multiples at 4-byte-aligned offsets). */
  private declare readonly ram32: Int32Array;
  private declare readonly lineWords: number;
  /** The line a miss brings up, as words. */
  private declare readonly scratch: Int32Array;
  /** Per level, a dirty victim's bytes on their way down (one buffer a level: an eviction from level i can only cascade below i). */
  private declare readonly evicted: Int32Array[];
  private declare readonly wcLine: Int32Array;
  private declare readonly wcStamp: Float64Array;
  private declare readonly wcData: Uint8Array;
  private declare readonly wcValid: Uint8Array;
  private wcClock = 0;
  /** Loads, stores and cycles counted one by one; `loads`, `stores` and `cycles` add the fast path's (see load()). */
  private countedLoads = 0;
  private countedStores = 0;
  private countedCycles = 0;
  /** Paging-structure entries read through this cache by the CPU's page walker (walkRead). */
  walkReads = 0;
  uncachedAccesses = 0;
  wcStores = 0;
  wcFlushes = 0;
  wcPartialFlushes = 0;

  constructor(
    readonly system: MemorySystem,
    readonly index: number,
    preset: CachePreset,
  ) {
    this.privateLevels = preset.private.map((g) => new CacheLevel(g));
    this.levels = system.shared === null ? this.privateLevels : [...this.privateLevels, system.shared];
    this.l1 = this.privateLevels[0] as CacheLevel;
    this.l1Tags = this.l1.tags;
    this.l1Hint = this.l1.hint;
    this.l1HintMask = this.l1.hintMask;
    this.l1Data32 = this.l1.data32;
    this.l1DirtyTags = this.l1.dirtyTags;
    this.l1HitCycles = this.l1.hitCycles;
    this.lineBytes = system.lineBytes;
    this.lineShift = system.lineShift;
    this.lineMask = system.lineBytes - 1;
    this.ramBytes = system.ram.bytes;
    this.ram32 = new Int32Array(system.ram.buffer);
    this.lineWords = this.lineBytes / 4;
    this.lineWordsShift = this.lineShift - 2;
    this.lastWordPaddr = this.ramBytes.length - 4;
    this.scratch = new Int32Array(this.lineWords);
    this.evicted = this.levels.map(() => new Int32Array(this.lineWords));
    const n = Math.max(1, preset.wcBuffers);
    this.wcLine = new Int32Array(n).fill(NO_LINE);
    this.wcStamp = new Float64Array(n);
    this.wcData = new Uint8Array(n * this.lineBytes);
    this.wcValid = new Uint8Array(n * this.lineBytes);
  }

  /**
   * Counts of accesses (a line-crossing access counts once). The fast path of load() and store()
   * counts nothing itself but through L1's readHitTouch and writeHitTouch: each such read hit is a
   * load, each write hit a store, and each costs L1's hit cycles.
   */
  get loads(): number {
    return this.countedLoads + this.l1.readTouchHits;
  }

  get stores(): number {
    return this.countedStores + this.l1.writeTouchHits;
  }

  get cycles(): number {
    return this.countedCycles + (this.l1.readTouchHits + this.l1.writeTouchHits) * this.l1HitCycles;
  }

  /**
   * The fast path: an aligned write-back word whose line L1's way hint finds (any hit the hint
   * names, whatever the access pattern) is one tag check, one LRU stamp and the word. It counts the
   * load, the hit and its cycles through that stamp's clock tick (readHitTouch; writeHitTouch for
   * stores). Everything else (a stale hint, a miss, another size, type or alignment) takes the
   * general path, which counts each. Both give the same bytes, counts and LRU order: the fast path
   * only runs where the general one would find the same way by the same hint.
   */
  load(paddr: number, sizeBytes: AccessSize, memType: MemType = MemType.WriteBack): number {
    if (this.isAlignedWord(paddr, sizeBytes, memType)) {
      const line = paddr >>> this.lineShift;
      const w = this.l1Hint[line & this.l1HintMask] as number;
      if (this.l1Tags[w] === line) {
        this.l1.readHitTouch(w);
        return this.l1Data32[this.wordIndex(w, paddr)] as number;
      }
    }
    return this.loadLookup(paddr, sizeBytes, memType);
  }

  /** Whether an access may take the fast path: a write-back, aligned 4-byte word inside RAM. */
  private isAlignedWord(paddr: number, sizeBytes: AccessSize, memType: MemType): boolean {
    return sizeBytes === 4 && memType === MemType.WriteBack && (paddr & 3) === 0 && paddr >= 0 && paddr <= this.lastWordPaddr;
  }

  /** The index in L1's words of the word at `paddr`, in way `w`. */
  private wordIndex(w: number, paddr: number): number {
    return (w << this.lineWordsShift) | ((paddr & this.lineMask) >>> 2);
  }

  /** load()'s general path. */
  private loadLookup(paddr: number, sizeBytes: AccessSize, memType: MemType): number {
    if (!this.inOneLine(paddr, sizeBytes, memType)) return this.loadSlow(paddr, sizeBytes, memType);
    this.countedLoads++;
    const w = this.lineInL1(paddr >>> this.lineShift);
    const at = w * this.lineBytes + (paddr & this.lineMask);
    if (sizeBytes === 4 && (at & 3) === 0) return this.l1Data32[at >> 2] as number;
    return readLe(this.l1.data, at, sizeBytes);
  }

  /** The fast path as load()'s, for a line already dirty in L1 (the first store to a line takes the general path, markDirty). */
  store(paddr: number, sizeBytes: AccessSize, value: number, memType: MemType = MemType.WriteBack): void {
    if (this.isAlignedWord(paddr, sizeBytes, memType)) {
      const line = paddr >>> this.lineShift;
      const w = this.l1Hint[line & this.l1HintMask] as number;
      if (this.l1DirtyTags[w] === line) {
        this.l1.writeHitTouch(w);
        this.l1Data32[this.wordIndex(w, paddr)] = value | 0;
        return;
      }
    }
    this.storeLookup(paddr, sizeBytes, value, memType);
  }

  /** store()'s general path. */
  private storeLookup(paddr: number, sizeBytes: AccessSize, value: number, memType: MemType): void {
    if (!this.inOneLine(paddr, sizeBytes, memType)) {
      this.storeSlow(paddr, sizeBytes, value, memType);
      return;
    }
    this.countedStores++;
    const line = paddr >>> this.lineShift;
    const w = this.lineInL1(line);
    this.markDirty(w, line);
    const at = w * this.lineBytes + (paddr & this.lineMask);
    if (sizeBytes === 4 && (at & 3) === 0) this.l1Data32[at >> 2] = value | 0;
    else writeLe(this.l1.data, at, sizeBytes, value);
  }

  /** Whether an access takes the fast path: write-back, 1, 2 or 4 bytes inside one line of RAM. */
  private inOneLine(paddr: number, sizeBytes: number, memType: MemType): boolean {
    return (
      memType === MemType.WriteBack &&
      (sizeBytes === 4 || sizeBytes === 1 || sizeBytes === 2) &&
      (paddr & this.lineMask) + sizeBytes <= this.lineBytes &&
      paddr >= 0 &&
      paddr + sizeBytes <= this.ramBytes.length
    );
  }

  /** A store to L1 way `w`: the first one makes the line dirty and drops the other CPUs' copies. */
  private markDirty(w: number, line: number): void {
    if (this.l1.isDirty(w)) return;
    if (this.system.nrCpus > 1) this.system.invalidateOthers(this, line);
    this.l1.setDirty(w, true);
  }

  readBytes(paddr: number, dst: Uint8Array, memType: MemType = MemType.WriteBack): void {
    this.system.ram.checkRange(paddr, dst.length);
    for (let i = 0; i < dst.length; ) {
      const off = (paddr + i) & this.lineMask;
      const n = Math.min(this.lineBytes - off, dst.length - i);
      if (memType === MemType.WriteBack) {
        this.countedLoads++;
        const w = this.lineInL1(((paddr + i) >>> this.lineShift));
        copyBytes(this.l1.data, this.l1.offset(w) + off, dst, i, n);
      } else {
        this.uncachedRead(paddr + i, n, memType);
        dst.set(this.ramBytes.subarray(paddr + i, paddr + i + n), i);
      }
      i += n;
    }
  }

  writeBytes(paddr: number, src: Uint8Array, memType: MemType = MemType.WriteBack): void {
    this.system.ram.checkRange(paddr, src.length);
    for (let i = 0; i < src.length; ) {
      const off = (paddr + i) & this.lineMask;
      const n = Math.min(this.lineBytes - off, src.length - i);
      if (memType === MemType.WriteBack) {
        this.countedStores++;
        const line = (paddr + i) >>> this.lineShift;
        const w = this.lineInL1(line);
        this.markDirty(w, line);
        copyBytes(src, i, this.l1.data, this.l1.offset(w) + off, n);
      } else if (memType === MemType.Uncached) {
        this.uncachedAccesses++;
        this.drainWc();
        this.countedCycles += this.system.costs.ramCycles;
        this.ramBytes.set(src.subarray(i, i + n), paddr + i);
      } else {
        this.wcWrite(paddr + i, src.subarray(i, i + n));
      }
      i += n;
    }
  }

  /**
   * The memory port of the CPU model on branch vm-machine (src/machine/cpu.ts: `read`/`write` of 1, 2
   * or 4 naturally aligned bytes by physical address, values unsigned), with the memory type as an
   * optional last argument so the CPU can pass the one its page tables give.
   */
  read(paddr: number, sizeBytes: AccessSize, memType: MemType = MemType.WriteBack): number {
    const v = this.load(paddr, sizeBytes, memType);
    return sizeBytes === 4 ? v >>> 0 : v;
  }

  write(paddr: number, sizeBytes: AccessSize, value: number, memType: MemType = MemType.WriteBack): void {
    this.store(paddr, sizeBytes, value, memType);
  }

  /**
   * The page walker's port (mmu.ts `WalkPort`): a read of the 8-byte paging-structure entry at `paddr`
   * (8-aligned, so inside one line), looked up as a write-back load is (L1D, then the lower levels and
   * RAM, filling the levels that missed), counted in `walkReads` rather than `loads`, its cycles added
   * to `cycles`. Returns those cycles. The walker takes the entry's value from RAM: the kernel writes
   * page tables there directly and no CPU stores into a page-table frame through its cache, so RAM
   * holds the newest entry; what this models is where the read is served and which lines it brings in
   * and pushes out.
   */
  walkRead(paddr: number): number {
    const before = this.cycles;
    this.walkReads++;
    this.lineInL1(paddr >>> this.lineShift);
    return this.cycles - before;
  }

  /** sfence: empties every WC buffer into RAM. */
  fence(): void {
    this.drainWc();
  }

  /** Cache maintenance issued by this CPU (its cycles are counted here). */
  cleanRange(paddr: number, sizeBytes: number): RangeResult {
    return this.charge(this.system.cleanRange(paddr, sizeBytes));
  }

  invalidateRange(paddr: number, sizeBytes: number): RangeResult {
    return this.charge(this.system.invalidateRange(paddr, sizeBytes));
  }

  flushRange(paddr: number, sizeBytes: number): RangeResult {
    return this.charge(this.system.flushRange(paddr, sizeBytes));
  }

  private charge(result: RangeResult): RangeResult {
    this.countedCycles += result.cycles;
    return result;
  }

  /**
   * The L1 way holding `line`, fetching it on a miss: on a miss, walks the lower levels, then RAM, and
   * fills every level that missed. Counts a hit or a miss and the cycles.
   *
   * One function on purpose: its bytecode is over V8's inlining limit (460 bytes,
   * --max-inlined-bytecode-size), so it is never inlined, and load() and store() compiled on their own
   * stay small enough for their callers to inline. With the miss walk a function of its own, a load()
   * first compiled during misses had the walk inlined, its callers then called it instead of
   * inlining it, and an L1 hit cost about 8.7 ns instead of 3.7 (measured with
   * bench/cache-interleaved.ts; TurboFan weighs a callee with the code already inlined into it).
   */
  private lineInL1(line: number): number {
    // The hit path: the hinted way (cache-level.ts) holds the line; anything else takes find's search.
    let w = this.l1Hint[line & this.l1HintMask] as number;
    if (this.l1Tags[w] !== line) w = this.l1.find(line);
    if (w >= 0) {
      this.l1.countedHits++;
      this.countedCycles += this.l1HitCycles;
      this.l1.touch(w);
      return w;
    }
    const levels = this.levels;
    const nPrivate = this.privateLevels.length;
    this.l1.misses++;
    let served = -1;
    for (let i = 1; i < levels.length; i++) {
      if (i === nPrivate && this.system.nrCpus > 1) this.system.snoopOthers(this, line);
      const level = levels[i] as CacheLevel;
      const lw = level.find(line);
      if (lw >= 0) {
        level.countedHits++;
        level.touch(lw);
        copyWords(level.data32, lw * this.lineWords, this.scratch, 0, this.lineWords);
        served = i;
        break;
      }
      level.misses++;
    }
    if (served < 0) {
      if (levels.length === nPrivate && this.system.nrCpus > 1) this.system.snoopOthers(this, line);
      copyWords(this.ram32, line * this.lineWords, this.scratch, 0, this.lineWords);
      this.countedCycles += this.system.costs.ramCycles;
      served = levels.length;
    } else {
      this.countedCycles += (levels[served] as CacheLevel).hitCycles;
    }
    for (let i = served - 1; i >= 0; i--) {
      const iw = this.install(i, line, this.scratch, false);
      if (i === 0) w = iw;
    }
    this.l1.touch(w);
    return w;
  }

  /**
   * Puts `line`'s bytes (the words of src) into level `i`, evicting a victim (a dirty victim is
   * written down a level first). Returns the way. `dirty` marks it as newer than the level below.
   */
  private install(i: number, line: number, src: Int32Array, dirty: boolean): number {
    const levels = this.levels;
    const lineWords = this.lineWords;
    if (i === levels.length) {
      copyWords(src, 0, this.ram32, line * lineWords, lineWords);
      return -1;
    }
    const level = levels[i] as CacheLevel;
    let w = level.find(line);
    if (w < 0) {
      w = level.victim(line);
      const old = level.tags[w] as number;
      if (old !== NO_LINE) {
        level.evictions++;
        if (level.isDirty(w)) {
          level.writebacks++;
          // Copy out first: the write below may evict from the level below, never from this one.
          const evicted = this.evicted[i] as Int32Array;
          copyWords(level.data32, w * lineWords, evicted, 0, lineWords);
          this.install(i + 1, old, evicted, true);
        }
      }
      level.setLine(w, line);
      level.fills++;
    }
    copyWords(src, 0, level.data32, w * lineWords, lineWords);
    if (dirty) level.setDirty(w, true);
    level.touch(w);
    return w;
  }

  private loadSlow(paddr: number, sizeBytes: AccessSize, memType: MemType): number {
    checkSize(sizeBytes);
    const bytes = new Uint8Array(sizeBytes);
    this.readBytes(paddr, bytes, memType);
    if (memType === MemType.WriteBack) this.countedLoads -= Math.ceil(((paddr & this.lineMask) + sizeBytes) / this.lineBytes) - 1;
    return readLe(bytes, 0, sizeBytes);
  }

  private storeSlow(paddr: number, sizeBytes: AccessSize, value: number, memType: MemType): void {
    checkSize(sizeBytes);
    const bytes = new Uint8Array(sizeBytes);
    writeLe(bytes, 0, sizeBytes, value);
    this.writeBytes(paddr, bytes, memType);
    if (memType === MemType.WriteBack) this.countedStores -= Math.ceil(((paddr & this.lineMask) + sizeBytes) / this.lineBytes) - 1;
  }

  /** An uncached or WC read of part of one line: RAM latency; a WC buffer holding the line (or all, for UC) empties first. */
  private uncachedRead(paddr: number, _sizeBytes: number, memType: MemType): void {
    this.uncachedAccesses++;
    this.countedCycles += this.system.costs.ramCycles;
    if (memType === MemType.Uncached) {
      this.drainWc();
      return;
    }
    const line = paddr >>> this.lineShift;
    for (let b = 0; b < this.wcLine.length; b++) if (this.wcLine[b] === line) this.flushWcBuffer(b);
  }

  private wcWrite(paddr: number, src: Uint8Array): void {
    this.wcStores++;
    this.countedCycles += this.system.costs.wcStoreCycles;
    const line = paddr >>> this.lineShift;
    let b = -1;
    for (let i = 0; i < this.wcLine.length; i++) if (this.wcLine[i] === line) b = i;
    if (b < 0) {
      b = 0;
      for (let i = 0; i < this.wcLine.length; i++) {
        if (this.wcLine[i] === NO_LINE) {
          b = i;
          break;
        }
        if ((this.wcStamp[i] as number) < (this.wcStamp[b] as number)) b = i;
      }
      if (this.wcLine[b] !== NO_LINE) this.flushWcBuffer(b);
      this.wcLine[b] = line;
    }
    this.wcStamp[b] = ++this.wcClock;
    const at = b * this.lineBytes + (paddr & this.lineMask);
    this.wcData.set(src, at);
    this.wcValid.fill(1, at, at + src.length);
    let full = true;
    for (let i = b * this.lineBytes; i < (b + 1) * this.lineBytes; i++) {
      if (this.wcValid[i] === 0) {
        full = false;
        break;
      }
    }
    if (full) this.flushWcBuffer(b);
  }

  private flushWcBuffer(b: number): void {
    const line = this.wcLine[b] as number;
    const base = line * this.lineBytes;
    let partial = false;
    for (let i = 0; i < this.lineBytes; i++) {
      const k = b * this.lineBytes + i;
      if (this.wcValid[k] === 1) this.ramBytes[base + i] = this.wcData[k] as number;
      else partial = true;
    }
    this.wcValid.fill(0, b * this.lineBytes, (b + 1) * this.lineBytes);
    this.wcLine[b] = NO_LINE;
    this.wcFlushes++;
    if (partial) this.wcPartialFlushes++;
    this.countedCycles += this.system.costs.busWriteCycles;
  }

  private drainWc(): void {
    for (let b = 0; b < this.wcLine.length; b++) if (this.wcLine[b] !== NO_LINE) this.flushWcBuffer(b);
  }

  /** Bytes waiting in WC buffers (not yet in RAM). */
  get wcPendingLines(): number {
    let n = 0;
    for (let b = 0; b < this.wcLine.length; b++) if (this.wcLine[b] !== NO_LINE) n++;
    return n;
  }

  validate(): void {
    for (const level of this.privateLevels) level.validate();
  }

  stats(): CpuCacheStats {
    return {
      cpu: this.index,
      loads: this.loads,
      stores: this.stores,
      walkReads: this.walkReads,
      cycles: this.cycles,
      uncachedAccesses: this.uncachedAccesses,
      wcStores: this.wcStores,
      wcFlushes: this.wcFlushes,
      wcPartialFlushes: this.wcPartialFlushes,
      levels: this.privateLevels.map((l) => l.stats()),
    };
  }
}

/** Copies n words (a line: a few, so a loop beats making two subarray views). */
function copyWords(src: Int32Array, srcAt: number, dst: Int32Array, dstAt: number, n: number): void {
  for (let k = 0; k < n; k++) dst[dstAt + k] = src[srcAt + k] as number;
}

/** Copies n bytes, at most a line's worth. */
function copyBytes(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, n: number): void {
  for (let k = 0; k < n; k++) dst[dstAt + k] = src[srcAt + k] as number;
}

function checkSize(sizeBytes: number): void {
  if (sizeBytes !== 1 && sizeBytes !== 2 && sizeBytes !== 4) throw new AccessSizeError(`access of ${sizeBytes} bytes: expected 1, 2 or 4`);
}

function readLe(bytes: Uint8Array, at: number, sizeBytes: number): number {
  let v = 0;
  for (let i = sizeBytes - 1; i >= 0; i--) v = v * 256 + (bytes[at + i] as number);
  return sizeBytes === 4 ? v | 0 : v;
}

function writeLe(bytes: Uint8Array, at: number, sizeBytes: number, value: number): void {
  let v = value >>> 0;
  for (let i = 0; i < sizeBytes; i++) {
    bytes[at + i] = v & 0xff;
    v >>>= 8;
  }
}

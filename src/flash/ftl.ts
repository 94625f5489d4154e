/**
 * The page-mapped log-structured store (a flash translation layer): logical pages 0..L-1 over the
 * NAND chip. A write appends the page to its stream's frontier and invalidates the old copy; garbage
 * collection (log-store.ts) cleans victims; TRIM writes a tombstone. Nothing is ever overwritten in
 * place, so write amplification = (host programs + GC copies + tombstones) / host writes.
 *
 * Spare area of every page (16 bytes; what mount needs):
 *   word 0  tag: 'KF' << 16 | kind << 8 | stream   (kind 1 data, 2 tombstone)
 *   word 1  logical page
 *   word 2, 3  sequence number (low, high 32 bits): every program takes the next, GC copies too
 *                (written into the register during copy-back), so a newer copy always wins
 *
 * Maps (controller RAM, Int32Array):
 *   l2p(lpn) = l2pMap[lpn]  ≥ 0: the page holding lpn's data;  -1: unmapped;  ≤ -2: trimmed, its
 *             tombstone at page -2 - v
 *   copies(lpn) = copyCounts.get(lpn)  data pages of lpn on the chip, live or stale, in blocks not yet
 *             erased (a byte per page, copy-counts.ts: GC decrements one for every stale page of a
 *             victim, at random, and a quarter of l2p's size stays in the cache). Only tombstones
 *             need them, so a store keeps them from its first TRIM, its mount, or the first copies()
 *             call on: until then they are not counted (two random updates per host write saved,
 *             3-8 % of the write's time, measured under load), and switching them on counts them
 *             from p2l, which marks every data page on the chip (keepCopyCounts)
 *   p2l[ppn]  0 ≤ v < 2^30: the live data of lpn v;  ≥ 2^30: the live tombstone of lpn v - 2^30;
 *             ≤ -2: a stale data copy of lpn -2 - v;  -1: nothing to account for (erased, corrupt,
 *             or a stale tombstone). GC tells what to do with a victim's page from p2l alone,
 *             reading it in order; a moved page changes no copies() (one appears, one is erased).
 *
 * Tombstones: a trimmed page's old data may survive on the chip, and mount must not bring it back,
 * so TRIM writes a tombstone (a page with kind 2 and no data). GC copies a live tombstone while any
 * data page of its lpn remains on the chip, counting those in the victim itself (an interrupted erase
 * may leave some of them readable); otherwise it drops it.
 *
 * Mount (crash recovery) reads every page's spare area: the highest sequence number per logical page
 * wins; a winning tombstone whose lpn has no data left on the chip is dropped; Corrupt pages (ECC
 * says: torn by power loss) are skipped. Every acknowledged write is on the chip before write()
 * returns and only ever superseded by a newer sequence number, so it survives; nothing older can win.
 */
import { PageState } from '../machine/nand.ts';
import type { NandDevice } from '../machine/nand.ts';
import { ArgumentError, InvariantError } from '../util/errors.ts';
import { BlockState } from './block-table.ts';
import { CopyCounts } from './copy-counts.ts';
import { FlashConfigError, FlashFullError, FlashMountError, LogicalAddressError } from './errors.ts';
import { LogStore } from './log-store.ts';
import type { GcStats, LogStoreConfig } from './log-store.ts';

export interface PageFtlConfig extends LogStoreConfig {
  logicalPages: number;
}

export interface PageFtlStats {
  logicalPages: number;
  mappedPages: number;
  hostWrites: number;
  hostReads: number;
  trims: number;
  tombstoneWrites: number;
  tombstonesDropped: number;
  gcCopies: number;
  /** (host programs + GC copies + tombstones) / host writes, from the chip's own counters. */
  writeAmplification: number;
  gc: GcStats;
}

const TAG = 0x4b46 << 16;
const TAG_MASK = 0xffff0000 | 0;
const KIND_DATA = 1;
const KIND_TRIM = 2;
const FTL_SPARE_BYTES = 16;
/** p2l marks a live tombstone with this bit (so logical pages number fewer than 2^30). */
const TOMBSTONE = 1 << 30;
/** 2^32 (log-store's TWO_32), as a constant of this module for the write path. */
const SEQ_WORD = 4294967296;
const SEQ_WORD_INVERSE = 1 / SEQ_WORD;

export class PageFtl extends LogStore {
  readonly logicalPages: number;
  readonly l2pMap: Int32Array;
  readonly copyCounts: CopyCounts;
  readonly p2l: Int32Array;
  hostWrites = 0;
  hostReads = 0;
  trims = 0;
  tombstoneWrites = 0;
  tombstonesDropped = 0;
  /** Per physical page holding data, the sequence number of the host write that wrote the data (a
   * GC copy carries it along; LFS's ages). Kept by page rather than by lpn so that GC reads it in
   * the victim's order, not at random. */
  private readonly writtenSeq: Float64Array;
  private readonly regSpare: Int32Array;
  private readonly regData: Uint8Array;
  private readonly programsAtStart: number;
  private readonly pending: Int32Array;
  /** cleanBlock's scratch: the victim's live data pages and each copy's spare words (word 1 its lpn). */
  private readonly runPages: Int32Array;
  private readonly runSpares: Int32Array;
  /** The tag and the high sequence word every slot of runSpares holds (words 0 and 3), NaN when not
   * all of them do: cleanBlock then writes only each copy's lpn and low sequence word. */
  private runSparesTag = NaN;
  private runSparesHigh = NaN;
  /** cleanBlock's scratch: the lpns of the victim's stale data pages. */
  private readonly staleLpns: Int32Array;
  /** log2(pages per block) when that is a power of two (block of a page by shift), else -1. */
  private readonly blockShift: number;
  /** Whether copyCounts is kept (from the first TRIM, mount or copies() call on; keepCopyCounts). */
  private countsKept = false;

  private constructor(device: NandDevice, config: PageFtlConfig) {
    super(device, config, device.pagesPerBlock);
    const L = config.logicalPages;
    if (device.spareBytes < FTL_SPARE_BYTES) throw new FlashConfigError(`the FTL needs ${FTL_SPARE_BYTES} spare bytes per page; the chip has ${device.spareBytes}`);
    const usable = (device.blocks - this.config.lowWatermark - this.nrStreams - 1) * device.pagesPerBlock;
    if (!Number.isInteger(L) || L < 1 || L > usable || L >= TOMBSTONE) {
      throw new FlashConfigError(`logical pages ${L}: expected an integer in [1, ${usable}] (the chip's pages less the reserve, the frontiers and one block GC can gain from)`);
    }
    this.logicalPages = L;
    this.l2pMap = new Int32Array(L).fill(-1);
    this.copyCounts = new CopyCounts(L);
    this.p2l = new Int32Array(device.pages).fill(-1);
    this.writtenSeq = new Float64Array(this.trackYoungest ? device.pages : 0);
    this.regSpare = device.register.spareWords;
    this.regData = device.register.data;
    this.programsAtStart = device.programs + device.copybacks;
    this.pending = new Int32Array(device.pagesPerBlock);
    this.runPages = new Int32Array(device.pagesPerBlock);
    this.runSpares = new Int32Array(device.pagesPerBlock * (FTL_SPARE_BYTES / 4));
    this.staleLpns = new Int32Array(device.pagesPerBlock);
    const ppb = device.pagesPerBlock;
    this.blockShift = (ppb & (ppb - 1)) === 0 ? 31 - Math.clz32(ppb) : -1;
  }

  /** A new store on a chip: every block is erased first (a fresh chip is already). */
  static format(device: NandDevice, config: PageFtlConfig): PageFtl {
    const ftl = new PageFtl(device, config);
    ftl.formatBlocks();
    return ftl;
  }

  /** The store on a chip that held one (after a clean shutdown or a power cut): scans every page. */
  static mount(device: NandDevice, config: PageFtlConfig): PageFtl {
    const ftl = new PageFtl(device, config);
    ftl.recover();
    return ftl;
  }

  /** Writes logical page `lpn`: `data` (at most a page; none for a store that keeps no data) to the
   * frontier of temperature class `temperature` (clamped to the host streams). */
  write(lpn: number, data: Uint8Array | null = null, temperature = 0): void {
    if (lpn >>> 0 !== lpn || lpn >= this.logicalPages) throw new LogicalAddressError(lpn, this.logicalPages);
    if (data !== null && data.length > this.device.pageBytes) throw this.oversized(lpn, data.length);
    // The same integer, now known to V8 as one: stored into the maps without a float conversion.
    const l = lpn | 0;
    // (Temperature 0, the common case, without the call: what the write path inlines is budgeted.)
    const s = temperature > 0 ? this.streamOf(temperature) : 0;
    // lpn's current page, read first: a miss in a map of L entries, which the work below then
    // overlaps (as it overlaps the previous write's last misses). GC may move the page: read again.
    let old = this.l2pMap[l] as number;
    if ((this.frontier[s] as number) < 0) {
      this.ensureFrontier(s);
      old = this.l2pMap[l] as number;
    }
    const b = this.frontier[s] as number;
    const p = this.fill[s] as number;
    const seq = this.seq;
    if (data === null) {
      // The spare words as arguments (stampSpare's, written out): no staging in the register.
      this.device.programSpare16(b, p, TAG | (KIND_DATA << 8) | s, l, seq >>> 0, (seq * SEQ_WORD_INVERSE) >>> 0);
    } else {
      this.stampSpare(KIND_DATA, s, l);
      this.device.programFrom(b, p, data, FTL_SPARE_BYTES);
    }
    this.seq = seq + 1;
    this.hostWrites++;
    const ppn = b * this.pagesPerBlock + p;
    this.dropMapping(l, old, seq);
    this.l2pMap[l] = ppn;
    this.p2l[ppn] = l;
    if (this.countsKept === true) this.copyCounts.inc(l);
    this.table.valid[b]!++;
    if (this.trackYoungest === true) {
      this.writtenSeq[ppn] = seq;
      this.table.youngest[b] = seq;
    }
    if (this.trackMtime === true) this.table.addMtime(b, seq, 1);
    this.advanceFrontier(s, p);
  }

  /** The error for a write of `bytes` to lpn, more than a page (apart: the write path stays small). */
  private oversized(lpn: number, bytes: number): ArgumentError {
    return new ArgumentError(`write of lpn ${lpn}: ${bytes} bytes, expected at most a page (${this.device.pageBytes})`);
  }

  /** Reads `lpn` into `out` (its first out.length bytes). False when it is unmapped or trimmed. */
  read(lpn: number, out: Uint8Array | null = null): boolean {
    if (!(lpn >= 0 && lpn < this.logicalPages && Number.isInteger(lpn))) throw new LogicalAddressError(lpn, this.logicalPages);
    const ppn = this.l2pMap[lpn] as number;
    if (ppn < 0) return false;
    const bytes = out === null ? 0 : out.length;
    if (bytes > this.device.pageBytes) throw new ArgumentError(`read of lpn ${lpn} into ${bytes} bytes: expected at most a page (${this.device.pageBytes})`);
    const b = (ppn / this.pagesPerBlock) | 0;
    const state = this.device.read(b, ppn - b * this.pagesPerBlock, bytes, 0);
    if (state !== PageState.Programmed) throw new InvariantError(`lpn ${lpn} maps to block ${b} page ${ppn - b * this.pagesPerBlock}, which reads ${state === PageState.Erased ? 'erased' : 'corrupt'}`);
    if (out !== null) out.set(bytes === this.regData.length ? this.regData : this.regData.subarray(0, bytes));
    this.hostReads++;
    return true;
  }

  /** Discards `count` logical pages from `lpn`: they read as unmapped, and GC stops copying them.
   * Each page is one TRIM: a FlashFullError names the page it stopped at (those before it are trimmed). */
  trim(lpn: number, count = 1): void {
    if (!Number.isInteger(count) || count < 0 || !(lpn >= 0 && lpn + count <= this.logicalPages && Number.isInteger(lpn))) {
      throw new LogicalAddressError(lpn + Math.max(0, count - 1), this.logicalPages);
    }
    // GC decides whether a tombstone goes along by its lpn's copies on the chip.
    this.keepCopyCounts();
    for (let l = lpn; l < lpn + count; l++) {
      if ((this.l2pMap[l] as number) < 0) {
        this.trims++;
        continue;
      }
      if ((this.frontier[0] as number) < 0) this.ensureTrimFrontier(lpn, count, l);
      this.trims++;
      const b = this.frontier[0] as number;
      const p = this.fill[0] as number;
      this.stampSpare(KIND_TRIM, 0, l);
      this.device.program(b, p, 0, FTL_SPARE_BYTES);
      this.tombstoneWrites++;
      const ppn = b * this.pagesPerBlock + p;
      const seq = this.seq++;
      this.dropMapping(l, this.l2pMap[l] as number, seq);
      this.l2pMap[l] = -2 - ppn;
      this.p2l[ppn] = TOMBSTONE + l;
      this.table.valid[b]!++;
      if (this.trackMtime) this.table.addMtime(b, seq, 1);
      this.advanceFrontier(0, p);
    }
  }

  /** A frontier for the tombstone of `l`, the TRIM of `count` pages from `lpn` having reached it. */
  private ensureTrimFrontier(lpn: number, count: number, l: number): void {
    try {
      this.ensureFrontier(0);
    } catch (error) {
      if (!(error instanceof FlashFullError) || l === lpn) throw error;
      throw new FlashFullError(`trim of lpn ${l} (page ${l - lpn + 1} of ${count} from lpn ${lpn}; those before it are trimmed): ${error.message}`);
    }
  }

  /** The page holding lpn's data (≥ 0), -1 when unmapped, ≤ -2 when trimmed (tombstone at -2 - v). */
  l2p(lpn: number): number {
    return this.l2pMap[lpn] as number;
  }

  /** Data pages of lpn on the chip, live or stale. */
  copies(lpn: number): number {
    this.keepCopyCounts();
    return this.copyCounts.get(lpn);
  }

  /** From now on copies() is counted as pages are written and erased; the first call counts it from
   * p2l (each data page on the chip, live (0 ≤ v < 2^30) or stale (v ≤ -2), is in p2l; nothing else
   * there is data): O(pages), once. */
  private keepCopyCounts(): void {
    if (this.countsKept) return;
    this.countsKept = true;
    const p2l = this.p2l;
    for (let ppn = 0; ppn < p2l.length; ppn++) {
      const q = p2l[ppn] as number;
      if (q >= 0 && q < TOMBSTONE) this.copyCounts.inc(q);
      else if (q < -1) this.copyCounts.inc(-2 - q);
    }
  }

  stats(): PageFtlStats {
    let mapped = 0;
    for (let l = 0; l < this.logicalPages; l++) if ((this.l2pMap[l] as number) >= 0) mapped++;
    return {
      logicalPages: this.logicalPages,
      mappedPages: mapped,
      hostWrites: this.hostWrites,
      hostReads: this.hostReads,
      trims: this.trims,
      tombstoneWrites: this.tombstoneWrites,
      tombstonesDropped: this.tombstonesDropped,
      gcCopies: this.gcCopies,
      writeAmplification: this.hostWrites === 0 ? 0 : (this.device.programs + this.device.copybacks - this.programsAtStart) / this.hostWrites,
      gc: this.gcStats(),
    };
  }

  /** Pages GC copied (data and tombstones): every live page of every victim but the tombstones it
   * dropped. */
  get gcCopies(): number {
    return this.gcStats().copiedUnits - this.tombstonesDropped;
  }

  /**
   * Checks every invariant: the two maps agree; valid counts per block match the pages live in it;
   * copies[] matches the data pages on the chip; every live page's spare names its lpn and kind;
   * frontiers sit at their blocks' write pointers; free blocks are erased; and the block table's own.
   */
  validate(): void {
    const fail = (message: string): never => {
      throw new InvariantError(`page FTL: ${message}`);
    };
    this.table.validate();
    this.copyCounts.validate();
    const ppb = this.pagesPerBlock;
    const validCount = new Int32Array(this.device.blocks);
    const copies = new Int32Array(this.logicalPages);
    const words = this.device.spareWords;
    const wpp = this.device.spareBytes / 4;
    for (let ppn = 0; ppn < this.device.pages; ppn++) {
      const q = this.p2l[ppn] as number;
      if (q === -1) continue;
      const b = (ppn / ppb) | 0;
      const state = this.table.state[b] as number;
      if (state === BlockState.Free || state === BlockState.Bad) fail(`${state === BlockState.Free ? 'free' : 'bad'} block ${b} page ${ppn - b * ppb} is accounted for (p2l ${q})`);
      const lpn = q >= TOMBSTONE ? q - TOMBSTONE : q >= 0 ? q : -2 - q;
      if (lpn >= this.logicalPages) fail(`p2l of page ${ppn} names lpn ${lpn}, out of range`);
      if (this.device.pageStates[ppn] !== PageState.Programmed) fail(`page ${ppn} is accounted for but reads ${this.device.pageStates[ppn]}`);
      const tag = words[ppn * wpp] as number;
      if ((tag & TAG_MASK) !== TAG || words[ppn * wpp + 1] !== lpn) fail(`page ${ppn}: spare says lpn ${words[ppn * wpp + 1]}, the map says ${lpn}`);
      const kind = (tag >>> 8) & 0xff;
      if (q >= 0) {
        validCount[b]!++;
        const m = this.l2pMap[lpn] as number;
        if (kind !== (q >= TOMBSTONE ? KIND_TRIM : KIND_DATA)) fail(`page ${ppn}: p2l ${q} and spare kind ${kind} disagree`);
        if (kind === KIND_DATA) {
          if (m !== ppn) fail(`page ${ppn} holds live data of lpn ${lpn}, but l2p says ${m}`);
          copies[lpn]!++;
        } else if (m !== -2 - ppn) fail(`page ${ppn} holds the live tombstone of lpn ${lpn}, but l2p says ${m}`);
      } else {
        if (kind !== KIND_DATA) fail(`page ${ppn} is a stale data copy of lpn ${lpn} in p2l, but its spare says kind ${kind}`);
        copies[lpn]!++;
      }
    }
    for (let l = 0; l < this.logicalPages; l++) {
      const m = this.l2pMap[l] as number;
      if (m >= 0 && this.p2l[m] !== l) fail(`l2p maps lpn ${l} to page ${m}, whose p2l is ${this.p2l[m]}`);
      if (m <= -2 && this.p2l[-2 - m] !== TOMBSTONE + l) fail(`lpn ${l} is trimmed with its tombstone at page ${-2 - m}, whose p2l is ${this.p2l[-2 - m]}`);
      if (this.countsKept && copies[l] !== this.copyCounts.get(l)) fail(`lpn ${l}: ${copies[l]} data pages on the chip, copies() says ${this.copyCounts.get(l)}`);
    }
    for (let b = 0; b < this.device.blocks; b++) {
      if (validCount[b] !== this.table.valid[b]) fail(`block ${b}: ${validCount[b]} live pages, the table says ${this.table.valid[b]}`);
    }
    this.validateFrontiers(fail);
    this.device.validate();
  }

  protected roomUnits(stream: number): number {
    return this.frontier[stream] === -1 ? 0 : this.pagesPerBlock - (this.fill[stream] as number);
  }

  /** Copies a victim's live pages (data and needed tombstones) to the GC target, then forgets it.
   * This is the simulator's innermost loop: one pass over the victim, in runs of live data pages,
   * each filling the target's frontier as far as it goes; a run's maps are written as its pages are
   * found, and the chip copies it with one copybackRun() (victim and frontier checked once per run,
   * not per page). The victim's stale copies leave copies() (when kept) after the runs. */
  protected cleanBlock(victim: number, target: number): void {
    const ppb = this.pagesPerBlock;
    const base = victim * ppb;
    const p2l = this.p2l;
    const l2pMap = this.l2pMap;
    const copyCounts = this.copyCounts;
    const valid = this.table.valid;
    const runPages = this.runPages;
    const spares = this.runSpares;
    const pendingPages = this.pending;
    const tracking = this.trackYoungest || this.trackMtime;
    // Nothing else programs until the copies are done (GC does not nest, and opening a frontier
    // programs nothing), so live page j of the victim takes sequence number seq0 + j: its low word
    // is seq0's plus j modulo 2^32 (int32 arithmetic: the same bits), its high word seq0's, one
    // more from the copy that carries (carryAt) on.
    const seq0 = this.seq;
    const seqLow0 = seq0 >>> 0;
    const low0 = seqLow0 | 0;
    const high0 = ((seq0 - seqLow0) / SEQ_WORD) | 0;
    const high1 = (high0 + 1) | 0;
    // (Clamped to a block: a small integer.)
    const carryAt = Math.min(SEQ_WORD - seqLow0, ppb) | 0;
    const tag = TAG | (KIND_DATA << 8) | target;
    if (tag !== this.runSparesTag || high0 !== this.runSparesHigh) this.fillRunSpares(tag, high0);
    const stale = this.staleLpns;
    const counting = this.countsKept;
    let pending = 0;
    let n = 0;
    let nStale = 0;
    let i = 0;
    // One pass over the victim, in runs: each run is the live data pages that fit the target's
    // frontier. A frontier is opened only when a live data page is left to copy.
    while (i < ppb) {
      for (; i < ppb; i++) {
        const q = p2l[base + i] as number;
        if (q >= 0 && q < TOMBSTONE) break;
        if (q >= TOMBSTONE) pendingPages[pending++] = i;
        else if (q < -1) {
          if (counting) stale[nStale++] = -2 - q;
          p2l[base + i] = -1;
        }
      }
      if (i === ppb) break;
      // No frontier: the last run filled it, or a mount found none; there is a free block.
      if ((this.frontier[target] as number) < 0) this.ensureFrontier(target);
      const b = this.frontier[target] as number;
      const p = this.fill[target] as number;
      const k = n;
      const last = k + ppb - p;
      // Copy j of the victim lands on page ppn0 + j.
      const ppn0 = b * ppb + p - k;
      for (; i < ppb && n < last; i++) {
        const q = p2l[base + i] as number;
        if (q >= 0) {
          if (q >= TOMBSTONE) pendingPages[pending++] = i;
          else {
            // The copy's spare words (tag, lpn, sequence number) and its maps. The maps change
            // before the chip copies the run: if the copy-back fails (power loss), the store is
            // mounted again from the chip, and these maps are not used.
            runPages[n] = i;
            const at = n << 2;
            // (Words 0 and 3, the tag and high0, are already in every slot: fillRunSpares.)
            spares[at + 1] = q;
            spares[at + 2] = (low0 + n) | 0;
            p2l[ppn0 + n] = q;
            l2pMap[q] = ppn0 + n;
            p2l[base + i] = -1;
            n++;
          }
        } else if (q < -1) {
          if (counting) stale[nStale++] = -2 - q;
          p2l[base + i] = -1;
        }
      }
      // The copies from the carry on (once in 2^32 programs) take the next high word: set apart,
      // so the loop above keeps fewer values in registers.
      if (carryAt < n) this.carryRunSpares(carryAt > k ? carryAt : k, n, high1);
      this.device.copybackRun(victim, runPages, spares, k, n, b, p, FTL_SPARE_BYTES);
      valid[b]! += n - k;
      if (tracking) this.noteRun(b, base, ppn0, k, n, seq0 + k);
      this.seq = seq0 + n;
      valid[victim]! -= n - k;
      if (p + n - k === ppb) {
        this.frontierFull(target);
        this.fill[target] = 0;
      } else {
        this.fill[target] = p + n - k;
      }
    }
    // The victim's data pages are forgotten (p2l -1) as the pass meets them; its tombstones once
    // they are settled, while its stale copies still count in copies().
    if (pending > 0) this.settleTombstones(victim, target, pending);
    // Apart, so the decrements (one cache miss each, independent) overlap.
    for (let k = 0; k < nStale; k++) copyCounts.dec(stale[k] as number);
  }

  /** Every slot of runSpares gets `tag` as word 0 and `high` as word 3 (what each copy of the
   * victims to come takes while both stay the same: one stream, fewer than 2^32 programs). */
  private fillRunSpares(tag: number, high: number): void {
    const spares = this.runSpares;
    for (let at = 0; at < spares.length; at += 4) {
      spares[at] = tag;
      spares[at + 3] = high;
    }
    this.runSparesTag = tag;
    this.runSparesHigh = high;
  }

  /** Copies `from`..`end`-1 take the next high sequence word, `high1` (the low word carried): their
   * slots no longer hold runSparesHigh, so the next victim fills them again. */
  private carryRunSpares(from: number, end: number, high1: number): void {
    for (let j = from; j < end; j++) this.runSpares[4 * j + 3] = high1;
    this.runSparesHigh = NaN;
  }

  /** The victim's `pending` live tombstones (pages in this.pending): each goes along while any data
   * page of its lpn remains on the chip, the victim's stale ones included (they leave copies() only
   * after this). Then the victim forgets them (p2l -1). GC does not nest (the collecting flag), so
   * nothing else changes copies() meanwhile. */
  private settleTombstones(victim: number, target: number, pending: number): void {
    if (!this.countsKept) throw new InvariantError(`victim block ${victim} holds ${pending} live tombstones, but copies() is not kept (a TRIM keeps it)`);
    const base = victim * this.pagesPerBlock;
    const p2l = this.p2l;
    for (let k = 0; k < pending; k++) {
      const i = this.pending[k] as number;
      const lpn = (p2l[base + i] as number) - TOMBSTONE;
      if (this.copyCounts.get(lpn) > 0) {
        this.copyTombstone(victim, i, lpn, target);
      } else {
        this.l2pMap[lpn] = -1;
        this.table.valid[victim]!--;
        this.tombstonesDropped++;
      }
    }
    for (let k = 0; k < pending; k++) p2l[base + (this.pending[k] as number)] = -1;
  }

  private copyTombstone(victim: number, page: number, lpn: number, stream: number): void {
    this.ensureFrontier(stream);
    const b = this.frontier[stream] as number;
    const p = this.fill[stream] as number;
    this.stampSpare(KIND_TRIM, stream, lpn);
    this.device.copyback(victim, page, b, p, FTL_SPARE_BYTES);
    const seq = this.seq++;
    const ppn = b * this.pagesPerBlock + p;
    this.p2l[ppn] = TOMBSTONE + lpn;
    this.l2pMap[lpn] = -2 - ppn;
    this.table.valid[victim]!--;
    this.table.valid[b]!++;
    if (this.trackMtime) this.table.addMtime(b, seq, 1);
    this.advanceFrontier(stream, p);
  }

  /** Puts a page's spare area in the register: tag, lpn, and the next sequence number. */
  private stampSpare(kind: number, stream: number, lpn: number): void {
    const spare = this.regSpare;
    const seq = this.seq;
    spare[0] = TAG | (kind << 8) | stream;
    spare[1] = lpn;
    // putSeq(spare, 2, seq), written out (an imported binding is a checked load on every write);
    // the high word by a multiplication by 2^-32, exact (a power of two) and without a branch.
    spare[2] = seq >>> 0;
    spare[3] = (seq * SEQ_WORD_INVERSE) >>> 0;
  }

  /** Ages for the cost-benefit policies once copies k..end-1 of a run (victim page
   * base + runPages[j]) landed on pages ppn0 + j of block b, copy k at time `now` and each next one
   * a tick later, all counted in b's valid units: LFS keeps the data's own write time; F2FS averages
   * in the time of each copy, one unit at a time, as its GC's writes are ordinary block allocations
   * (f2fs_allocate_data_block with from_gc false: only ATGC, which does not use this cost, carries
   * the victim's mtime over). */
  private noteRun(b: number, base: number, ppn0: number, k: number, end: number, now: number): void {
    if (this.trackYoungest) {
      const writtenSeq = this.writtenSeq;
      const runPages = this.runPages;
      let youngest = this.table.youngest[b] as number;
      for (let j = k; j < end; j++) {
        const written = writtenSeq[base + (runPages[j] as number)] as number;
        writtenSeq[ppn0 + j] = written;
        if (written > youngest) youngest = written;
      }
      this.table.youngest[b] = youngest;
    }
    if (this.trackMtime) this.table.addMtimeEach(b, now, end - k);
  }

  private blockOf(ppn: number): number {
    return this.blockShift >= 0 ? ppn >>> this.blockShift : (ppn / this.pagesPerBlock) | 0;
  }

  /** lpn's current page (data or tombstone) stops being live: a host write or TRIM at time `now`
   * replaced it (F2FS moves the old block's mtime towards now; GC does not come here). */
  private dropMapping(lpn: number, old: number, now: number): void {
    if (old === -1) return;
    // Data becomes a stale copy; a tombstone (at page -2 - old) is forgotten.
    const page = old >= 0 ? old : -2 - old;
    this.p2l[page] = old >= 0 ? -2 - lpn : -1;
    const b = this.blockOf(page);
    if (this.trackMtime === true) this.table.touchMtime(b, now, 1);
    this.table.invalidate(b);
  }

  private recover(): void {
    // Counted as the pages are read (the chip may hold tombstones).
    this.countsKept = true;
    const ppb = this.pagesPerBlock;
    const L = this.logicalPages;
    const bestSeq = new Float64Array(L).fill(-1);
    const bestPpn = new Int32Array(L).fill(-1);
    const spare = this.regSpare;
    this.mountChip({
      dataBytes: 0,
      spareBytes: FTL_SPARE_BYTES,
      pageKind: 'a page-FTL page',
      ownTag: (tag) => (tag & TAG_MASK) === TAG && (((tag >>> 8) & 0xff) === KIND_DATA || ((tag >>> 8) & 0xff) === KIND_TRIM),
      visit: (b, p, seq) => {
        const lpn = spare[1] as number;
        if (lpn < 0 || lpn >= L) throw new FlashMountError(b, p, `logical page ${lpn} is outside this store's ${L} pages (mount with the logical size it was formatted with)`);
        const kind = ((spare[0] as number) >>> 8) & 0xff;
        const ppn = b * ppb + p;
        if (kind === KIND_DATA) {
          this.copyCounts.inc(lpn);
          this.p2l[ppn] = -2 - lpn;
        }
        if (seq > (bestSeq[lpn] as number)) {
          bestSeq[lpn] = seq;
          bestPpn[lpn] = kind === KIND_DATA ? ppn : -2 - ppn;
        }
      },
      settle: () => {
        const valid = this.table.valid;
        for (let lpn = 0; lpn < L; lpn++) {
          const best = bestPpn[lpn] as number;
          if (best === -1) continue;
          const ppn = best >= 0 ? best : -2 - best;
          if (best < 0 && this.copyCounts.get(lpn) === 0) continue;
          this.l2pMap[lpn] = best;
          this.p2l[ppn] = best >= 0 ? lpn : TOMBSTONE + lpn;
          const b = (ppn / ppb) | 0;
          valid[b]!++;
          const seq = bestSeq[lpn] as number;
          if (this.trackYoungest) {
            this.writtenSeq[ppn] = seq;
            if (seq > (this.table.youngest[b] as number)) this.table.youngest[b] = seq;
          }
          if (this.trackMtime) this.table.addMtime(b, seq, 1);
        }
      },
    });
  }
}

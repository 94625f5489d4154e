/**
 * A NAND flash chip: blocks of pages, each page a data area and a spare (out-of-band) area, behind a
 * page register. The device has no policy; it enforces the medium's rules and counts what it did.
 *
 * Rules (each violation is a typed error thrown before anything changes):
 *   a page is programmed once between erases, and the pages of a block in order (page = the block's
 *   write pointer): PageNotErasedError, ProgramOrderError
 *   erasure is by whole blocks only: EraseAlignmentError
 *   a bad block is neither read, programmed nor erased: BadBlockError
 *   transfers fit the page and the spare, and page data needs a device that stores it: NandTransferError
 *   copy-back moves a page that was programmed (clean or Corrupt), never an erased one: the copy would
 *   be a programmed page holding erased bytes that mount could not tell from a real erased page:
 *   CopybackSourceError
 *
 * Operations go through the page register, as on an ONFI chip: program() moves `dataBytes` of
 * register.data and `spareBytes` of register.spare into an erased page (bytes not transferred stay
 * erased, 0xFF); programFrom() is program() with the data transferred from the caller's buffer, as
 * the bus would, instead of staged in register.data first; programSpare16() is program() of a page
 * without data whose 16 spare bytes come as four words (they still pass through the register);
 * read() moves a page into the register;
 * copyback() moves a page to another inside the chip (ONFI's copy-back program), and copybackRun()
 * is a run of copy-backs from one block to consecutive pages of another, the rules every page shares
 * checked once; eraseBlock() sets a block's cells back to 0xFF. A block whose
 * erase count has reached the endurance limit (when one is given) fails its next erase, goes bad, and
 * its contents are lost. read() reports what on-die ECC would: Programmed (clean), Erased, or Corrupt
 * (uncorrectable: a program or erase that power loss interrupted).
 *
 * Power loss: armPowerCut(n) interrupts the n-th program, copy-back or erase from now on. The
 * interrupted operation did nothing, finished (but was never acknowledged), or left the page
 * Corrupt (program) or each page erased, Corrupt or intact (erase); then every call throws
 * PowerLossError until the image is mounted again (NandDevice.over on the same buffer, or
 * NandImageFile.open on the same file). An interrupted operation that changed the cells is counted
 * like a finished one (stats, busy time, energy, and for an erase the block's erase count and the
 * endurance rule: a worn-out block fails it and goes bad); one that did nothing is not counted.
 *
 * The image: one ArrayBuffer holding everything that survives power loss, so a copy of the buffer is
 * a copy of the chip, and a file image (nand-file.ts) is the same bytes on disk:
 *   header      16 u32: magic 'KMEM' 'NAND', layout version, blocks, pages per block, page bytes,
 *               spare bytes, flags (bit 0: page data stored), endurance limit (0 = none)
 *   eraseCounts u32 per block
 *   blockFlags  u8 per block (bit 0: bad)
 *   pageStates  u8 per page (PageState)
 *   spare       spareBytes per page
 *   data        pageBytes per page (only when page data is stored)
 * Derived at mount, not stored: each block's write pointer = 1 + its last page that is not erased.
 * An erase resets the block's page states at once and its spare cells when someone looks (read() of
 * one of its erased pages, the buffer/bytes/spare/spareWords getters, validate(), a power cut, a
 * sink): every program and copy-back writes a page's whole spare area, so in a simulation the erase
 * does not pass over 2 KiB of cold cache lines per block (spareStale). What any of those shows is
 * what an eager erase leaves; only a view kept from before an erase may show the old bytes.
 * A file image (a sink) gets each change in an order that keeps it mountable if the host process
 * dies between two writes: a program writes the page's spare and data before its state byte; an
 * erase writes the states before it clears spare and data. Either way a torn change leaves pages
 * that say Erased over bytes that are not (the program did nothing, or the erase finished), which
 * NandImageFile.open resets (resetTornErasedPages).
 *
 * Costs (nand-timing.ts): busy time = reads·tR + programs·tPROG + copy-backs·(tR + tPROG) +
 * erases·tBERS + bytes moved · bus time per byte; energy = busy time · active power.
 */
import { ArgumentError, InvariantError, KmemError } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import { NAND_TIMINGS } from './nand-timing.ts';
import type { NandTiming, NandTimingName } from './nand-timing.ts';

/** The page states as plain constants: the hot paths compare with these (a property of PageState
 * is a load and a map check on every use in optimised code; a module constant folds away). */
const ERASED = 0;
const PROGRAMMED = 1;
const CORRUPT = 2;
export const PageState = { Erased: ERASED, Programmed: PROGRAMMED, Corrupt: CORRUPT } as const;
export type PageState = (typeof PageState)[keyof typeof PageState];

export const EraseStatus = { Ok: 0, Failed: 1 } as const;
export type EraseStatus = (typeof EraseStatus)[keyof typeof EraseStatus];

const MAGIC_0 = 0x4d454d4b; // 'KMEM'
const MAGIC_1 = 0x444e414e; // 'NAND'
const LAYOUT_VERSION = 1;
const HEADER_WORDS = 16;
const FLAG_PAYLOAD = 1;
const BLOCK_BAD = 1;
const ERASED_WORD = -1;
/** Indexes of the operation counters. */
const C_READS = 0;
const C_PROGRAMS = 1;
const C_COPYBACKS = 2;
const C_ERASES = 3;
const C_ERASE_FAILURES = 4;
const C_BYTES_IN = 5;
const C_BYTES_OUT = 6;

export interface NandGeometry {
  readonly blocks: number;
  readonly pagesPerBlock: number;
  /** Bytes in a page's data area. */
  readonly pageBytes: number;
  /** Bytes in a page's spare (out-of-band) area: a multiple of 4. */
  readonly spareBytes: number;
}

export interface NandOptions {
  geometry: NandGeometry;
  /** The cost model: a preset name or figures of your own. Default 'slc'. */
  timing?: NandTimingName | NandTiming;
  /** Erases a block survives; the next one fails and the block goes bad. 0 (default): no limit. */
  enduranceCycles?: number;
  /** Keep page data. Without it the chip keeps states and spare areas only (a metadata model for
   * garbage-collection studies, where no page carries data); a data transfer is then an error. */
  storePayload?: boolean;
}

/** Where a file-backed image writes the ranges of the buffer an operation changed (nand-file.ts). */
export interface NandSink {
  /** Writes `lengthBytes` of the image from `offsetBytes`, as the buffer holds them now. */
  write(offsetBytes: number, lengthBytes: number): void;
  close(): void;
}

export interface NandStats {
  geometry: NandGeometry;
  timing: string;
  reads: number;
  programs: number;
  copybacks: number;
  erases: number;
  eraseFailures: number;
  badBlocks: number;
  bytesIn: number;
  bytesOut: number;
  busyNs: number;
  energyNj: number;
  eraseCounts: { min: number; max: number; mean: number };
}

/** The misuses of a NAND device; each names the block and page involved. */
export class NandError extends KmemError {
  override name = 'NandError';
  constructor(
    readonly block: number,
    readonly page: number,
    message: string,
  ) {
    super(message);
  }
}

export class NandGeometryError extends ArgumentError {
  override name = 'NandGeometryError';
}

export class NandAddressError extends NandError {
  override name = 'NandAddressError';
  constructor(block: number, page: number, geometry: NandGeometry) {
    super(
      block,
      page,
      `NAND address block ${block} page ${page} is out of range: expected block in [0, ${geometry.blocks}) and page in [0, ${geometry.pagesPerBlock})`,
    );
  }
}

export class ProgramOrderError extends NandError {
  override name = 'ProgramOrderError';
  constructor(
    block: number,
    page: number,
    readonly expectedPage: number,
  ) {
    super(block, page, `program of block ${block} page ${page} out of order: expected page ${expectedPage} (the pages of a block are programmed in order)`);
  }
}

export class PageNotErasedError extends NandError {
  override name = 'PageNotErasedError';
  constructor(block: number, page: number) {
    super(block, page, `program of block ${block} page ${page}: the page is already programmed; expected an erased page (erase the whole block first)`);
  }
}

export class EraseAlignmentError extends NandError {
  override name = 'EraseAlignmentError';
  constructor(firstPage: number, pageCount: number, pagesPerBlock: number) {
    super(
      Math.floor(firstPage / pagesPerBlock),
      firstPage % pagesPerBlock,
      `erase of ${pageCount} pages from page ${firstPage}: expected whole blocks (a start and a count that are multiples of ${pagesPerBlock} pages)`,
    );
  }
}

export class BadBlockError extends NandError {
  override name = 'BadBlockError';
  constructor(block: number, operation: string) {
    super(block, 0, `${operation} of block ${block}: the block is bad; expected a good block`);
  }
}

export class NandTransferError extends NandError {
  override name = 'NandTransferError';
}

/** Copy-back from a page that was never programmed since its block's last erase. */
export class CopybackSourceError extends NandError {
  override name = 'CopybackSourceError';
  constructor(block: number, page: number) {
    super(block, page, `copy-back from block ${block} page ${page}: the page is erased; expected a programmed (or corrupt) source page`);
  }
}

/** The chip lost power: the operation named was interrupted, or the chip has been off since. */
export class PowerLossError extends NandError {
  override name = 'PowerLossError';
  constructor(
    readonly operation: string,
    block: number,
    page: number,
    readonly interrupted: boolean,
  ) {
    super(
      block,
      page,
      interrupted
        ? `power lost during ${operation} of block ${block}${operation === 'erase' ? '' : ` page ${page}`}; mount the image again`
        : `${operation} of block ${block}: the device has no power since a power cut; mount the image again`,
    );
  }
}

/** The page register: what program() takes and read() fills. */
export interface PageRegister {
  readonly data: Uint8Array;
  readonly spare: Uint8Array;
  /** `spare` as 32-bit words (little-endian). */
  readonly spareWords: Int32Array;
}

interface Layout {
  eraseCounts: number;
  blockFlags: number;
  pageStates: number;
  spare: number;
  data: number;
  totalBytes: number;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function layoutOf(g: NandGeometry, payload: boolean): Layout {
  const pages = g.blocks * g.pagesPerBlock;
  const eraseCounts = HEADER_WORDS * 4;
  const blockFlags = align8(eraseCounts + 4 * g.blocks);
  const pageStates = align8(blockFlags + g.blocks);
  const spare = align8(pageStates + pages);
  const data = align8(spare + pages * g.spareBytes);
  return { eraseCounts, blockFlags, pageStates, spare, data, totalBytes: data + (payload ? pages * g.pageBytes : 0) };
}

function checkGeometry(g: NandGeometry): void {
  const whole = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max;
  if (!whole(g.blocks, 1, 1 << 24)) throw new NandGeometryError(`NAND blocks ${g.blocks}: expected an integer in [1, 2^24]`);
  if (!whole(g.pagesPerBlock, 1, 1 << 16)) throw new NandGeometryError(`NAND pages per block ${g.pagesPerBlock}: expected an integer in [1, 65536]`);
  if (!whole(g.pageBytes, 1, 1 << 20)) throw new NandGeometryError(`NAND page size ${g.pageBytes} bytes: expected an integer in [1, 1 MiB]`);
  if (!whole(g.spareBytes, 4, 1 << 16) || g.spareBytes % 4 !== 0) {
    throw new NandGeometryError(`NAND spare size ${g.spareBytes} bytes: expected a multiple of 4 in [4, 65536]`);
  }
  if (g.blocks * g.pagesPerBlock > 2 ** 31 - 1) throw new NandGeometryError(`NAND of ${g.blocks} × ${g.pagesPerBlock} pages: expected fewer than 2^31 pages`);
}

function resolveTiming(timing: NandTimingName | NandTiming | undefined): NandTiming {
  if (timing === undefined) return NAND_TIMINGS.slc;
  if (typeof timing !== 'string') return timing;
  const preset = (NAND_TIMINGS as Record<string, NandTiming>)[timing];
  if (preset === undefined) throw new ArgumentError(`NAND timing '${timing}': expected one of ${Object.keys(NAND_TIMINGS).join(', ')}`);
  return preset;
}

export class NandDevice {
  readonly blocks: number;
  readonly pagesPerBlock: number;
  readonly pageBytes: number;
  readonly spareBytes: number;
  readonly pages: number;
  readonly payloadStored: boolean;
  readonly enduranceCycles: number;
  readonly timing: NandTiming;
  readonly register: PageRegister;
  /** The image's regions, as views (read them freely: inspecting costs nothing, as with a debug probe).
   * `buffer`, `bytes`, `spare` and `spareWords` are getters that first finish the deferred part of
   * past erases (resetErasedSpares): read the property again after an erase, do not keep the view. */
  readonly eraseCounts: Uint32Array;
  readonly blockFlags: Uint8Array;
  readonly pageStates: Uint8Array;
  readonly data: Uint8Array | null;

  /** Operation counters (float64: they pass 2^31 in long runs without changing representation). */
  private readonly counters = new Float64Array(7);

  private readonly spareWordsPerPage: number;
  /** The image and its spare area, for the chip's own use (the public getters settle erases first). */
  private readonly image: ArrayBuffer;
  private readonly imageBytes: Uint8Array;
  private readonly spareCells: Uint8Array;
  private readonly spareCellWords: Int32Array;
  /**
   * Blocks erased while no file image was attached whose spare cells were not reset then: in such a
   * block the pages from the write pointer on are erased (states say so) but may still hold the spare
   * bytes of before the erase. Each program or copy-back writes a page's whole spare area, so the reset
   * is needed only where someone looks: read() of such a page, the public views, validate(), a power
   * cut, a sink (resetErasedSpares). Saves the erase its pass over the block's spare cells.
   */
  private readonly spareStale: Uint8Array;
  private staleBlocks = 0;
  private readonly registerSpare: Int32Array;
  /** pageBytes when page data is stored, else 0 (a data transfer then breaks the rules). */
  private readonly maxDataBytes: number;
  private readonly layout: Layout;
  private readonly writePointers: Int32Array;
  private powered = true;
  private cutCountdown = 0;
  private cutPrng: Prng | null = null;
  private sink: NandSink | null = null;
  /** sparesOfRun's views of the last spares array it was given, by run end. */
  private runSparesSource: Int32Array | null = null;
  private runSparesViews: (Int32Array | undefined)[] = [];

  private constructor(buffer: ArrayBuffer, timing: NandTiming) {
    const header = new Uint32Array(buffer, 0, HEADER_WORDS);
    this.blocks = header[3] as number;
    this.pagesPerBlock = header[4] as number;
    this.pageBytes = header[5] as number;
    this.spareBytes = header[6] as number;
    this.payloadStored = ((header[7] as number) & FLAG_PAYLOAD) !== 0;
    this.enduranceCycles = header[8] as number;
    this.pages = this.blocks * this.pagesPerBlock;
    this.timing = timing;
    this.layout = layoutOf(this.geometry, this.payloadStored);
    const L = this.layout;
    this.image = buffer;
    this.imageBytes = new Uint8Array(buffer);
    this.eraseCounts = new Uint32Array(buffer, L.eraseCounts, this.blocks);
    this.blockFlags = new Uint8Array(buffer, L.blockFlags, this.blocks);
    this.pageStates = new Uint8Array(buffer, L.pageStates, this.pages);
    this.spareCells = new Uint8Array(buffer, L.spare, this.pages * this.spareBytes);
    this.spareCellWords = new Int32Array(buffer, L.spare, (this.pages * this.spareBytes) / 4);
    this.spareStale = new Uint8Array(this.blocks);
    this.data = this.payloadStored ? new Uint8Array(buffer, L.data, this.pages * this.pageBytes) : null;
    this.spareWordsPerPage = this.spareBytes / 4;
    const registerSpare = new Uint8Array(this.spareBytes);
    this.register = { data: new Uint8Array(this.pageBytes), spare: registerSpare, spareWords: new Int32Array(registerSpare.buffer) };
    this.registerSpare = this.register.spareWords;
    this.maxDataBytes = this.payloadStored ? this.pageBytes : 0;
    this.writePointers = new Int32Array(this.blocks);
    for (let b = 0; b < this.blocks; b++) this.writePointers[b] = this.scanWritePointer(b);
  }

  /** A new chip with every block erased and no erase yet. */
  static create(options: NandOptions): NandDevice {
    const g = options.geometry;
    checkGeometry(g);
    const endurance = options.enduranceCycles ?? 0;
    if (!Number.isInteger(endurance) || endurance < 0 || endurance > 0xffffffff) {
      throw new ArgumentError(`NAND endurance ${endurance} cycles: expected a non-negative integer (0 for no limit)`);
    }
    const payload = options.storePayload ?? true;
    const layout = layoutOf(g, payload);
    if (layout.totalBytes > 2 ** 32) throw new NandGeometryError(`NAND image of ${layout.totalBytes} bytes: expected at most 4 GiB`);
    const buffer = new ArrayBuffer(layout.totalBytes);
    const header = new Uint32Array(buffer, 0, HEADER_WORDS);
    header.set([MAGIC_0, MAGIC_1, LAYOUT_VERSION, g.blocks, g.pagesPerBlock, g.pageBytes, g.spareBytes, payload ? FLAG_PAYLOAD : 0, endurance]);
    new Uint8Array(buffer, layout.spare).fill(0xff);
    return new NandDevice(buffer, resolveTiming(options.timing));
  }

  /** The chip whose image is `buffer` (one that lost power, or one read from a file), as at power-on. */
  static over(buffer: ArrayBuffer, timing?: NandTimingName | NandTiming): NandDevice {
    if (buffer.byteLength < HEADER_WORDS * 4) throw new NandGeometryError(`NAND image of ${buffer.byteLength} bytes: too short for its header`);
    const header = new Uint32Array(buffer, 0, HEADER_WORDS);
    if (header[0] !== MAGIC_0 || header[1] !== MAGIC_1) throw new NandGeometryError('NAND image: bad magic, expected a kmem NAND image');
    if (header[2] !== LAYOUT_VERSION) throw new NandGeometryError(`NAND image layout version ${header[2]}: expected ${LAYOUT_VERSION}`);
    const geometry = { blocks: header[3] ?? 0, pagesPerBlock: header[4] ?? 0, pageBytes: header[5] ?? 0, spareBytes: header[6] ?? 0 };
    checkGeometry(geometry);
    const expected = layoutOf(geometry, ((header[7] ?? 0) & FLAG_PAYLOAD) !== 0).totalBytes;
    if (buffer.byteLength !== expected) throw new NandGeometryError(`NAND image of ${buffer.byteLength} bytes: expected ${expected} for its geometry`);
    return new NandDevice(buffer, resolveTiming(timing));
  }

  get reads(): number {
    return this.counters[C_READS] as number;
  }
  get programs(): number {
    return this.counters[C_PROGRAMS] as number;
  }
  get copybacks(): number {
    return this.counters[C_COPYBACKS] as number;
  }
  get erases(): number {
    return this.counters[C_ERASES] as number;
  }
  get eraseFailures(): number {
    return this.counters[C_ERASE_FAILURES] as number;
  }
  get bytesIn(): number {
    return this.counters[C_BYTES_IN] as number;
  }
  get bytesOut(): number {
    return this.counters[C_BYTES_OUT] as number;
  }

  get geometry(): NandGeometry {
    return { blocks: this.blocks, pagesPerBlock: this.pagesPerBlock, pageBytes: this.pageBytes, spareBytes: this.spareBytes };
  }

  /** The image (a copy of it is a copy of the chip). */
  get buffer(): ArrayBuffer {
    this.resetErasedSpares();
    return this.image;
  }

  /** The whole image as bytes. */
  get bytes(): Uint8Array {
    this.resetErasedSpares();
    return this.imageBytes;
  }

  /** The spare areas, spareBytes per page. */
  get spare(): Uint8Array {
    this.resetErasedSpares();
    return this.spareCells;
  }

  /** The spare areas as 32-bit words (little-endian), spareBytes / 4 per page. */
  get spareWords(): Int32Array {
    this.resetErasedSpares();
    return this.spareCellWords;
  }

  /** Persists every change from now on through `sink` (the file image). */
  attachSink(sink: NandSink): void {
    this.resetErasedSpares();
    this.sink = sink;
  }

  close(): void {
    this.sink?.close();
    this.sink = null;
  }

  isBad(block: number): boolean {
    this.checkBlock(block);
    return ((this.blockFlags[block] as number) & BLOCK_BAD) !== 0;
  }

  eraseCount(block: number): number {
    this.checkBlock(block);
    return this.eraseCounts[block] as number;
  }

  /** The next page of `block` that may be programmed (pagesPerBlock when the block is full). */
  writePointer(block: number): number {
    this.checkBlock(block);
    return this.writePointers[block] as number;
  }

  pageState(block: number, page: number): PageState {
    this.checkAddress(block, page);
    return this.pageStates[block * this.pagesPerBlock + page] as PageState;
  }

  /**
   * Programs page `page` of `block` from the register: `dataBytes` of register.data and `spareBytes`
   * of register.spare (a multiple of 4); the rest of the page stays erased.
   */
  program(block: number, page: number, dataBytes: number, spareBytes: number): void {
    // One guard for the hot path; fault() finds which rule was broken. A block out of range or not
    // an integer reads undefined from writePointers, so page !== wp catches it too.
    const wp = this.writePointers[block];
    if (page !== wp || page === this.pagesPerBlock || !this.powered || this.blockFlags[block] !== 0 || !this.transferFits(dataBytes, spareBytes)) {
      this.fault('program', block, page, dataBytes, spareBytes, -1, -1);
    }
    if (this.cutCountdown > 0 && --this.cutCountdown === 0) this.interruptProgram(block, page, dataBytes, spareBytes, -1);
    this.programFromRegister(block, page, dataBytes, spareBytes);
  }

  /**
   * program() with the page data transferred from `data` (all of it; none for null) instead of from
   * register.data: the same rules, the same cells and counts, one copy of the data instead of two.
   * register.data is left as it was, unless a power cut tears the program: the data is staged there
   * first, so the torn page holds what program() would have left.
   */
  programFrom(block: number, page: number, data: Uint8Array | null, spareBytes: number): void {
    if (data !== null || this.cutCountdown !== 0) {
      this.programFromChecked(block, page, data, spareBytes);
      return;
    }
    // The common case in simulation, kept small enough to inline: no data, no power cut armed.
    if (page !== this.writePointers[block] || page === this.pagesPerBlock || this.powered !== true || this.blockFlags[block] !== 0 || !this.spareFits(spareBytes)) {
      this.programFault(block, page, spareBytes);
    }
    this.programSpareCells(block, page, spareBytes);
  }

  /**
   * program(block, page, 0, 16) with register.spareWords[0..3] = w0..w3 first: a page without data
   * and a 16-byte spare transfer whose words come as arguments (what a simulation that keeps no page
   * data programs). The same rules, cells, counts and power-cut point; the words pass through the
   * register, which holds them afterwards, as it would. The common case (the rules hold, no power cut
   * armed) writes the cells from the arguments; any other goes through program().
   */
  programSpare16(block: number, page: number, w0: number, w1: number, w2: number, w3: number): void {
    const reg = this.registerSpare;
    reg[0] = w0;
    reg[1] = w1;
    reg[2] = w2;
    reg[3] = w3;
    if (this.cutCountdown !== 0 || page !== this.writePointers[block] || page === this.pagesPerBlock || this.powered !== true || this.blockFlags[block] !== 0 || this.spareWordsPerPage < 4) {
      this.program(block, page, 0, 16);
      return;
    }
    const ppn = block * this.pagesPerBlock + page;
    const words = this.spareCellWords;
    const to = ppn * this.spareWordsPerPage;
    words[to] = w0;
    words[to + 1] = w1;
    words[to + 2] = w2;
    words[to + 3] = w3;
    this.programmed(block, page, ppn, 16);
  }

  /** What a program leaves besides its spare words (written): the spare past them erased, the page's
   * state and the write pointer; persisted and counted. */
  private programmed(block: number, page: number, ppn: number, spareBytes: number): void {
    if (spareBytes !== this.spareBytes) this.eraseSpareTail(ppn, spareBytes);
    this.pageStates[ppn] = PROGRAMMED;
    this.writePointers[block] = page + 1;
    if (this.sink !== null) this.persistPage(ppn);
    const counters = this.counters;
    counters[C_PROGRAMS]! += 1;
    counters[C_BYTES_IN]! += spareBytes;
  }

  /** programFrom() with page data or a power cut armed. */
  private programFromChecked(block: number, page: number, data: Uint8Array | null, spareBytes: number): void {
    const dataBytes = data === null ? 0 : data.length;
    const wp = this.writePointers[block];
    if (page !== wp || page === this.pagesPerBlock || !this.powered || this.blockFlags[block] !== 0 || !this.transferFits(dataBytes, spareBytes)) {
      this.fault('program', block, page, dataBytes, spareBytes, -1, -1);
    }
    if (dataBytes === 0) {
      if (this.cutCountdown > 0 && --this.cutCountdown === 0) this.interruptProgram(block, page, 0, spareBytes, -1);
      this.programFromRegister(block, page, 0, spareBytes);
      return;
    }
    const source = data as Uint8Array;
    if (this.cutCountdown > 0 && this.cutCountdown === 1) {
      // A torn program tears what the register would have held: stage it there for interruptProgram.
      this.register.data.set(source);
      this.cutCountdown = 0;
      this.interruptProgram(block, page, dataBytes, spareBytes, -1);
    }
    if (this.cutCountdown > 0) this.cutCountdown--;
    this.programCells(block, page, source, dataBytes, spareBytes);
  }

  /** Reads a page into the register: `dataBytes` of its data and `spareBytes` of its spare area. */
  read(block: number, page: number, dataBytes: number, spareBytes: number): PageState {
    if (block >>> 0 !== block || block >= this.blocks || page >>> 0 !== page || page >= this.pagesPerBlock || !this.powered || this.blockFlags[block] !== 0 || !this.transferFits(dataBytes, spareBytes)) {
      this.fault('read', block, page, dataBytes, spareBytes, -1, -1);
    }
    const ppn = block * this.pagesPerBlock + page;
    if (this.spareStale[block] !== 0) this.resetErasedSpares();
    this.spareToRegister(ppn, spareBytes);
    if (dataBytes > 0) {
      const data = this.data as Uint8Array;
      const start = ppn * this.pageBytes;
      this.register.data.set(data.subarray(start, start + dataBytes));
    }
    const counters = this.counters;
    counters[C_READS]! += 1;
    counters[C_BYTES_OUT]! += dataBytes + spareBytes;
    return this.pageStates[ppn] as PageState;
  }

  /**
   * Copies a page to an erased page inside the chip (copy-back: read to the register, program from
   * it, no transfer of the data over the bus). The first `spareBytes` of the copy's spare area come
   * from register.spare instead (ONFI lets the controller change register bytes between the two
   * steps; they cross the bus). Returns the source page's state; a Corrupt source gives a Corrupt copy;
   * an erased source is refused (CopybackSourceError).
   */
  copyback(srcBlock: number, srcPage: number, dstBlock: number, dstPage: number, spareBytes: number): PageState {
    const wp = this.writePointers[dstBlock];
    // Read before the checks (undefined for an address out of range, which they then refuse).
    const src = srcBlock * this.pagesPerBlock + srcPage;
    const state = this.pageStates[src] as PageState;
    if (
      dstPage !== wp ||
      dstPage === this.pagesPerBlock ||
      srcPage >>> 0 !== srcPage ||
      srcPage >= this.pagesPerBlock ||
      state === ERASED ||
      !this.copybackBlocksOk(srcBlock, dstBlock, spareBytes)
    ) {
      this.fault('copy-back', dstBlock, dstPage, 0, spareBytes, srcBlock, srcPage);
    }
    if (this.cutCountdown > 0 && --this.cutCountdown === 0) this.interruptProgram(dstBlock, dstPage, this.pageBytes, spareBytes, src);
    const dst = this.copybackCells(src, dstBlock, dstPage, spareBytes, state);
    if (this.sink !== null) this.persistPage(dst);
    return state;
  }

  /**
   * A run of copy-backs: for k in [from, to), page srcPages[k] of srcBlock is copied to page
   * dstPage + (k − from) of dstBlock, the first `spareBytes` of the copy's spare area from
   * spares[k·spareBytes/4 …] (what register.spare holds for each copyback()). The same rules, cells,
   * counts and power-cut points as those copyback() calls in order. What every page of the run shares
   * (both blocks in range and good, the run inside the destination from its write pointer, the spare
   * transfer, power, from and to int32s) is checked once; each source page is checked to be in
   * range and not erased. Where the shared checks fail, the run goes page by page through copyback(), which throws the
   * error the first failing call would, after copying the pages before it. Returns how many sources
   * were Corrupt (their copies are Corrupt too).
   */
  copybackRun(srcBlock: number, srcPages: Int32Array, spares: Int32Array, from: number, to: number, dstBlock: number, dstPage: number, spareBytes: number): number {
    const count = to - from;
    const ppb = this.pagesPerBlock;
    const words = spareBytes >>> 2;
    const register = this.registerSpare;
    if (
      count < 0 ||
      (from | 0) !== from ||
      (to | 0) !== to ||
      dstPage !== this.writePointers[dstBlock] ||
      dstPage + count > ppb ||
      spares.length < to * words ||
      !this.copybackBlocksOk(srcBlock, dstBlock, spareBytes)
    ) {
      let corrupt = 0;
      for (let k = from; k < to; k++) {
        for (let i = 0; i < words; i++) register[i] = spares[k * words + i] as number;
        if (this.copyback(srcBlock, srcPages[k] as number, dstBlock, dstPage + k - from, spareBytes) === CORRUPT) corrupt++;
      }
      return corrupt;
    }
    // The fast path writes each copy's spare words straight from `spares`, and settles the write
    // pointer, the counters and the register once (settleRun), and before anything can throw.
    const states = this.pageStates;
    const cells = this.spareCellWords;
    const w = this.spareWordsPerPage;
    const data = this.data;
    const pageBytes = this.pageBytes;
    const first = srcBlock * ppb;
    const dstFirst = dstBlock * ppb + dstPage;
    let done = 0;
    let corrupt = 0;
    if (this.cutCountdown === 0 && this.sink === null && data === null && words === 4 && w === 4) {
      // The common case in simulation (no power cut armed, no file, no page data, the whole spare
      // from `spares`): per page, only the source page's check and its state; the run's spare words
      // are contiguous in `spares` and in the cells (w === words), so they move in one copy.
      // Copy k lands on page shift + k of the chip.
      const shift = dstFirst - from;
      // (from and to are int32s, checked above: as such the loop keeps k untagged.)
      const end = to | 0;
      for (let k = from | 0; k < end; k++) {
        const srcPage = srcPages[k] as number;
        const state = states[first + srcPage] as PageState;
        // (An int32 below 0 is at least 2^31 unsigned: one comparison checks the page's range.)
        if (srcPage >>> 0 >= ppb || state === ERASED) {
          cells.set(spares.subarray(4 * from, 4 * k), 4 * dstFirst);
          this.settleRun(dstBlock, dstPage + k - from, k - from, spareBytes, spares, k);
          this.fault('copy-back', dstBlock, dstPage + k - from, 0, spareBytes, srcBlock, srcPage);
        }
        states[shift + k] = state;
        if (state === CORRUPT) corrupt++;
      }
      if (count > 0) {
        cells.set(this.sparesOfRun(spares, from, to), 4 * dstFirst);
        this.settleRun(dstBlock, dstPage + count, count, spareBytes, spares, to - 1);
      }
      return corrupt;
    }
    for (let k = from; k < to; k++) {
      const srcPage = srcPages[k] as number;
      const src = first + srcPage;
      const state = states[src] as PageState;
      if (srcPage >>> 0 !== srcPage || srcPage >= ppb || state === ERASED) {
        this.settleRun(dstBlock, dstPage + done, done, spareBytes, spares, k);
        this.fault('copy-back', dstBlock, dstPage + done, 0, spareBytes, srcBlock, srcPage);
      }
      if (this.cutCountdown > 0 && --this.cutCountdown === 0) {
        this.settleRun(dstBlock, dstPage + done, done, spareBytes, spares, k);
        this.interruptProgram(dstBlock, dstPage + done, pageBytes, spareBytes, src);
      }
      const dst = dstFirst + done;
      const to4 = dst * w;
      const from4 = src * w;
      const at = k * words;
      if (words === 4) {
        cells[to4] = spares[at] as number;
        cells[to4 + 1] = spares[at + 1] as number;
        cells[to4 + 2] = spares[at + 2] as number;
        cells[to4 + 3] = spares[at + 3] as number;
      } else {
        for (let i = 0; i < words; i++) cells[to4 + i] = spares[at + i] as number;
      }
      for (let i = words; i < w; i++) cells[to4 + i] = cells[from4 + i] as number;
      if (data !== null) data.copyWithin(dst * pageBytes, src * pageBytes, (src + 1) * pageBytes);
      states[dst] = state;
      done++;
      if (this.sink !== null) this.persistPage(dst);
      if (state === CORRUPT) corrupt++;
    }
    if (done > 0) this.settleRun(dstBlock, dstPage + done, done, spareBytes, spares, to - 1);
    return corrupt;
  }

  /** spares.subarray(4·from, 4·to), the words of a run on the fast path. A run from 0 (the FTL's,
   * from its own scratch array) takes a view kept by `to` while `spares` is the same array, instead
   * of a new one per run. */
  private sparesOfRun(spares: Int32Array, from: number, to: number): Int32Array {
    if (from !== 0) return spares.subarray(4 * from, 4 * to);
    if (spares !== this.runSparesSource) {
      this.runSparesSource = spares;
      this.runSparesViews = [];
    }
    let view = this.runSparesViews[to];
    if (view === undefined) {
      view = spares.subarray(0, 4 * to);
      this.runSparesViews[to] = view;
    }
    return view;
  }

  /** What `done` copy-backs of a run leave besides the cells: the destination's write pointer, the
   * counters, and copy k's spare words in the register (the last one it held). */
  private settleRun(dstBlock: number, writePointer: number, done: number, spareBytes: number, spares: Int32Array, k: number): void {
    this.writePointers[dstBlock] = writePointer;
    const counters = this.counters;
    counters[C_COPYBACKS]! += done;
    counters[C_BYTES_IN]! += done * spareBytes;
    const words = spareBytes >>> 2;
    for (let i = 0; i < words; i++) this.registerSpare[i] = spares[k * words + i] as number;
  }

  /** Erases one block. Fails (and the block goes bad) once its erase count reaches the endurance limit. */
  eraseBlock(block: number): EraseStatus {
    this.checkBlock(block);
    if (!this.powered) throw new PowerLossError('erase', block, 0, false);
    if (((this.blockFlags[block] as number) & BLOCK_BAD) !== 0) throw new BadBlockError(block, 'erase');
    if (this.cutCountdown > 0 && --this.cutCountdown === 0) this.interruptErase(block);
    const failed = this.countErase(block);
    if (!failed) this.eraseCells(block);
    this.persistErase(block);
    return failed ? EraseStatus.Failed : EraseStatus.Ok;
  }

  /** Erases `pageCount` pages from page number `firstPage` (block · pagesPerBlock + page), as an
   * MTD erase request: whole blocks only. Stops at the first failed block. */
  erase(firstPage: number, pageCount: number): EraseStatus {
    const ppb = this.pagesPerBlock;
    if (!Number.isInteger(firstPage) || !Number.isInteger(pageCount) || pageCount <= 0 || firstPage % ppb !== 0 || pageCount % ppb !== 0) {
      throw new EraseAlignmentError(firstPage, pageCount, ppb);
    }
    const first = firstPage / ppb;
    const last = first + pageCount / ppb - 1;
    this.checkBlock(first);
    this.checkBlock(last);
    for (let b = first; b <= last; b++) if (this.isBad(b)) throw new BadBlockError(b, 'erase');
    for (let b = first; b <= last; b++) if (this.eraseBlock(b) === EraseStatus.Failed) return EraseStatus.Failed;
    return EraseStatus.Ok;
  }

  /** Interrupts the `opCount`-th program, copy-back or erase from now (1 = the next one). */
  armPowerCut(opCount: number, seed: number): void {
    if (!Number.isInteger(opCount) || opCount < 1) throw new ArgumentError(`power cut after ${opCount} operations: expected a positive integer`);
    this.cutCountdown = opCount;
    this.cutPrng = new Prng(seed);
  }

  disarmPowerCut(): void {
    this.cutCountdown = 0;
  }

  /** The time the chip has been busy, from what it did. */
  get busyNs(): number {
    const t = this.timing;
    return (
      this.reads * t.readNs +
      this.programs * t.programNs +
      this.copybacks * (t.readNs + t.programNs) +
      this.erases * t.eraseNs +
      (this.bytesIn + this.bytesOut) * t.transferNsPerByte
    );
  }

  stats(): NandStats {
    let min = Infinity;
    let max = 0;
    let sum = 0;
    let bad = 0;
    for (let b = 0; b < this.blocks; b++) {
      const e = this.eraseCounts[b] as number;
      min = Math.min(min, e);
      max = Math.max(max, e);
      sum += e;
      if (((this.blockFlags[b] as number) & BLOCK_BAD) !== 0) bad++;
    }
    const busyNs = this.busyNs;
    return {
      geometry: this.geometry,
      timing: this.timing.name,
      reads: this.reads,
      programs: this.programs,
      copybacks: this.copybacks,
      erases: this.erases,
      eraseFailures: this.eraseFailures,
      badBlocks: bad,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      busyNs,
      energyNj: (busyNs * this.timing.activePowerMw) / 1000,
      eraseCounts: { min, max, mean: sum / this.blocks },
    };
  }

  /**
   * Mount-time repair of a file image whose host process died part-way through an operation's writes:
   * a page that says Erased over bytes that are not all 0xFF had its program stopped before the state
   * byte (persistPage writes it last) or its erase stopped after the states (persistErase writes them
   * first). Either way the page is erased: its bytes go back to 0xFF, in the buffer and through the
   * sink. Returns how many pages were reset (validate() passes afterwards).
   */
  resetTornErasedPages(): number {
    let reset = 0;
    const w = this.spareWordsPerPage;
    this.resetErasedSpares();
    for (let ppn = 0; ppn < this.pages; ppn++) {
      if (this.pageStates[ppn] !== ERASED || this.unerasedArea(ppn) === null) continue;
      this.spareCellWords.fill(ERASED_WORD, ppn * w, (ppn + 1) * w);
      this.data?.fill(0xff, ppn * this.pageBytes, (ppn + 1) * this.pageBytes);
      this.persistPage(ppn);
      reset++;
    }
    return reset;
  }

  /** Checks the image against its rules: states are known, every page at or past a block's write
   * pointer is erased (all 0xFF), and the write pointer follows the last page that is not erased. */
  validate(): void {
    this.resetErasedSpares();
    const header = new Uint32Array(this.image, 0, HEADER_WORDS);
    if (header[0] !== MAGIC_0 || header[1] !== MAGIC_1 || header[3] !== this.blocks) throw new InvariantError('NAND image header changed');
    for (let b = 0; b < this.blocks; b++) {
      const wp = this.writePointers[b] as number;
      if (wp !== this.scanWritePointer(b)) throw new InvariantError(`NAND block ${b}: write pointer ${wp}, expected ${this.scanWritePointer(b)}`);
      for (let p = 0; p < this.pagesPerBlock; p++) {
        const ppn = b * this.pagesPerBlock + p;
        const state = this.pageStates[ppn] as number;
        if (state > CORRUPT) throw new InvariantError(`NAND block ${b} page ${p}: unknown state ${state}`);
        if (state !== ERASED) continue;
        const area = this.unerasedArea(ppn);
        if (area !== null) throw new InvariantError(`NAND block ${b} page ${p}: erased, but its ${area} area is not all 0xFF`);
      }
    }
  }

  /** Which area of page `ppn` is not all 0xFF, the spare checked first (data only when stored), or
   * null when the page's bytes are erased. */
  private unerasedArea(ppn: number): 'spare' | 'data' | null {
    const w = this.spareWordsPerPage;
    for (let i = ppn * w; i < (ppn + 1) * w; i++) if (this.spareCellWords[i] !== ERASED_WORD) return 'spare';
    if (this.data !== null) for (let i = ppn * this.pageBytes; i < (ppn + 1) * this.pageBytes; i++) if (this.data[i] !== 0xff) return 'data';
    return null;
  }

  private scanWritePointer(block: number): number {
    const first = block * this.pagesPerBlock;
    for (let p = this.pagesPerBlock - 1; p >= 0; p--) if (this.pageStates[first + p] !== ERASED) return p + 1;
    return 0;
  }

  private checkBlock(block: number): void {
    // (x >>> 0) === x: a non-negative integer below 2^32 (and not NaN, not fractional).
    if (block >>> 0 !== block || block >= this.blocks) throw new NandAddressError(block, 0, this.geometry);
  }

  private checkAddress(block: number, page: number): void {
    if (block >>> 0 !== block || block >= this.blocks || page >>> 0 !== page || page >= this.pagesPerBlock) {
      throw new NandAddressError(block, page, this.geometry);
    }
  }

  /** What every copy-back from `srcBlock` to `dstBlock` needs besides its pages: the source block in
   * range (the destination's range is its write pointer's business), both blocks good, power, and a
   * spare transfer that fits. */
  private copybackBlocksOk(srcBlock: number, dstBlock: number, spareBytes: number): boolean {
    return srcBlock >>> 0 === srcBlock && srcBlock < this.blocks && this.powered === true && this.blockFlags[dstBlock] === 0 && this.blockFlags[srcBlock] === 0 && this.transferFits(0, spareBytes);
  }

  /** transferFits(0, spareBytes), small enough for the program path to inline at no cost. */
  private spareFits(spareBytes: number): boolean {
    return spareBytes >>> 0 === spareBytes && spareBytes <= this.spareBytes && (spareBytes & 3) === 0;
  }

  /** A program without data broke a rule (fault() throws the error that says which). */
  private programFault(block: number, page: number, spareBytes: number): never {
    this.fault('program', block, page, 0, spareBytes, -1, -1);
  }

  /** Whether a transfer fits the page and the spare area (spare in whole words; data only when stored). */
  private transferFits(dataBytes: number, spareBytes: number): boolean {
    return dataBytes >>> 0 === dataBytes && dataBytes <= this.maxDataBytes && spareBytes >>> 0 === spareBytes && spareBytes <= this.spareBytes && (spareBytes & 3) === 0;
  }

  /** A call broke a rule: throws the error that says which (checked in this order). */
  private fault(operation: string, block: number, page: number, dataBytes: number, spareBytes: number, srcBlock: number, srcPage: number): never {
    if (srcBlock !== -1 || srcPage !== -1) {
      this.checkAddress(srcBlock, srcPage);
      if (this.powered && ((this.blockFlags[srcBlock] as number) & BLOCK_BAD) !== 0) throw new BadBlockError(srcBlock, operation);
    }
    this.checkAddress(block, page);
    if (!this.powered) throw new PowerLossError(operation, block, page, false);
    if (((this.blockFlags[block] as number) & BLOCK_BAD) !== 0) throw new BadBlockError(block, operation);
    if (operation !== 'read') {
      const wp = this.writePointers[block] as number;
      if (page !== wp) throw page < wp ? new PageNotErasedError(block, page) : new ProgramOrderError(block, page, wp);
    }
    if (srcBlock !== -1 && this.pageStates[srcBlock * this.pagesPerBlock + srcPage] === ERASED) throw new CopybackSourceError(srcBlock, srcPage);
    if (dataBytes > 0 && !this.payloadStored) {
      throw new NandTransferError(block, page, `transfer of ${dataBytes} data bytes at block ${block} page ${page}: this device keeps no page data (storePayload: false); expected 0`);
    }
    throw new NandTransferError(
      block,
      page,
      `transfer of ${dataBytes} data and ${spareBytes} spare bytes at block ${block} page ${page}: expected at most ${this.pageBytes} data bytes and a multiple of 4 up to ${this.spareBytes} spare bytes`,
    );
  }

  /** A program's work once its checks pass: the page from the register, persisted and counted. */
  private programFromRegister(block: number, page: number, dataBytes: number, spareBytes: number): void {
    this.programCells(block, page, this.register.data, dataBytes, spareBytes);
  }

  /** A program's work once its checks pass: the spare from the register, the first `dataBytes` of
   * `source` into the data area, persisted and counted. */
  private programCells(block: number, page: number, source: Uint8Array, dataBytes: number, spareBytes: number): void {
    if (dataBytes > 0) {
      (this.data as Uint8Array).set(dataBytes === source.length ? source : source.subarray(0, dataBytes), (block * this.pagesPerBlock + page) * this.pageBytes);
      this.counters[C_BYTES_IN]! += dataBytes;
    }
    this.programSpareCells(block, page, spareBytes);
  }

  /** The rest of a program's work (the data area written, if any): the spare from the register, the
   * page's state and the write pointer; persisted (spare, data, then state) and counted. Small, for
   * the program without data to inline it. */
  private programSpareCells(block: number, page: number, spareBytes: number): void {
    const ppn = block * this.pagesPerBlock + page;
    this.spareFromRegister(ppn * this.spareWordsPerPage, spareBytes);
    this.programmed(block, page, ppn, spareBytes);
  }

  /** The spare area of page `ppn` past its first `spareBytes` (a program's short spare transfer)
   * stays erased: its cells may still hold what the last erase left. */
  private eraseSpareTail(ppn: number, spareBytes: number): void {
    const w = this.spareWordsPerPage;
    this.spareCellWords.fill(ERASED_WORD, ppn * w + (spareBytes >>> 2), (ppn + 1) * w);
  }

  /** A copy-back's work on the cells once its checks pass: page `src` copied to page `page` of
   * `block` (the spare's first `spareBytes` from the register), the copy in the source's `state`;
   * counted. Returns the copy's page number; the caller persists it. */
  private copybackCells(src: number, block: number, page: number, spareBytes: number, state: PageState): number {
    const dst = block * this.pagesPerBlock + page;
    this.copyPage(src, dst, spareBytes);
    this.pageStates[dst] = state;
    this.writePointers[block] = page + 1;
    const counters = this.counters;
    counters[C_COPYBACKS]! += 1;
    counters[C_BYTES_IN]! += spareBytes;
    return dst;
  }

  /** Moves the register's first `spareBytes` into the spare words from index `to` (16 bytes, the
   * common case, unrolled; the others apart, so the program path that inlines this stays small). */
  private spareFromRegister(to: number, spareBytes: number): void {
    if (spareBytes !== 16) {
      this.spareWordsFromRegister(to, spareBytes);
      return;
    }
    const words = this.spareCellWords;
    const reg = this.registerSpare;
    words[to] = reg[0] as number;
    words[to + 1] = reg[1] as number;
    words[to + 2] = reg[2] as number;
    words[to + 3] = reg[3] as number;
  }

  private spareWordsFromRegister(to: number, spareBytes: number): void {
    const words = this.spareCellWords;
    const reg = this.registerSpare;
    for (let i = 0; i < spareBytes >>> 2; i++) words[to + i] = reg[i] as number;
  }

  private spareToRegister(ppn: number, spareBytes: number): void {
    const words = this.spareCellWords;
    const reg = this.registerSpare;
    const from = ppn * this.spareWordsPerPage;
    if (spareBytes === 16) {
      reg[0] = words[from] as number;
      reg[1] = words[from + 1] as number;
      reg[2] = words[from + 2] as number;
      reg[3] = words[from + 3] as number;
      return;
    }
    for (let i = 0; i < spareBytes >>> 2; i++) reg[i] = words[from + i] as number;
  }

  /** Copies page `src` to page `dst` (spare and data), the spare's first `spareBytes` from the register. */
  private copyPage(src: number, dst: number, spareBytes: number): void {
    const w = this.spareWordsPerPage;
    const words = this.spareCellWords;
    const to = dst * w;
    const from = src * w;
    this.spareFromRegister(to, spareBytes);
    for (let i = spareBytes >>> 2; i < w; i++) words[to + i] = words[from + i] as number;
    if (this.data !== null) this.data.copyWithin(dst * this.pageBytes, src * this.pageBytes, (src + 1) * this.pageBytes);
  }

  /** Erases a block's cells: its states, data and write pointer now; its spare cells now with a file
   * image attached, else when someone looks (spareStale). */
  private eraseCells(block: number): void {
    const first = block * this.pagesPerBlock;
    this.pageStates.fill(ERASED, first, first + this.pagesPerBlock);
    this.data?.fill(0xff, first * this.pageBytes, (first + this.pagesPerBlock) * this.pageBytes);
    this.writePointers[block] = 0;
    if (this.sink !== null) {
      this.resetSpareCells(block);
    } else if (this.spareStale[block] === 0) {
      this.spareStale[block] = 1;
      this.staleBlocks++;
    }
  }

  /** Sets the spare cells of every block's pages from its write pointer on (erased pages) to 0xFF
   * where an erase left them (spareStale): afterwards the image holds what eager erases would have
   * left. */
  private resetErasedSpares(): void {
    if (this.staleBlocks === 0) return;
    for (let b = 0; b < this.blocks; b++) {
      if (this.spareStale[b] === 0) continue;
      this.resetSpareCells(b);
    }
    this.staleBlocks = 0;
  }

  /** Sets block `block`'s spare cells from its write pointer on to 0xFF, and clears its spareStale. */
  private resetSpareCells(block: number): void {
    const w = this.spareWordsPerPage;
    const first = block * this.pagesPerBlock;
    this.spareCellWords.fill(ERASED_WORD, (first + (this.writePointers[block] as number)) * w, (first + this.pagesPerBlock) * w);
    this.spareStale[block] = 0;
  }

  /** Counts an erase of `block` (its erase count and the chip's counters). Past the endurance limit
   * the erase fails: the block goes bad and its written pages are lost (Corrupt). True when it failed. */
  private countErase(block: number): boolean {
    const count = (this.eraseCounts[block] as number) + 1;
    this.eraseCounts[block] = count;
    this.counters[C_ERASES]! += 1;
    if (this.enduranceCycles === 0 || count <= this.enduranceCycles) return false;
    this.resetErasedSpares();
    this.blockFlags[block] = (this.blockFlags[block] as number) | BLOCK_BAD;
    const first = block * this.pagesPerBlock;
    this.pageStates.fill(CORRUPT, first, first + (this.writePointers[block] as number));
    this.counters[C_ERASE_FAILURES]! += 1;
    return true;
  }

  /** Power fails during a program (src < 0) or a copy-back from page `src`: nothing happened, the
   * page was fully programmed, or it was left partly programmed (Corrupt). Then the chip is off. */
  private interruptProgram(block: number, page: number, dataBytes: number, spareBytes: number, src: number): never {
    const spareTorn = src >= 0 ? this.spareBytes : spareBytes;
    const prng = this.cutPrng as Prng;
    const outcome = prng.int(3);
    const ppn = block * this.pagesPerBlock + page;
    if (outcome > 0) {
      // The source of a copy-back is programmed or Corrupt (copyback() refuses an erased one): so is
      // the copy.
      if (src >= 0) this.copybackCells(src, block, page, spareBytes, this.pageStates[src] as PageState);
      else this.programFromRegister(block, page, dataBytes, spareBytes);
      if (outcome === 1) {
        // Cut part-way: the cells hold some of the charge; ECC cannot correct the page.
        const spareCut = prng.int(spareTorn + 1);
        this.spareCells.fill(0xff, ppn * this.spareBytes + spareCut, (ppn + 1) * this.spareBytes);
        if (this.data !== null) this.data.fill(0xff, ppn * this.pageBytes + prng.int(this.pageBytes + 1), (ppn + 1) * this.pageBytes);
        this.pageStates[ppn] = CORRUPT;
      }
      this.persistPage(ppn);
    }
    this.resetErasedSpares();
    this.powered = false;
    this.cutCountdown = 0;
    throw new PowerLossError(src >= 0 ? 'copy-back' : 'program', block, page, true);
  }

  /** Power fails during an erase: nothing happened, the erase finished, or it stopped part-way and
   * each page is left erased, Corrupt or intact. Either of the last two counts as an erase (wear)
   * and fails on a worn-out block. Then the chip is off. */
  private interruptErase(block: number): never {
    const prng = this.cutPrng as Prng;
    const outcome = prng.int(3);
    if (outcome > 0) {
      if (!this.countErase(block)) {
        if (outcome === 2) this.eraseCells(block);
        else this.tearErase(block, prng);
      }
      this.persistErase(block);
    }
    this.resetErasedSpares();
    this.powered = false;
    this.cutCountdown = 0;
    throw new PowerLossError('erase', block, 0, true);
  }

  /** An erase that stopped part-way: each written page is left erased, Corrupt or intact. */
  private tearErase(block: number, prng: Prng): void {
    const first = block * this.pagesPerBlock;
    const w = this.spareWordsPerPage;
    for (let p = 0; p < (this.writePointers[block] as number); p++) {
      const ppn = first + p;
      const fate = prng.int(3);
      if (fate === 0) {
        this.pageStates[ppn] = ERASED;
        this.spareCellWords.fill(ERASED_WORD, ppn * w, (ppn + 1) * w);
        this.data?.fill(0xff, ppn * this.pageBytes, (ppn + 1) * this.pageBytes);
      } else if (fate === 1) {
        this.pageStates[ppn] = CORRUPT;
      }
    }
    this.writePointers[block] = this.scanWritePointer(block);
  }

  /** Writes a page's change to the sink: spare and data first, the state byte last, so a host crash
   * between the writes leaves a page whose program did nothing (NandImageFile.open resets its bytes). */
  private persistPage(ppn: number): void {
    const sink = this.sink;
    if (sink === null) return;
    const L = this.layout;
    sink.write(L.spare + ppn * this.spareBytes, this.spareBytes);
    if (this.payloadStored) sink.write(L.data + ppn * this.pageBytes, this.pageBytes);
    sink.write(L.pageStates + ppn, 1);
  }

  /** Writes an erase's change to the sink: the erase count, the flags and the page states first, then
   * spare and data, so a host crash between the writes leaves pages that say Erased over old bytes
   * (NandImageFile.open resets them: the erase finished) or a bad block, never a programmed page
   * whose bytes were half erased. */
  private persistErase(block: number): void {
    const sink = this.sink;
    if (sink === null) return;
    const L = this.layout;
    const first = block * this.pagesPerBlock;
    const n = this.pagesPerBlock;
    sink.write(L.eraseCounts + 4 * block, 4);
    sink.write(L.blockFlags + block, 1);
    sink.write(L.pageStates + first, n);
    sink.write(L.spare + first * this.spareBytes, n * this.spareBytes);
    if (this.payloadStored) sink.write(L.data + first * this.pageBytes, n * this.pageBytes);
  }
}

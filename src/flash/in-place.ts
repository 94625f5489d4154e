/**
 * The baseline that updates in place: logical page lpn lives at the fixed physical page lpn (block
 * lpn / Np, page lpn mod Np), as on a controller without a translation layer. NAND cannot rewrite a
 * page, so an update reads the block's other pages into controller RAM, erases the block, and
 * programs it again with the new page (read-modify-erase-write). A write to the block's next erased
 * page is programmed directly; pages it skips are programmed empty first (the chip takes a block's
 * pages in order). TRIM only forgets the page (controller RAM).
 *
 * Write amplification is the programs per host write: about Np for random updates of a full block,
 * whatever the over-provisioning. It is not crash safe: a power cut between the erase and the end of
 * the rewrite loses the block's other pages, which is why nothing real does this (the scenario shows
 * what it costs, not a design to use).
 */
import { EraseStatus, PageState } from '../machine/nand.ts';
import type { NandDevice } from '../machine/nand.ts';
import { ArgumentError, InvariantError } from '../util/errors.ts';
import { FlashConfigError, FlashFullError, LogicalAddressError } from './errors.ts';
import type { PageStore } from './steady-state.ts';

const TAG = (0x4b49 << 16) | (1 << 8); // 'KI', data
const SPARE_BYTES = 8;

export interface InPlaceStats {
  logicalPages: number;
  hostWrites: number;
  hostReads: number;
  trims: number;
  /** Blocks read, erased and programmed again to update one page. */
  blockRewrites: number;
  /** Empty pages programmed to keep a block's pages in order. */
  fillerPrograms: number;
  writeAmplification: number;
}

export class InPlaceStore implements PageStore {
  readonly logicalPages: number;
  hostWrites = 0;
  hostReads = 0;
  trims = 0;
  blockRewrites = 0;
  fillerPrograms = 0;
  /** Whether each logical page holds data (controller RAM). */
  private readonly present: Uint8Array;
  /** One block's page data while it is rewritten. */
  private readonly blockBuffer: Uint8Array;
  private readonly dataBytes: number;
  private readonly programsAtStart: number;

  constructor(
    readonly device: NandDevice,
    logicalPages: number,
  ) {
    const capacity = device.blocks * device.pagesPerBlock;
    if (!Number.isInteger(logicalPages) || logicalPages < 1 || logicalPages > capacity) {
      throw new FlashConfigError(`in-place store of ${logicalPages} logical pages: expected an integer in [1, ${capacity}]`);
    }
    if (device.spareBytes < SPARE_BYTES) throw new FlashConfigError(`the in-place store needs ${SPARE_BYTES} spare bytes per page`);
    this.logicalPages = logicalPages;
    this.present = new Uint8Array(logicalPages);
    this.dataBytes = device.payloadStored ? device.pageBytes : 0;
    this.blockBuffer = new Uint8Array(device.pagesPerBlock * this.dataBytes);
    this.programsAtStart = device.programs + device.copybacks;
    for (let b = 0; b < Math.ceil(logicalPages / device.pagesPerBlock); b++) {
      if (device.isBad(b)) throw new FlashFullError(`in-place store: block ${b} is bad, and an in-place store cannot move its pages elsewhere`);
      if (device.writePointer(b) > 0) this.erase(b);
    }
  }

  write(lpn: number, data: Uint8Array | null = null): void {
    this.checkLpn(lpn);
    const device = this.device;
    const ppb = device.pagesPerBlock;
    const b = Math.floor(lpn / ppb);
    const page = lpn - b * ppb;
    if (data !== null && data.length > device.pageBytes) throw new ArgumentError(`write of lpn ${lpn}: ${data.length} bytes, expected at most a page (${device.pageBytes})`);
    const wp = device.writePointer(b);
    if (page >= wp) {
      for (let p = wp; p < page; p++) this.programPage(b, p, -1, null);
      this.programPage(b, page, lpn, data);
    } else {
      this.rewriteBlock(b, page, lpn, data);
    }
    this.present[lpn] = 1;
    this.hostWrites++;
  }

  read(lpn: number, out: Uint8Array | null = null): boolean {
    this.checkLpn(lpn);
    if (this.present[lpn] === 0) return false;
    const ppb = this.device.pagesPerBlock;
    const b = Math.floor(lpn / ppb);
    const bytes = out === null ? 0 : Math.min(out.length, this.dataBytes);
    const state = this.device.read(b, lpn - b * ppb, bytes, 0);
    if (state !== PageState.Programmed) throw new InvariantError(`in-place lpn ${lpn} reads ${state === PageState.Erased ? 'erased' : 'corrupt'}`);
    if (out !== null) out.set(this.device.register.data.subarray(0, bytes));
    this.hostReads++;
    return true;
  }

  /** Forgets `count` logical pages from `lpn`. The whole range is checked first: a call that throws
   * trimmed nothing. */
  trim(lpn: number, count = 1): void {
    if (!Number.isInteger(count) || count < 0 || !(Number.isInteger(lpn) && lpn >= 0 && lpn + count <= this.logicalPages)) {
      throw new LogicalAddressError(lpn + Math.max(0, count - 1), this.logicalPages);
    }
    for (let l = lpn; l < lpn + count; l++) {
      this.present[l] = 0;
      this.trims++;
    }
  }

  stats(): InPlaceStats {
    return {
      logicalPages: this.logicalPages,
      hostWrites: this.hostWrites,
      hostReads: this.hostReads,
      trims: this.trims,
      blockRewrites: this.blockRewrites,
      fillerPrograms: this.fillerPrograms,
      writeAmplification: this.hostWrites === 0 ? 0 : (this.device.programs + this.device.copybacks - this.programsAtStart) / this.hostWrites,
    };
  }

  /** Every present page is programmed at its fixed place. */
  validate(): void {
    const ppb = this.device.pagesPerBlock;
    for (let lpn = 0; lpn < this.logicalPages; lpn++) {
      if (this.present[lpn] === 0) continue;
      const b = Math.floor(lpn / ppb);
      if (this.device.pageState(b, lpn - b * ppb) !== PageState.Programmed) throw new InvariantError(`in-place store: lpn ${lpn} is present but its page is not programmed`);
    }
    this.device.validate();
  }

  private checkLpn(lpn: number): void {
    if (lpn >>> 0 !== lpn || lpn >= this.logicalPages) throw new LogicalAddressError(lpn, this.logicalPages);
  }

  /** Reads block b's programmed pages into RAM, erases it, and programs them back with `lpn` new. */
  private rewriteBlock(b: number, page: number, lpn: number, data: Uint8Array | null): void {
    const device = this.device;
    const ppb = device.pagesPerBlock;
    const written = device.writePointer(b);
    const n = this.dataBytes;
    for (let p = 0; p < written; p++) {
      if (p === page) continue;
      device.read(b, p, n, 0);
      if (n > 0) this.blockBuffer.set(device.register.data, p * n);
    }
    this.erase(b);
    this.blockRewrites++;
    const first = b * ppb;
    for (let p = 0; p < written; p++) {
      if (p === page) this.programPage(b, p, lpn, data);
      else if (first + p < this.logicalPages && this.present[first + p] === 1) this.programPage(b, p, first + p, n > 0 ? this.blockBuffer.subarray(p * n, (p + 1) * n) : null);
      else this.programPage(b, p, -1, null);
    }
  }

  /** Programs page p of block b with `data` for `lpn` (lpn -1: an empty filler page). */
  private programPage(b: number, p: number, lpn: number, data: Uint8Array | null): void {
    const reg = this.device.register;
    reg.spareWords[0] = TAG;
    reg.spareWords[1] = lpn;
    let bytes = 0;
    if (data !== null && this.dataBytes > 0) {
      reg.data.set(data);
      bytes = data.length;
    }
    this.device.program(b, p, bytes, SPARE_BYTES);
    if (lpn < 0) this.fillerPrograms++;
  }

  private erase(b: number): void {
    if (this.device.eraseBlock(b) === EraseStatus.Failed) throw new FlashFullError(`in-place store: block ${b} wore out, and an in-place store cannot move its pages elsewhere`);
  }
}

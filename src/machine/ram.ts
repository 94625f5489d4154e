/**
 * The emulated machine's physical RAM: one `ArrayBuffer` or `SharedArrayBuffer`, addressed by byte
 * (`paddr`) and divided into 4 KiB page frames numbered by `pfn`. RAM has no policy: it holds
 * bytes, hands out typed-array views of ranges, and refuses addresses outside itself.
 *
 * Invariants:
 *   sizeBytes = nrPages · PAGE_SIZE,   0 < sizeBytes ≤ MAX_RAM_BYTES
 *   paddr(pfn) = pfn · PAGE_SIZE       (frames and byte addresses are never mixed: convert here)
 */
import { ArgumentError, KmemError } from '../util/errors.ts';
import { formatBytes, parseSizeBytes } from '../util/units.ts';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** The smallest RAM kmem boots on: room for the kernel's metadata and a few order-10 blocks. */
export const MIN_RAM_BYTES = 1 << 20;
/** V8 caps a typed array at 2^32 elements, and RAM is viewed whole as one `Uint8Array`. */
export const MAX_RAM_BYTES = 2 ** 32;

/** A RAM size that is malformed, not page-sized, or more than the host can hold. */
export class RamSizeError extends ArgumentError {
  override name = 'RamSizeError';
}

/** An access to a physical address range that is not wholly inside RAM. */
export class PhysicalAddressError extends KmemError {
  override name = 'PhysicalAddressError';
  constructor(
    readonly paddr: number,
    readonly sizeBytes: number,
    readonly ramBytes: number,
  ) {
    super(
      `physical range [0x${paddr.toString(16)}, +${sizeBytes}) is outside RAM: expected a range inside [0, 0x${ramBytes.toString(16)})`,
    );
  }
}

export type RamBuffer = ArrayBuffer | SharedArrayBuffer;

export interface RamOptions {
  /** Bytes, or a size with a unit such as '256MiB'. A multiple of 4 KiB. */
  sizeBytes: number | string;
  /** Back RAM with a `SharedArrayBuffer` so that worker threads can attach to it. */
  shared?: boolean;
}

export class Ram {
  readonly sizeBytes: number;
  readonly nrPages: number;
  readonly shared: boolean;
  /** All of RAM as bytes: the direct, unmodelled way to touch memory. */
  readonly bytes: Uint8Array;

  private constructor(readonly buffer: RamBuffer) {
    this.sizeBytes = buffer.byteLength;
    this.nrPages = this.sizeBytes / PAGE_SIZE;
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
    this.bytes = new Uint8Array(buffer);
  }

  /** Allocates new, zeroed RAM. */
  static create(options: RamOptions): Ram {
    let sizeBytes: number;
    try {
      sizeBytes = parseSizeBytes(options.sizeBytes);
    } catch (error) {
      throw new RamSizeError(`RAM size: ${(error as Error).message}`);
    }
    checkRamSize(sizeBytes);
    let buffer: RamBuffer;
    try {
      buffer = options.shared === true ? new SharedArrayBuffer(sizeBytes) : new ArrayBuffer(sizeBytes);
    } catch (error) {
      throw new RamSizeError(
        `RAM size ${formatBytes(sizeBytes)}: the host could not allocate it (${(error as Error).message})`,
      );
    }
    return new Ram(buffer);
  }

  /** Wraps RAM that already exists (another worker's, or a saved image), changing no byte. */
  static over(buffer: RamBuffer): Ram {
    checkRamSize(buffer.byteLength);
    return new Ram(buffer);
  }

  /** Throws unless [paddr, paddr + sizeBytes) lies inside RAM. */
  checkRange(paddr: number, sizeBytes: number): void {
    if (!Number.isInteger(paddr) || !Number.isInteger(sizeBytes) || paddr < 0 || sizeBytes < 0 || paddr + sizeBytes > this.sizeBytes) {
      throw new PhysicalAddressError(paddr, sizeBytes, this.sizeBytes);
    }
  }

  /** A view of `count` 32-bit words at `paddr` (4-byte aligned). */
  i32(paddr: number, count: number): Int32Array {
    this.checkRange(paddr, count * 4);
    return new Int32Array(this.buffer, paddr, count);
  }

  u32(paddr: number, count: number): Uint32Array {
    this.checkRange(paddr, count * 4);
    return new Uint32Array(this.buffer, paddr, count);
  }

  u8(paddr: number, count: number): Uint8Array {
    this.checkRange(paddr, count);
    return new Uint8Array(this.buffer, paddr, count);
  }

  f64(paddr: number, count: number): Float64Array {
    this.checkRange(paddr, count * 8);
    return new Float64Array(this.buffer, paddr, count);
  }
}

export function pfnToPaddr(pfn: number): number {
  return pfn * PAGE_SIZE;
}

/** The frame holding byte `paddr` (Linux's PFN_DOWN). */
export function paddrToPfn(paddr: number): number {
  return Math.floor(paddr / PAGE_SIZE);
}

/** Throws a RamSizeError unless `sizeBytes` is a RAM size: a whole number of pages, MIN_RAM_BYTES..MAX_RAM_BYTES. */
export function checkRamSize(sizeBytes: number): void {
  if (sizeBytes % PAGE_SIZE !== 0) {
    throw new RamSizeError(`RAM size ${sizeBytes} bytes: expected a multiple of the ${PAGE_SIZE}-byte page`);
  }
  if (sizeBytes < MIN_RAM_BYTES) {
    throw new RamSizeError(`RAM size ${formatBytes(sizeBytes)}: expected at least ${formatBytes(MIN_RAM_BYTES)}`);
  }
  if (sizeBytes > MAX_RAM_BYTES) {
    throw new RamSizeError(
      `RAM size ${formatBytes(sizeBytes)}: expected at most ${formatBytes(MAX_RAM_BYTES)} (the largest typed array the host's JavaScript engine can view whole)`,
    );
  }
}

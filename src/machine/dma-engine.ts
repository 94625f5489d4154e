/**
 * A device's DMA engine: reads and writes RAM directly by bus address, never through a CPU's cache.
 *
 *   coherent      the interconnect snoops: before the device reads, dirty cached copies are written
 *                 back; before it writes, cached copies are dropped (see MemorySystem.snoopFor*).
 *   non-coherent  nothing is snooped: the device reads RAM as it is (missing what sits dirty in a
 *                 cache) and its writes leave stale lines in the caches, until the kernel cleans and
 *                 invalidates by range (the DMA API's syncs).
 *   mask          the highest bus address the device can drive, as Linux's dma_mask: 24 bits for ISA
 *                 devices (16 MiB), 32 bits for many PCI devices (4 GiB), 64 bits for the rest. Any
 *                 width from 12 to 64 bits is accepted, so a small emulated RAM can still have memory
 *                 a device cannot reach (a 20-bit mask reaches the first 1 MiB).
 *   iommu         optional: bus addresses are IOVAs, translated page by page (iommu.ts).
 *
 * Host-side state (counters): hardware.
 */
import { ArgumentError, KmemError } from '../util/errors.ts';
import type { MemorySystem } from './cache.ts';
import type { Iommu } from './iommu.ts';
import { PAGE_SIZE } from './ram.ts';
import type { Ram } from './ram.ts';

/** A transfer to or from a bus address beyond the device's DMA mask. */
export class DmaMaskError extends KmemError {
  override name = 'DmaMaskError';
  constructor(
    readonly busAddr: number,
    readonly sizeBytes: number,
    readonly maskBits: number,
  ) {
    super(
      `DMA of ${sizeBytes} bytes at bus address 0x${busAddr.toString(16)}: the device's ${maskBits}-bit mask reaches only [0, 0x${dmaMaskLimit(maskBits).toString(16)}]`,
    );
  }
}

/** The highest bus address a `maskBits`-bit device can drive (DMA_BIT_MASK(n)). */
export function dmaMaskLimit(maskBits: number): number {
  return maskBits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** maskBits - 1;
}

export interface DmaEngineOptions {
  ram: Ram;
  /** The CPUs' caches a coherent device snoops (null: a machine modelled without caches). */
  memory: MemorySystem | null;
  coherent: boolean;
  /** DMA address width in bits, 12..64. Default 64. */
  maskBits?: number;
  iommu?: Iommu | null;
  name?: string;
}

export interface DmaEngineStats {
  name: string;
  coherent: boolean;
  maskBits: number;
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** Dirty lines a coherent device's snoops wrote back. */
  snoopWritebacks: number;
  /** Cached copies a coherent device's writes dropped. */
  snoopInvalidations: number;
}

export class DmaEngine {
  readonly ram: Ram;
  readonly memory: MemorySystem | null;
  readonly coherent: boolean;
  readonly maskBits: number;
  readonly maskLimit: number;
  readonly iommu: Iommu | null;
  readonly name: string;
  reads = 0;
  writes = 0;
  bytesRead = 0;
  bytesWritten = 0;
  snoopWritebacks = 0;
  snoopInvalidations = 0;

  constructor(options: DmaEngineOptions) {
    const maskBits = options.maskBits ?? 64;
    if (!Number.isInteger(maskBits) || maskBits < 12 || maskBits > 64) throw new ArgumentError(`DMA mask of ${maskBits} bits: expected an integer in [12, 64]`);
    this.ram = options.ram;
    this.memory = options.memory;
    this.coherent = options.coherent;
    this.maskBits = maskBits;
    this.maskLimit = dmaMaskLimit(maskBits);
    this.iommu = options.iommu ?? null;
    this.name = options.name ?? 'dma';
  }

  /** Whether the device can drive every bus address of [busAddr, busAddr + sizeBytes). */
  canReach(busAddr: number, sizeBytes: number): boolean {
    return busAddr >= 0 && busAddr + Math.max(sizeBytes, 1) - 1 <= this.maskLimit;
  }

  /** The device reads `dst.length` bytes at `busAddr` (a transmit, a descriptor fetch). */
  read(busAddr: number, dst: Uint8Array): void {
    this.checkMask(busAddr, dst.length);
    this.reads++;
    this.bytesRead += dst.length;
    this.eachPhysicalRun(busAddr, dst.length, false, (paddr, offset, n) => {
      if (this.coherent && this.memory !== null) this.snoopWritebacks += this.memory.snoopForDeviceRead(paddr, n).writebacks;
      dst.set(this.ram.bytes.subarray(paddr, paddr + n), offset);
    });
  }

  /** The device writes `src` at `busAddr` (a receive, a completion). */
  write(busAddr: number, src: Uint8Array): void {
    this.checkMask(busAddr, src.length);
    this.writes++;
    this.bytesWritten += src.length;
    this.eachPhysicalRun(busAddr, src.length, true, (paddr, offset, n) => {
      if (this.coherent && this.memory !== null) {
        const r = this.memory.snoopForDeviceWrite(paddr, n);
        this.snoopWritebacks += r.writebacks;
        this.snoopInvalidations += r.invalidated;
      }
      this.ram.bytes.set(src.subarray(offset, offset + n), paddr);
    });
  }

  private checkMask(busAddr: number, sizeBytes: number): void {
    if (!Number.isInteger(busAddr) || !this.canReach(busAddr, sizeBytes)) throw new DmaMaskError(busAddr, sizeBytes, this.maskBits);
  }

  /** Splits a bus range into physically contiguous runs (page by page through the IOMMU), checking all before any moves. */
  private eachPhysicalRun(busAddr: number, sizeBytes: number, write: boolean, f: (paddr: number, offset: number, n: number) => void): void {
    if (this.iommu === null) {
      this.ram.checkRange(busAddr, sizeBytes);
      if (sizeBytes > 0) f(busAddr, 0, sizeBytes);
      return;
    }
    const runs: [number, number, number][] = [];
    for (let offset = 0; offset < sizeBytes; ) {
      const bus = busAddr + offset;
      const n = Math.min(PAGE_SIZE - (bus % PAGE_SIZE), sizeBytes - offset);
      const paddr = this.iommu.translate(bus, write);
      this.ram.checkRange(paddr, n);
      runs.push([paddr, offset, n]);
      offset += n;
    }
    for (const [paddr, offset, n] of runs) f(paddr, offset, n);
  }

  stats(): DmaEngineStats {
    return {
      name: this.name,
      coherent: this.coherent,
      maskBits: this.maskBits,
      reads: this.reads,
      writes: this.writes,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      snoopWritebacks: this.snoopWritebacks,
      snoopInvalidations: this.snoopInvalidations,
    };
  }
}

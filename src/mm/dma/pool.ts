/**
 * dma_pool (mm/dmapool.c): small coherent blocks of one size for one device, carved from coherent
 * allocations of max(size, PAGE_SIZE) bytes, with an alignment and a boundary no block crosses (a
 * descriptor that must not straddle a 4 KiB line of the device's fetch, say).
 *
 *   const pool = DmaPool.create(dma, 'ring-desc', dev, 32, { align: 16, boundary: 4096 });
 *   const block = pool.alloc();          // { cpuAddr, dmaHandle, memType }
 *   pool.free(block.cpuAddr, block.dmaHandle);
 *
 * Rules (as dma_pool_create): size ≥ 1, rounded up to `align` (a power of two, 0 meaning 1) and to at
 * least MIN_BLOCK_BYTES; `boundary` 0 means the allocation size, else a power of two ≥ size, capped at
 * the allocation. A block that would cross a boundary is skipped. Pool pages come from
 * dmaAllocCoherent (so from the buddy allocator); their descriptors are objects of the slab cache
 * 'dma_page' (PD_* words, types.ts), linked through PD_NEXT; the free blocks of a page are linked
 * through their own first 4 bytes (an offset, -1 ending the list), written by the CPU in the buffer's
 * memory type. The pool head (first descriptor) is host-side: the pool object is its owner's handle.
 */
import type { MemoryPort } from '../../machine/cache.ts';
import type { MemType } from '../../machine/cache.ts';
import type { DmaEngine } from '../../machine/dma-engine.ts';
import { InvariantError } from '../../util/errors.ts';
import type { KmemCache } from '../slab/cache.ts';
import { PAGE_SIZE } from '../types.ts';
import type { CoherentBuffer, DmaApi } from './api.ts';
import { DmaArgumentError, DmaMismatchError } from './errors.ts';
import { PD_CPU_ADDR, PD_DMA, PD_FREE, PD_IN_USE, PD_NEXT, PD_WORDS } from './types.ts';

/** The smallest block: room for the free-list link, 8-aligned (Linux's struct dma_block is 16 bytes on 64-bit). */
export const MIN_BLOCK_BYTES = 8;
const DESCRIPTOR_CACHE = 'dma_page';

export interface DmaPoolBlock {
  cpuAddr: number;
  dmaHandle: number;
  memType: MemType;
}

export interface DmaPoolStats {
  name: string;
  blockBytes: number;
  allocationBytes: number;
  boundaryBytes: number;
  blocksPerPage: number;
  pages: number;
  blocksInUse: number;
}

export class DmaPool {
  private head = 0;
  private pages = 0;
  private inUse = 0;
  private memType: MemType | null = null;
  readonly blocksPerPage: number;
  private readonly offsets: number[];

  private constructor(
    private readonly dma: DmaApi,
    private readonly descriptors: KmemCache,
    readonly name: string,
    readonly device: DmaEngine,
    readonly blockBytes: number,
    readonly allocationBytes: number,
    readonly boundaryBytes: number,
  ) {
    this.offsets = [];
    for (let offset = 0, nextBoundary = boundaryBytes; offset + blockBytes <= allocationBytes; ) {
      if (offset + blockBytes > nextBoundary) {
        offset = nextBoundary;
        nextBoundary += boundaryBytes;
        continue;
      }
      this.offsets.push(offset);
      offset += blockBytes;
    }
    this.blocksPerPage = this.offsets.length;
  }

  /** dma_pool_create. */
  static create(dma: DmaApi, name: string, device: DmaEngine, sizeBytes: number, options: { align?: number; boundary?: number } = {}): DmaPool {
    let align = options.align ?? 0;
    if (align === 0) align = 1;
    if (!Number.isInteger(align) || align < 0 || (align & (align - 1)) !== 0) throw new DmaArgumentError(`dma pool '${name}': align ${align}: expected a power of two (or 0)`);
    if (!Number.isInteger(sizeBytes) || sizeBytes < 1) throw new DmaArgumentError(`dma pool '${name}': block size ${sizeBytes}: expected ≥ 1`);
    const blockBytes = Math.max(MIN_BLOCK_BYTES, Math.ceil(sizeBytes / align) * align);
    const allocationBytes = Math.max(blockBytes, PAGE_SIZE);
    let boundary = options.boundary ?? 0;
    if (boundary === 0) boundary = allocationBytes;
    else if (!Number.isInteger(boundary) || boundary < blockBytes || (boundary & (boundary - 1)) !== 0) {
      throw new DmaArgumentError(`dma pool '${name}': boundary ${boundary}: expected a power of two ≥ the ${blockBytes}-byte block`);
    }
    boundary = Math.min(boundary, allocationBytes);
    const slab = dma.kernel.slab;
    const descriptors = slab.caches().find((c) => c.name === DESCRIPTOR_CACHE) ?? dma.kernel.createCache(DESCRIPTOR_CACHE, PD_WORDS * 4);
    return new DmaPool(dma, descriptors, name, device, blockBytes, allocationBytes, boundary);
  }

  /** dma_pool_alloc: a block, its DMA handle, and the memory type the CPU must use for it. */
  alloc(): DmaPoolBlock {
    let desc = this.head;
    for (let n = 0; desc !== 0 && n <= this.pages; n++) {
      if (this.word(desc, PD_FREE) !== -1) break;
      desc = this.word(desc, PD_NEXT);
    }
    if (desc === 0) desc = this.addPage();
    const offset = this.word(desc, PD_FREE);
    const cpuBase = this.word(desc, PD_CPU_ADDR) >>> 0;
    this.setWord(desc, PD_FREE, this.readLink(cpuBase + offset));
    this.setWord(desc, PD_IN_USE, this.word(desc, PD_IN_USE) + 1);
    this.inUse++;
    return { cpuAddr: cpuBase + offset, dmaHandle: (this.word(desc, PD_DMA) >>> 0) + offset, memType: this.memType as MemType };
  }

  /** dma_pool_free: the block must be one this pool handed out and not freed since. */
  free(cpuAddr: number, dmaHandle: number): void {
    const desc = this.pageOf(cpuAddr);
    const cpuBase = this.word(desc, PD_CPU_ADDR) >>> 0;
    const offset = cpuAddr - cpuBase;
    if (!this.offsets.includes(offset)) throw new DmaMismatchError(this.device.name, dmaHandle, `dma pool '${this.name}': 0x${cpuAddr.toString(16)} is not the start of a block`);
    if ((this.word(desc, PD_DMA) >>> 0) + offset !== dmaHandle) {
      throw new DmaMismatchError(this.device.name, dmaHandle, `dma pool '${this.name}': block 0x${cpuAddr.toString(16)} has DMA handle 0x${((this.word(desc, PD_DMA) >>> 0) + offset).toString(16)}`);
    }
    for (let f = this.word(desc, PD_FREE), n = 0; f !== -1 && n < this.blocksPerPage; f = this.readLink(cpuBase + f), n++) {
      if (f === offset) throw new DmaMismatchError(this.device.name, dmaHandle, `dma pool '${this.name}': block 0x${cpuAddr.toString(16)} is already free (double free)`);
    }
    this.writeLink(cpuAddr, this.word(desc, PD_FREE));
    this.setWord(desc, PD_FREE, offset);
    this.setWord(desc, PD_IN_USE, this.word(desc, PD_IN_USE) - 1);
    this.inUse--;
  }

  /** dma_pool_destroy: every block must be free. */
  destroy(): void {
    if (this.inUse !== 0) throw new DmaArgumentError(`dma pool '${this.name}': destroyed with ${this.inUse} blocks in use: expected all freed`);
    while (this.head !== 0) {
      const desc = this.head;
      this.head = this.word(desc, PD_NEXT);
      this.dma.dmaFreeCoherent(this.device, this.bufferOf(desc));
      this.descriptors.free(desc);
      this.pages--;
    }
  }

  private addPage(): number {
    const buffer = this.dma.dmaAllocCoherent(this.device, this.allocationBytes);
    this.memType = buffer.memType;
    const desc = this.descriptors.alloc() as number;
    this.setWord(desc, PD_CPU_ADDR, buffer.cpuAddr | 0);
    this.setWord(desc, PD_DMA, buffer.dmaHandle | 0);
    this.setWord(desc, PD_IN_USE, 0);
    for (let i = 0; i < this.offsets.length; i++) this.writeLink(buffer.cpuAddr + (this.offsets[i] as number), this.offsets[i + 1] ?? -1);
    this.setWord(desc, PD_FREE, this.offsets[0] as number);
    this.setWord(desc, PD_NEXT, this.head);
    this.head = desc;
    this.pages++;
    return desc;
  }

  private bufferOf(desc: number): CoherentBuffer {
    const cpuAddr = this.word(desc, PD_CPU_ADDR) >>> 0;
    return { cpuAddr, dmaHandle: this.word(desc, PD_DMA) >>> 0, sizeBytes: this.allocationBytes, order: Math.ceil(Math.log2(this.allocationBytes / PAGE_SIZE)), memType: this.memType as MemType };
  }

  private pageOf(cpuAddr: number): number {
    for (let desc = this.head, n = 0; desc !== 0 && n <= this.pages; desc = this.word(desc, PD_NEXT), n++) {
      const base = this.word(desc, PD_CPU_ADDR) >>> 0;
      if (cpuAddr >= base && cpuAddr < base + this.allocationBytes) return desc;
    }
    throw new DmaMismatchError(this.device.name, cpuAddr, `dma pool '${this.name}': 0x${cpuAddr.toString(16)} is in none of its pages`);
  }

  private word(desc: number, index: number): number {
    return this.dma.kernel.ram.i32(desc + index * 4, 1)[0] as number;
  }

  private setWord(desc: number, index: number, value: number): void {
    this.dma.kernel.ram.i32(desc + index * 4, 1)[0] = value;
  }

  /** The free-list link in a block, read by the CPU in the buffer's memory type. */
  private readLink(addr: number): number {
    const port = this.port();
    return port === null ? (this.dma.kernel.ram.i32(addr, 1)[0] as number) : port.load(addr, 4, this.memType as MemType) | 0;
  }

  private writeLink(addr: number, value: number): void {
    const port = this.port();
    if (port === null) this.dma.kernel.ram.i32(addr, 1)[0] = value;
    else port.store(addr, 4, value, this.memType as MemType);
  }

  private port(): MemoryPort | null {
    return this.dma.memory === null ? null : this.dma.memory.cpu(this.dma.cpu);
  }

  validate(): void {
    let pages = 0;
    let inUse = 0;
    for (let desc = this.head; desc !== 0; desc = this.word(desc, PD_NEXT)) {
      if (++pages > this.pages) throw new InvariantError(`dma pool '${this.name}': more pages on the list than the ${this.pages} counted`);
      const base = this.word(desc, PD_CPU_ADDR) >>> 0;
      let free = 0;
      for (let f = this.word(desc, PD_FREE); f !== -1; f = this.readLink(base + f)) {
        if (!this.offsets.includes(f)) throw new InvariantError(`dma pool '${this.name}': free offset ${f} is not a block start`);
        if (++free > this.blocksPerPage) throw new InvariantError(`dma pool '${this.name}': the free list of page 0x${base.toString(16)} loops`);
      }
      const used = this.word(desc, PD_IN_USE);
      if (used + free !== this.blocksPerPage) throw new InvariantError(`dma pool '${this.name}': page 0x${base.toString(16)} has ${used} in use + ${free} free ≠ ${this.blocksPerPage}`);
      inUse += used;
    }
    if (pages !== this.pages || inUse !== this.inUse) throw new InvariantError(`dma pool '${this.name}': ${pages} pages, ${inUse} in use; counters say ${this.pages}, ${this.inUse}`);
    for (const o of this.offsets) {
      if (Math.floor(o / this.boundaryBytes) !== Math.floor((o + this.blockBytes - 1) / this.boundaryBytes)) throw new InvariantError(`dma pool '${this.name}': block at +${o} crosses a boundary`);
    }
  }

  stats(): DmaPoolStats {
    return {
      name: this.name,
      blockBytes: this.blockBytes,
      allocationBytes: this.allocationBytes,
      boundaryBytes: this.boundaryBytes,
      blocksPerPage: this.blocksPerPage,
      pages: this.pages,
      blocksInUse: this.inUse,
    };
  }
}

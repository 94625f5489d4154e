/**
 * swiotlb: bounce buffers for devices whose DMA mask cannot reach a buffer (kernel/dma/swiotlb.c).
 * Low memory is carved at start into 2 KiB slots; a mapping takes 1..IO_TLB_SEGSIZE contiguous
 * slots inside one segment (so at most 256 KiB), and the DMA API copies between the original buffer
 * and the slots (the copies are counted there). The search is next-fit from a cursor, as Linux's
 * per-area `index`; a mapping of a page or more starts on a page, as Linux aligns such allocations.
 *
 * Layout and invariants: see types.ts. The pools are blocks of the DMA zone of at most
 * 2^MAX_PAGE_ORDER pages (Linux ≥ 6.6 also grows swiotlb in several pools); the metadata is
 * SLOT_WORDS 32-bit words per slot in a block of its own.
 */
import { InvariantError } from '../../util/errors.ts';
import { GFP } from '../gfp.ts';
import type { Kernel } from '../kernel.ts';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../types.ts';
import { DmaArgumentError, DmaMappingError } from './errors.ts';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, SLOT_ORIG, SLOT_SIZE, SLOT_USED, SLOT_WORDS, SWIOTLB_MAX_MAPPING_BYTES } from './types.ts';

const SLOTS_PER_PAGE = PAGE_SIZE / IO_TLB_SIZE;

interface Pool {
  /** First slot's global index. */
  firstSlot: number;
  nslots: number;
  paddr: number;
  order: number;
}

export interface SwiotlbStats {
  sizeBytes: number;
  slots: number;
  usedSlots: number;
  highWaterSlots: number;
  mappings: number;
  /** Mappings refused for want of contiguous free slots. */
  fullFailures: number;
  /** Bytes copied to or from the bounce slots, and the number of copies (counted by the DMA API). */
  bytesBounced: number;
  copies: number;
}

export class Swiotlb {
  private readonly pools: Pool[] = [];
  private readonly meta: Int32Array;
  private readonly metaPfn: number;
  private readonly metaOrder: number;
  readonly nslots: number;
  private cursor = 0;
  usedSlots = 0;
  highWaterSlots = 0;
  mappings = 0;
  fullFailures = 0;
  bytesBounced = 0;
  copies = 0;

  /** Carves `sizeBytes` (a power of two of at least a page, or a multiple of the largest buddy block) from the DMA zone. */
  constructor(
    private readonly kernel: Kernel,
    readonly sizeBytes: number,
  ) {
    const maxBlock = PAGE_SIZE << MAX_PAGE_ORDER;
    const ok = sizeBytes >= PAGE_SIZE && (sizeBytes <= maxBlock ? (sizeBytes & (sizeBytes - 1)) === 0 : sizeBytes % maxBlock === 0);
    if (!Number.isInteger(sizeBytes) || !ok) {
      throw new DmaArgumentError(`swiotlb of ${sizeBytes} bytes: expected a power of two from ${PAGE_SIZE} to ${maxBlock}, or a multiple of ${maxBlock}`);
    }
    this.nslots = sizeBytes / IO_TLB_SIZE;
    const metaBytes = this.nslots * SLOT_WORDS * 4;
    this.metaOrder = Math.max(0, Math.ceil(Math.log2(metaBytes / PAGE_SIZE)));
    const taken: [number, number][] = [];
    try {
      this.metaPfn = kernel.pages.allocPages(this.metaOrder, GFP.KERNEL | GFP.ZERO) as number;
      taken.push([this.metaPfn, this.metaOrder]);
      for (let done = 0; done < sizeBytes; ) {
        const bytes = Math.min(maxBlock, sizeBytes - done);
        const order = Math.log2(bytes / PAGE_SIZE);
        const pfn = kernel.pages.allocPages(order, GFP.DMA) as number;
        taken.push([pfn, order]);
        this.pools.push({ firstSlot: done / IO_TLB_SIZE, nslots: bytes / IO_TLB_SIZE, paddr: pfn * PAGE_SIZE, order });
        done += bytes;
      }
    } catch (error) {
      for (const [pfn, order] of taken) kernel.pages.freePages(pfn, order);
      throw error;
    }
    this.meta = kernel.ram.i32(this.metaPfn * PAGE_SIZE, this.nslots * SLOT_WORDS);
  }

  /** The largest mapping swiotlb can bounce (dma_max_mapping_size with swiotlb). */
  get maxMappingBytes(): number {
    return SWIOTLB_MAX_MAPPING_BYTES;
  }

  /** Whether every slot lies below `limit` (the highest address a device reaches). */
  reachableBelow(limit: number): boolean {
    return this.pools.every((p) => p.paddr + p.nslots * IO_TLB_SIZE - 1 <= limit);
  }

  /** Takes slots for `sizeBytes` bytes bouncing `origPaddr`; returns the bounce buffer's physical address. */
  map(origPaddr: number, sizeBytes: number): number {
    if (sizeBytes > SWIOTLB_MAX_MAPPING_BYTES) {
      throw new DmaMappingError(`swiotlb: a mapping of ${sizeBytes} bytes is over the limit of ${SWIOTLB_MAX_MAPPING_BYTES} (IO_TLB_SEGSIZE ${IO_TLB_SEGSIZE} slots of ${IO_TLB_SIZE} bytes)`);
    }
    const need = Math.max(1, Math.ceil(sizeBytes / IO_TLB_SIZE));
    const stride = sizeBytes >= PAGE_SIZE ? SLOTS_PER_PAGE : 1;
    for (let tried = 0, slot = this.cursor; tried < this.nslots; ) {
      const pool = this.poolOf(slot);
      const rel = slot - pool.firstSlot;
      const segEnd = Math.min(pool.firstSlot + pool.nslots, pool.firstSlot + (Math.floor(rel / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE);
      if (rel % stride === 0 && slot + need <= segEnd && this.runFree(slot, need)) {
        this.take(slot, need, origPaddr, sizeBytes);
        this.cursor = (slot + need) % this.nslots;
        return pool.paddr + rel * IO_TLB_SIZE;
      }
      slot = (slot + 1) % this.nslots;
      tried++;
    }
    this.fullFailures++;
    throw new DmaMappingError(`swiotlb is full: no ${need} contiguous free slots (${this.usedSlots} of ${this.nslots} in use)`);
  }

  /** Frees the mapping whose bounce buffer starts at `tlbPaddr`; returns its original address and size. */
  unmap(tlbPaddr: number): { origPaddr: number; sizeBytes: number } {
    const slot = this.slotOf(tlbPaddr);
    const used = slot < 0 ? 0 : (this.meta[slot * SLOT_WORDS + SLOT_USED] as number);
    if (used <= 0) throw new InvariantError(`swiotlb: 0x${tlbPaddr.toString(16)} is not the start of a mapping`);
    const result = { origPaddr: (this.meta[slot * SLOT_WORDS + SLOT_ORIG] as number) >>> 0, sizeBytes: this.meta[slot * SLOT_WORDS + SLOT_SIZE] as number };
    for (let s = slot; s < slot + used; s++) this.meta.fill(0, s * SLOT_WORDS, (s + 1) * SLOT_WORDS);
    this.usedSlots -= used;
    this.mappings--;
    return result;
  }

  /** Whether `paddr` is inside a swiotlb pool. */
  contains(paddr: number): boolean {
    return this.slotOf(paddr) >= 0;
  }

  private poolOf(slot: number): Pool {
    for (const p of this.pools) if (slot < p.firstSlot + p.nslots) return p;
    throw new InvariantError(`swiotlb: slot ${slot} is beyond ${this.nslots} slots`);
  }

  private slotOf(paddr: number): number {
    for (const p of this.pools) {
      if (paddr >= p.paddr && paddr < p.paddr + p.nslots * IO_TLB_SIZE) return p.firstSlot + Math.floor((paddr - p.paddr) / IO_TLB_SIZE);
    }
    return -1;
  }

  private runFree(slot: number, n: number): boolean {
    for (let s = slot; s < slot + n; s++) if (this.meta[s * SLOT_WORDS + SLOT_USED] !== 0) return false;
    return true;
  }

  private take(slot: number, n: number, origPaddr: number, sizeBytes: number): void {
    for (let s = slot; s < slot + n; s++) this.meta[s * SLOT_WORDS + SLOT_USED] = -1;
    this.meta[slot * SLOT_WORDS + SLOT_USED] = n;
    this.meta[slot * SLOT_WORDS + SLOT_ORIG] = origPaddr | 0;
    this.meta[slot * SLOT_WORDS + SLOT_SIZE] = sizeBytes;
    this.usedSlots += n;
    this.mappings++;
    this.highWaterSlots = Math.max(this.highWaterSlots, this.usedSlots);
  }

  /** Returns the pools and metadata to the buddy allocator; no mapping may be live. */
  destroy(): void {
    if (this.usedSlots !== 0) throw new DmaArgumentError(`swiotlb: ${this.mappings} mappings still live: expected none when tearing it down`);
    for (const p of this.pools) this.kernel.pages.freePages(p.paddr / PAGE_SIZE, p.order);
    this.kernel.pages.freePages(this.metaPfn, this.metaOrder);
    this.pools.length = 0;
  }

  validate(): void {
    let used = 0;
    let mappings = 0;
    for (const p of this.pools) {
      for (let s = p.firstSlot; s < p.firstSlot + p.nslots; ) {
        const u = this.meta[s * SLOT_WORDS + SLOT_USED] as number;
        if (u === 0) {
          s++;
          continue;
        }
        if (u < 0) throw new InvariantError(`swiotlb: slot ${s} continues a mapping that does not start before it`);
        const rel = s - p.firstSlot;
        if (Math.floor(rel / IO_TLB_SEGSIZE) !== Math.floor((rel + u - 1) / IO_TLB_SEGSIZE) || s + u > p.firstSlot + p.nslots) {
          throw new InvariantError(`swiotlb: the mapping at slot ${s} (${u} slots) crosses a segment or pool end`);
        }
        const size = this.meta[s * SLOT_WORDS + SLOT_SIZE] as number;
        if (Math.max(1, Math.ceil(size / IO_TLB_SIZE)) !== u) throw new InvariantError(`swiotlb: the mapping at slot ${s} holds ${size} bytes in ${u} slots`);
        if (size >= PAGE_SIZE && rel % SLOTS_PER_PAGE !== 0) throw new InvariantError(`swiotlb: the ${size}-byte mapping at slot ${s} does not start on a page`);
        for (let k = s + 1; k < s + u; k++) if (this.meta[k * SLOT_WORDS + SLOT_USED] !== -1) throw new InvariantError(`swiotlb: slot ${k} should continue the mapping at slot ${s}`);
        used += u;
        mappings++;
        s += u;
      }
    }
    if (used !== this.usedSlots || mappings !== this.mappings) {
      throw new InvariantError(`swiotlb: ${used} slots in ${mappings} mappings found, counters say ${this.usedSlots} in ${this.mappings}`);
    }
  }

  stats(): SwiotlbStats {
    return {
      sizeBytes: this.sizeBytes,
      slots: this.nslots,
      usedSlots: this.usedSlots,
      highWaterSlots: this.highWaterSlots,
      mappings: this.mappings,
      fullFailures: this.fullFailures,
      bytesBounced: this.bytesBounced,
      copies: this.copies,
    };
  }
}

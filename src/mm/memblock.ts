/**
 * memblock: the early boot allocator (Linux mm/memblock.c). Before the buddy allocator exists,
 * the kernel's own metadata (struct pages, zone descriptors, subsystem tables) is carved from the
 * RAM it will manage. Like Linux's default, memblock allocates top-down, from the end of RAM, so
 * the DMA zone at the bottom stays for devices. Every reservation is recorded, by name, in the boot
 * header's region directory: `Kernel.attach()` finds the structures there, and the page allocator
 * marks those frames Reserved and never hands them out.
 */
import type { Ram } from '../machine/ram.ts';
import { PAGE_SIZE } from '../machine/ram.ts';
import { KmemError } from '../util/errors.ts';
import { formatBytes } from '../util/units.ts';
import type { ArenaHeader } from './arena-header.ts';

export class MemblockError extends KmemError {
  override name = 'MemblockError';
}

export class Memblock {
  /** The lowest reserved byte so far; everything in [cursor, ramBytes) is reserved. */
  private cursor: number;

  constructor(
    private readonly ram: Ram,
    private readonly header: ArenaHeader,
  ) {
    this.cursor = ram.sizeBytes;
  }

  /** Reserves `sizeBytes` (rounded up to whole pages) and returns its physical address. */
  alloc(name: string, sizeBytes: number): number {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new MemblockError(`memblock: region '${name}' of ${sizeBytes} bytes: expected a positive size`);
    }
    const rounded = Math.ceil(sizeBytes / PAGE_SIZE) * PAGE_SIZE;
    const paddr = this.cursor - rounded;
    if (paddr < PAGE_SIZE) {
      throw new MemblockError(
        `memblock: no room for '${name}' (${formatBytes(rounded)}): RAM of ${formatBytes(this.ram.sizeBytes)} is too small for the kernel's metadata`,
      );
    }
    this.header.addRegion(name, paddr, rounded);
    this.cursor = paddr;
    return paddr;
  }

  /** The first reserved frame at the top of RAM. */
  get firstReservedPfn(): number {
    return this.cursor / PAGE_SIZE;
  }
}

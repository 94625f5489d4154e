/**
 * A test- and bench-side page-table builder: writes real x86-64 entries (src/machine/pte.ts) into RAM
 * frames taken from a bump pointer over a range the caller reserves. It stands in for the kernel's
 * page tables (src/mm/vm/) so the machine's MMU, TLBs and CPU can be tested alone. No policy, no
 * freeing: a test builds its tables, then runs.
 */
import type { Ram } from '../../src/machine/ram.ts';
import {
  PAGE_SIZE_1G,
  PAGE_SIZE_2M,
  PTE_HI_NX,
  PTE_HUGE,
  PTE_PRESENT,
  PTE_USER,
  PTE_WRITABLE,
  makePteHi,
  makePteLo,
  pteFramePaddr,
  pteIndex,
  writePte,
} from '../../src/machine/pte.ts';

export interface MapFlags {
  writable?: boolean;
  user?: boolean;
  nx?: boolean;
  /** Extra low-half bits for the leaf (PTE_GLOBAL, software bits, …). */
  extraLo?: number;
}

export class PageTableBuilder {
  readonly cr3: number;
  readonly words: Int32Array;
  private next: number;
  /** Frames taken for tables so far. */
  tablesUsed = 0;

  /** Tables are carved from [firstPaddr, limitPaddr), 4 KiB aligned; the first becomes the PML4. */
  constructor(
    readonly ram: Ram,
    firstPaddr: number,
    private readonly limitPaddr: number,
  ) {
    this.words = new Int32Array(ram.buffer);
    this.next = firstPaddr;
    this.cr3 = this.takeTable();
  }

  takeTable(): number {
    if (this.next + 4096 > this.limitPaddr) throw new Error(`page-table builder: out of table frames at 0x${this.next.toString(16)}`);
    const paddr = this.next;
    this.next += 4096;
    this.ram.bytes.fill(0, paddr, paddr + 4096);
    this.tablesUsed++;
    return paddr;
  }

  /** The paddr of the entry for `vaddr` at `level`, creating intermediate tables (all rights). */
  entryPaddr(vaddr: number, level: number): number {
    let table = this.cr3;
    for (let l = 4; l > level; l--) {
      const entry = table + pteIndex(vaddr, l) * 8;
      const lo = this.words[entry / 4]! >>> 0;
      if ((lo & PTE_PRESENT) === 0) {
        const fresh = this.takeTable();
        writePte(this.words, entry, makePteLo(fresh, PTE_PRESENT | PTE_WRITABLE | PTE_USER), makePteHi(fresh, 0));
      } else if ((lo & PTE_HUGE) !== 0) {
        throw new Error(`page-table builder: 0x${vaddr.toString(16)} is inside a huge page at level ${l}`);
      }
      table = pteFramePaddr(this.words[entry / 4]! >>> 0, this.words[entry / 4 + 1]! >>> 0);
    }
    return table + pteIndex(vaddr, level) * 8;
  }

  /** Maps one page of 4 KiB (level 1), 2 MiB (level 2) or 1 GiB (level 3) at `vaddr` to `paddr`. */
  map(vaddr: number, paddr: number, level: 1 | 2 | 3, flags: MapFlags = {}): void {
    const size = level === 1 ? 4096 : level === 2 ? PAGE_SIZE_2M : PAGE_SIZE_1G;
    if (vaddr % size !== 0 || paddr % size !== 0) throw new Error(`page-table builder: misaligned ${size}-byte mapping`);
    let lo = PTE_PRESENT | (flags.extraLo ?? 0);
    if (flags.writable ?? true) lo |= PTE_WRITABLE;
    if (flags.user ?? true) lo |= PTE_USER;
    if (level > 1) lo |= PTE_HUGE;
    writePte(this.words, this.entryPaddr(vaddr, level), makePteLo(paddr, lo), makePteHi(paddr, flags.nx === true ? PTE_HI_NX : 0));
  }

  /** Maps [vaddr, vaddr + sizeBytes) to consecutive frames from `paddr`, in pages of the level's size. */
  mapRange(vaddr: number, paddr: number, sizeBytes: number, level: 1 | 2 | 3, flags: MapFlags = {}): void {
    const size = level === 1 ? 4096 : level === 2 ? PAGE_SIZE_2M : PAGE_SIZE_1G;
    for (let off = 0; off < sizeBytes; off += size) this.map(vaddr + off, paddr + off, level, flags);
  }

  /** Clears the leaf entry at `level` for `vaddr` (the caller flushes TLBs, as a kernel must). */
  unmap(vaddr: number, level: 1 | 2 | 3): void {
    writePte(this.words, this.entryPaddr(vaddr, level), 0, 0);
  }

  /** The raw leaf entry (lo, hi) for `vaddr` at `level`. */
  leaf(vaddr: number, level: 1 | 2 | 3): { lo: number; hi: number } {
    const entry = this.entryPaddr(vaddr, level);
    return { lo: this.words[entry / 4]! >>> 0, hi: this.words[entry / 4 + 1]! >>> 0 };
  }
}

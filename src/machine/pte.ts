/**
 * The x86-64 page-table entry, as the hardware reads it from RAM (4-level paging, Intel SDM vol. 3A
 * §4.5 "4-level paging and 5-level paging", tables 4-14 … 4-20; AMD APM vol. 2 §5.3).
 *
 * INTERFACE (what the kernel codes against)
 *   - A paging structure is one 4 KiB frame of 512 entries of 8 bytes, little-endian. Four levels:
 *     PML4 (level 4, vaddr bits 47:39), PDPT (level 3, bits 38:30), PD (level 2, bits 29:21),
 *     PT (level 1, bits 20:12). CR3 holds the PML4 frame's physical address.
 *   - JavaScript has no cheap 64-bit integer, so an entry is read and written as two 32-bit halves
 *     through a `Uint32Array` (or `Int32Array`) view of all of RAM: the entry at physical address
 *     `paddr` (8-byte aligned) is `lo = words[paddr >>> 2]` (bits 31:0) and
 *     `hi = words[(paddr >>> 2) + 1]` (bits 63:32). The host must be little-endian (checked below),
 *     as x86 is. The low-half flags are `PTE_*`; the high-half flags are `PTE_HI_*` and apply to `hi`.
 *   - Virtual addresses are plain numbers in [0, 2^48): the 48 significant bits. Canonical upper-half
 *     addresses (bits 63:48 copies of bit 47) are written without the sign extension, so the
 *     kernel half is [2^47, 2^48) here. `canonical48()` converts from a 64-bit bigint.
 *   - Physical frame addresses occupy bits 51:12 (low half bits 31:12 and high half bits 19:0);
 *     `pteFramePaddr(lo, hi)` reassembles one, `makePteLo/Hi` build one.
 *   - Bits the processor ignores and leaves to software (§4.5, "Ignored" in tables 4-15 … 4-20):
 *     bits 11:9 (`PTE_SW_MASK`) and 58:52 (`PTE_HI_SW_MASK`). Linux keeps its own flags there.
 *
 * The helpers here are pure functions on (lo, hi) pairs and on word views; the walk is in mmu.ts.
 */
import { ArgumentError } from '../util/errors.ts';
import { PAGE_SHIFT } from './ram.ts';

/** Entries per paging structure and bytes per entry (§4.5: 512 × 8 bytes = one 4 KiB frame). */
export const PTE_ENTRIES = 512;
export const PTE_BYTES = 8;
export const PTE_INDEX_BITS = 9;
/** Levels of 4-level paging, numbered as the SDM numbers them: 4 = PML4 … 1 = PT. */
export const LEVEL_PML4 = 4;
export const LEVEL_PDPT = 3;
export const LEVEL_PD = 2;
export const LEVEL_PT = 1;
/** The 48-bit linear-address width of 4-level paging. */
export const VADDR_BITS = 48;
export const VADDR_LIMIT = 2 ** VADDR_BITS;
/** Page sizes each level can map: PT → 4 KiB, PD (PS=1) → 2 MiB, PDPT (PS=1) → 1 GiB. */
export const PAGE_SHIFT_4K = PAGE_SHIFT;
export const PAGE_SHIFT_2M = 21;
export const PAGE_SHIFT_1G = 30;
export const PAGE_SIZE_2M = 1 << PAGE_SHIFT_2M;
export const PAGE_SIZE_1G = 1 << PAGE_SHIFT_1G;

// Low half (bits 31:0). Bit positions from SDM vol. 3A tables 4-15 … 4-20.
/** Bit 0 P: present; when clear every other bit is ignored by the processor (free for software). */
export const PTE_PRESENT = 1 << 0;
/** Bit 1 R/W: writes allowed (for every level the walk passes; with CR0.WP=1 also for supervisor). */
export const PTE_WRITABLE = 1 << 1;
/** Bit 2 U/S: user-mode accesses allowed (for every level the walk passes). */
export const PTE_USER = 1 << 2;
/** Bit 3 PWT: page-level write-through. */
export const PTE_PWT = 1 << 3;
/** Bit 4 PCD: page-level cache disable. */
export const PTE_PCD = 1 << 4;
/** Bit 5 A: accessed, set by the processor on every entry a walk uses. */
export const PTE_ACCESSED = 1 << 5;
/** Bit 6 D: dirty, set by the processor on the leaf entry of a write. Ignored in non-leaf entries. */
export const PTE_DIRTY = 1 << 6;
/** Bit 7 PS: page size. In a PDE it maps a 2 MiB page, in a PDPTE a 1 GiB page; reserved in a PML4E.
 *  (In a PTE bit 7 is PAT, which this model does not interpret.) */
export const PTE_HUGE = 1 << 7;
/** Bit 8 G: global, the translation survives a CR3 write (leaf entries only; needs CR4.PGE). */
export const PTE_GLOBAL = 1 << 8;
/** Bits 11:9: ignored by the processor, available to software. */
export const PTE_SW_SHIFT = 9;
export const PTE_SW_MASK = 0x7 << PTE_SW_SHIFT;
/** Bit 12 of a huge (PS=1) entry is its PAT bit; the frame then starts at bit 21 (2 MiB) or 30 (1 GiB). */
export const PTE_HUGE_PAT = 1 << 12;
/** Frame bits 31:12 of the low half. */
export const PTE_LO_FRAME_MASK = 0xfffff000;

// High half (bits 63:32), as bit positions within `hi`.
/** Frame bits 51:32 (hi bits 19:0): physical addresses up to 2^52 (MAXPHYADDR ≤ 52, §4.1.4). */
export const PTE_HI_FRAME_MASK = 0x000fffff;
/** Bits 58:52 (hi bits 26:20): ignored by the processor, available to software. */
export const PTE_HI_SW_SHIFT = 20;
export const PTE_HI_SW_MASK = 0x7f << PTE_HI_SW_SHIFT;
/** Bits 62:59 (hi bits 30:27): protection key when CR4.PKE=1, otherwise ignored. Not modelled. */
export const PTE_HI_PKEY_MASK = 0xf << 27;
/** Bit 63 XD/NX (hi bit 31): instruction fetches not allowed (with IA32_EFER.NXE=1). */
export const PTE_HI_NX = 1 << 31;

/** A frame address with bits above MAXPHYADDR set is a reserved-bit violation (§4.5, tables 4-15ff).
 *  This returns the mask of `hi` bits that must be zero for a given MAXPHYADDR (32 … 52). */
export function hiReservedMask(maxPhysAddrBits: number): number {
  if (!Number.isInteger(maxPhysAddrBits) || maxPhysAddrBits < 32 || maxPhysAddrBits > 52) {
    throw new ArgumentError(`MAXPHYADDR ${maxPhysAddrBits}: expected an integer in [32, 52]`);
  }
  return (PTE_HI_FRAME_MASK & ~((2 ** (maxPhysAddrBits - 32) - 1) >>> 0)) >>> 0;
}

/** Low-half bits that must be zero in a huge entry beyond its frame: bits 20:13 of a 2 MiB PDE,
 *  bits 29:13 of a 1 GiB PDPTE (tables 4-17 and 4-15: the frame is 2 MiB / 1 GiB aligned). */
export const PDE_HUGE_RESERVED_LO = 0x001fe000;
export const PDPTE_HUGE_RESERVED_LO = 0x3fffe000;

/** The physical address an entry points at (the next table, or a 4 KiB frame). */
export function pteFramePaddr(lo: number, hi: number): number {
  return (hi & PTE_HI_FRAME_MASK) * 0x1_0000_0000 + ((lo & PTE_LO_FRAME_MASK) >>> 0);
}

/** The low half of an entry pointing at `paddr` (4 KiB aligned) with flags `flags` (PTE_*). */
export function makePteLo(paddr: number, flags: number): number {
  checkFramePaddr(paddr, 1 << PAGE_SHIFT_4K);
  return ((paddr % 0x1_0000_0000 & PTE_LO_FRAME_MASK) | (flags & ~PTE_LO_FRAME_MASK)) >>> 0;
}

/** The high half of an entry pointing at `paddr` with high flags `hiFlags` (PTE_HI_NX, software bits). */
export function makePteHi(paddr: number, hiFlags: number): number {
  checkFramePaddr(paddr, 1 << PAGE_SHIFT_4K);
  return ((Math.floor(paddr / 0x1_0000_0000) & PTE_HI_FRAME_MASK) | (hiFlags & ~PTE_HI_FRAME_MASK)) >>> 0;
}

function checkFramePaddr(paddr: number, alignBytes: number): void {
  if (!Number.isInteger(paddr) || paddr < 0 || paddr >= 2 ** 52 || paddr % alignBytes !== 0) {
    throw new ArgumentError(`frame address 0x${paddr.toString(16)}: expected a ${alignBytes}-byte aligned address below 2^52`);
  }
}

/** Reads the entry at `paddr` (8-byte aligned) from a 32-bit view of all of RAM. */
export function readPteLo(words: Uint32Array | Int32Array, paddr: number): number {
  return words[paddr / 4]! >>> 0;
}
export function readPteHi(words: Uint32Array | Int32Array, paddr: number): number {
  return words[paddr / 4 + 1]! >>> 0;
}

/** Writes a whole entry: the high half first, then the low half (which holds P), so a concurrent
 *  walker that sees P set also sees the right high half. Use Atomics for a live, shared table. */
export function writePte(words: Int32Array, paddr: number, lo: number, hi: number): void {
  const index = paddr / 4;
  Atomics.store(words, index + 1, hi | 0);
  Atomics.store(words, index, lo | 0);
}

/** The whole entry as a bigint (for tests, dumps and messages; never on a fast path). */
export function pteToBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
export function pteFromBigInt(value: bigint): { lo: number; hi: number } {
  return { lo: Number(value & 0xffffffffn), hi: Number((value >> 32n) & 0xffffffffn) };
}

/** The index into the level-`level` table for `vaddr` (bits 47:39, 38:30, 29:21, 20:12). */
export function pteIndex(vaddr: number, level: number): number {
  return Math.floor(vaddr / 2 ** (PAGE_SHIFT_4K + PTE_INDEX_BITS * (level - 1))) % PTE_ENTRIES;
}

/** A 64-bit canonical address (bits 63:48 equal to bit 47) as the 48-bit number this model uses. */
export function canonical48(address: bigint): number {
  const top = address >> 47n;
  if (top !== 0n && top !== 0x1ffffn) {
    throw new ArgumentError(`address 0x${address.toString(16)} is not canonical: expected bits 63:47 all 0 or all 1`);
  }
  return Number(address & 0xffff_ffff_ffffn);
}

/** The 64-bit canonical form of a 48-bit model address (sign-extends bit 47). */
export function canonical64(vaddr: number): bigint {
  const value = BigInt(vaddr);
  return value >= 1n << 47n ? value | 0xffff_0000_0000_0000n : value;
}

/** Human-readable flags of an entry, lowest bit first, e.g. "P W U A D NX". */
export function describePte(lo: number, hi: number): string {
  const names: string[] = [];
  const pairs: [number, string][] = [
    [PTE_PRESENT, 'P'],
    [PTE_WRITABLE, 'W'],
    [PTE_USER, 'U'],
    [PTE_PWT, 'PWT'],
    [PTE_PCD, 'PCD'],
    [PTE_ACCESSED, 'A'],
    [PTE_DIRTY, 'D'],
    [PTE_HUGE, 'PS'],
    [PTE_GLOBAL, 'G'],
  ];
  for (const [bit, name] of pairs) if ((lo & bit) !== 0) names.push(name);
  if ((hi & PTE_HI_NX) !== 0) names.push('NX');
  return `0x${pteToBigInt(lo, hi).toString(16).padStart(16, '0')} [${names.join(' ')}]`;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
if (!LITTLE_ENDIAN) throw new Error('kmem machine/pte: the host must be little-endian, as x86-64 page tables are');

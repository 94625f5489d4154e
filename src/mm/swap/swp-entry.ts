/**
 * Swap PTEs: the non-present page-table entry that names where a swapped-out page went (Linux's
 * swp_entry_t, and x86-64's __swp_entry / __swp_type / __swp_offset in
 * arch/x86/include/asm/pgtable_64.h).
 *
 * Linux on x86-64 keeps the type (which swap device) in the entry's top 5 bits, 59..63, and the offset
 * (the slot) from bit 9 (just above _PAGE_PROTNONE) upward, inverted so that a stale entry never
 * names real memory (the L1TF mitigation). Bit 0 (present) and bit 8 (_PAGE_PROTNONE) are clear,
 * which is how pte_present() and pte_protnone() tell a swap entry from a mapping.
 *
 * kmem keeps the same places: the type in bits 59..63 (bits 27..31 of the high word) and the offset in
 * bits 9..31 of the low word, not inverted (the emulated CPU has no speculative loads to mitigate), so
 * an offset is below 2^23 (SWAP_SLOTS_MAX). Slot 0 is the header and never used, so a swap entry's
 * low word is never zero: the page-table walks that skip `lo === 0` see it as an entry.
 */
import { PTE_PRESENT } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { PTE_PROTNONE } from '../vm/fault.ts';
import { SWAP_SLOTS_MAX } from './types.ts';

const OFFSET_SHIFT = 9;
const TYPE_SHIFT_HI = 27;
/** The swap device types kmem's high-word field holds (MAX_SWAPFILES_SHIFT is 5). */
export const SWP_TYPE_MAX = 31;

/** Whether a level-1 entry's low word is a swap entry: not none, not present, not PROT_NONE. */
export function isSwapPte(lo: number): boolean {
  return lo !== 0 && (lo & (PTE_PRESENT | PTE_PROTNONE)) === 0;
}

/** The low word of the swap PTE for `offset`. */
export function swpEntryLo(offset: number): number {
  assert(Number.isInteger(offset) && offset >= 1 && offset < SWAP_SLOTS_MAX, () => `swap offset ${offset}: expected a slot in [1, ${SWAP_SLOTS_MAX})`);
  return (offset << OFFSET_SHIFT) >>> 0;
}

/** The high word of the swap PTE for device `type`. */
export function swpEntryHi(type: number): number {
  assert(Number.isInteger(type) && type >= 0 && type <= SWP_TYPE_MAX, () => `swap type ${type}: expected 0..${SWP_TYPE_MAX}`);
  return (type << TYPE_SHIFT_HI) >>> 0;
}

export function swpOffset(lo: number): number {
  return lo >>> OFFSET_SHIFT;
}

export function swpType(hi: number): number {
  return hi >>> TYPE_SHIFT_HI;
}

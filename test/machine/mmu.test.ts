import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import {
  PTE_ACCESSED,
  PTE_DIRTY,
  PTE_HI_NX,
  PTE_HUGE,
  PTE_PRESENT,
  PTE_SW_MASK,
  PTE_USER,
  PTE_WRITABLE,
  canonical48,
  canonical64,
  describePte,
  hiReservedMask,
  makePteHi,
  makePteLo,
  pteFramePaddr,
  pteFromBigInt,
  pteIndex,
  pteToBigInt,
  writePte,
} from '../../src/machine/pte.ts';
import {
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  FAULT_NOT_PRESENT,
  FAULT_PROTECTION,
  FAULT_RESERVED,
  PERM_DIRTY,
  PERM_NX,
  PERM_WRITABLE,
  PF_ERR_FETCH,
  PF_ERR_PRESENT,
  PF_ERR_RESERVED,
  PF_ERR_USER,
  PF_ERR_WRITE,
  PageWalker,
  WALK_OK,
  faultErrorCode,
} from '../../src/machine/mmu.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';
import { ArgumentError } from '../../src/util/errors.ts';

test('PTE halves: frame bits 51:12 split across lo and hi, NX is bit 63, round trip through bigint', () => {
  const paddr = 0x3_4567_8000;
  const lo = makePteLo(paddr, PTE_PRESENT | PTE_WRITABLE | (5 << 9));
  const hi = makePteHi(paddr, PTE_HI_NX);
  assert.equal(pteFramePaddr(lo, hi), paddr);
  const whole = pteToBigInt(lo, hi);
  assert.equal(whole, (1n << 63n) | BigInt(paddr) | 0x3n | (5n << 9n));
  assert.deepEqual(pteFromBigInt(whole), { lo, hi });
  assert.equal(lo & PTE_SW_MASK, 5 << 9);
  assert.match(describePte(lo, hi), /\[P W NX\]/);
  assert.throws(() => makePteLo(0x1001, 0), ArgumentError);
  // MAXPHYADDR 46: bits 51:46 of the frame (hi bits 19:14) are reserved.
  assert.equal(hiReservedMask(46), 0xfc000);
  assert.equal(hiReservedMask(52), 0);
});

test('indices and canonical addresses', () => {
  const vaddr = (3 * 2 ** 39) + (5 * 2 ** 30) + (7 * 2 ** 21) + (9 * 2 ** 12) + 0x123;
  assert.deepEqual([4, 3, 2, 1].map((l) => pteIndex(vaddr, l)), [3, 5, 7, 9]);
  assert.equal(canonical48(0xffff_8000_0000_1000n), 2 ** 47 + 0x1000);
  assert.equal(canonical64(2 ** 47 + 0x1000), 0xffff_8000_0000_1000n);
  assert.throws(() => canonical48(0x0001_0000_0000_0000n), /not canonical/);
});

test('walks 4 KiB, 2 MiB and 1 GiB pages through real entries, setting A on each and D on writes', () => {
  const ram = Ram.create({ sizeBytes: '8MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x40000);
  const walker = new PageWalker(ram);
  const v4k = 0x7f00_1234_5000;
  pt.map(v4k, 0x200000, 1);
  pt.map(0x4000_0000 + 0x20_0000, 0x400000, 2);
  pt.map(0x80_0000_0000, 0, 3);

  assert.equal(walker.walk(pt.cr3, 0, v4k + 0x10, ACCESS_READ, true), WALK_OK);
  assert.equal(walker.frame, 0x200000);
  assert.equal(walker.pageShift, 12);
  assert.equal(walker.lastReads, 4);
  let leaf = pt.leaf(v4k, 1);
  assert.equal(leaf.lo & (PTE_ACCESSED | PTE_DIRTY), PTE_ACCESSED);
  assert.equal(walker.perms & PERM_DIRTY, 0);
  // Upper levels got A too.
  for (const level of [4, 3, 2]) assert.ok((ram.u32(pt.entryPaddr(v4k, level), 1)[0]! & PTE_ACCESSED) !== 0);
  assert.equal(walker.walk(pt.cr3, 0, v4k, ACCESS_WRITE, true), WALK_OK);
  leaf = pt.leaf(v4k, 1);
  assert.equal(leaf.lo & PTE_DIRTY, PTE_DIRTY);
  assert.ok((walker.perms & PERM_DIRTY) !== 0);

  assert.equal(walker.walk(pt.cr3, 0, 0x4000_0000 + 0x20_0000 + 0x12345, ACCESS_READ, false), WALK_OK);
  assert.equal(walker.frame, 0x400000);
  assert.equal(walker.pageShift, 21);
  assert.equal(walker.lastReads, 3);
  assert.equal(walker.walk(pt.cr3, 0, 0x80_0000_0000 + 0x3fff_ffff, ACCESS_READ, false), WALK_OK);
  assert.equal(walker.pageShift, 30);
  assert.equal(walker.lastReads, 2);
  assert.deepEqual(walker.counters.walkReads, 4 + 4 + 3 + 2);
});

test('faults: not present at the level that stopped, protection, reserved bits; no A/D on a refused leaf', () => {
  const ram = Ram.create({ sizeBytes: '8MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x40000);
  const walker = new PageWalker(ram, { smep: true });
  assert.equal(walker.walk(pt.cr3, 0, 0x1000, ACCESS_READ, true), FAULT_NOT_PRESENT);
  assert.equal(walker.faultLevel, 4);
  pt.map(0x1000, 0x200000, 1, { writable: false, nx: true });
  assert.equal(walker.walk(pt.cr3, 0, 0x2000, ACCESS_READ, true), FAULT_NOT_PRESENT);
  assert.equal(walker.faultLevel, 1);
  assert.equal(walker.walk(pt.cr3, 0, 0x1000, ACCESS_WRITE, true), FAULT_PROTECTION);
  assert.equal(pt.leaf(0x1000, 1).lo & (PTE_ACCESSED | PTE_DIRTY), 0);
  assert.equal(walker.walk(pt.cr3, 0, 0x1000, ACCESS_WRITE, false), FAULT_PROTECTION, 'CR0.WP: supervisor writes obey R/W');
  assert.equal(walker.walk(pt.cr3, 0, 0x1000, ACCESS_EXEC, true), FAULT_PROTECTION);
  assert.equal(walker.walk(pt.cr3, 0, 0x1000, ACCESS_READ, true), WALK_OK);
  assert.ok((walker.perms & PERM_NX) !== 0 && (walker.perms & PERM_WRITABLE) === 0);
  // SMEP: supervisor fetch from a user page.
  pt.map(0x3000, 0x201000, 1);
  assert.equal(walker.walk(pt.cr3, 0, 0x3000, ACCESS_EXEC, false), FAULT_PROTECTION);
  assert.equal(walker.walk(pt.cr3, 0, 0x3000, ACCESS_EXEC, true), WALK_OK);
  // Supervisor-only page refuses user access.
  pt.map(0x4000, 0x202000, 1, { user: false });
  assert.equal(walker.walk(pt.cr3, 0, 0x4000, ACCESS_READ, true), FAULT_PROTECTION);
  assert.equal(walker.walk(pt.cr3, 0, 0x4000, ACCESS_READ, false), WALK_OK);
  // Reserved: a frame above MAXPHYADDR, PS in a PML4E, a misaligned 2 MiB frame.
  const words = new Int32Array(ram.buffer);
  writePte(words, pt.entryPaddr(0x5000, 1), makePteLo(0x203000, PTE_PRESENT), makePteHi(2 ** 50, 0));
  assert.equal(walker.walk(pt.cr3, 0, 0x5000, ACCESS_READ, false), FAULT_RESERVED);
  // Bit 12 of a huge entry is PAT, not a frame bit: 0x201000 with PS maps frame 0x200000.
  writePte(words, pt.entryPaddr(0x800000, 2), makePteLo(0x201000, PTE_PRESENT | PTE_HUGE), 0);
  assert.equal(walker.walk(pt.cr3, 0, 0x800000, ACCESS_READ, false), WALK_OK);
  assert.equal(walker.frame, 0x200000);
  writePte(words, pt.entryPaddr(0x600000, 2), makePteLo(0x202000, PTE_PRESENT | PTE_HUGE), 0);
  assert.equal(walker.walk(pt.cr3, 0, 0x600000, ACCESS_READ, false), FAULT_RESERVED);
  writePte(words, pt.entryPaddr(2 ** 46, 4), makePteLo(0, PTE_PRESENT | PTE_HUGE), 0);
  assert.equal(walker.walk(pt.cr3, 0, 2 ** 46, ACCESS_READ, false), FAULT_RESERVED);
  assert.equal(walker.faultLevel, 4);
  const noGb = new PageWalker(ram, { gbPages: false });
  pt.map(0x80_0000_0000, 0, 3);
  assert.equal(noGb.walk(pt.cr3, 0, 0x80_0000_0000, ACCESS_READ, false), FAULT_RESERVED);
});

test('page-fault error codes follow SDM §4.7', () => {
  assert.equal(faultErrorCode(FAULT_NOT_PRESENT, ACCESS_READ, false), 0);
  assert.equal(faultErrorCode(FAULT_NOT_PRESENT, ACCESS_WRITE, true), PF_ERR_WRITE | PF_ERR_USER);
  assert.equal(faultErrorCode(FAULT_PROTECTION, ACCESS_EXEC, true), PF_ERR_PRESENT | PF_ERR_FETCH | PF_ERR_USER);
  assert.equal(faultErrorCode(FAULT_RESERVED, ACCESS_READ, false), PF_ERR_PRESENT | PF_ERR_RESERVED);
});

test('rights combine over every level (SDM §4.6): R/W and U/S ANDed, XD ORed, each upper level on its own; a misaligned 1 GiB frame is reserved', () => {
  const ram = Ram.create({ sizeBytes: '8MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x40000);
  const walker = new PageWalker(ram, { smep: true });
  const words = new Int32Array(ram.buffer);
  const v = 0x9000;
  pt.map(v, 0x205000, 1); // user, writable, executable at every level
  const walk = (access: number, user: boolean): number => walker.walk(pt.cr3, 0, v, access, user);
  for (const level of [4, 3, 2] as const) {
    const at = pt.entryPaddr(v, level);
    const [lo, hi] = ram.u32(at, 2) as unknown as [number, number];
    const set = (newLo: number, newHi: number): void => writePte(words, at, newLo >>> 0, newHi >>> 0);
    set(lo & ~PTE_WRITABLE, hi);
    assert.deepEqual([walk(ACCESS_WRITE, true), walk(ACCESS_WRITE, false), walk(ACCESS_READ, true)], [FAULT_PROTECTION, FAULT_PROTECTION, WALK_OK], `R/W clear at level ${level}`);
    set(lo & ~PTE_USER, hi);
    assert.deepEqual([walk(ACCESS_READ, true), walk(ACCESS_READ, false)], [FAULT_PROTECTION, WALK_OK], `U/S clear at level ${level}`);
    set(lo, hi | PTE_HI_NX);
    assert.deepEqual([walk(ACCESS_EXEC, true), walk(ACCESS_READ, true)], [FAULT_PROTECTION, WALK_OK], `XD set at level ${level}`);
    set(lo, hi);
    assert.deepEqual([walk(ACCESS_WRITE, true), walk(ACCESS_EXEC, true)], [WALK_OK, WALK_OK], `level ${level} restored`);
  }
  // A 1 GiB leaf's frame must be 1 GiB-aligned (bits 29:13 reserved).
  writePte(words, pt.entryPaddr(0x40_0000_0000, 3), makePteLo(0x200000, PTE_PRESENT | PTE_HUGE), 0);
  assert.equal(walker.walk(pt.cr3, 0, 0x40_0000_0000, ACCESS_READ, false), FAULT_RESERVED);
  assert.equal(walker.faultLevel, 3);
});

// Speed devices that must never change a result: the TLB's int32 LRU stamps (renumbered at
// STAMP_LIMIT) and recency rings (the victim a fill takes is the stamp scan's), the CPU's shortcut hints (checked against the L1 array and the current mode's
// rights), and the walker's int32 address arithmetic for RAM ≤ 2 GiB (a table pointer outside RAM
// still fails as one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu } from '../../src/machine/cpu.ts';
import { ACCESS_READ, PERM_GLOBAL, PERM_WRITABLE, PageFaultError, PageWalker, WALK_OK } from '../../src/machine/mmu.ts';
import { PhysicalAddressError } from '../../src/machine/ram.ts';
import { PTE_PRESENT, PTE_USER, PTE_WRITABLE, makePteHi, makePteLo, pteIndex, writePte } from '../../src/machine/pte.ts';
import { STAMP_LIMIT, Tlb, TlbArray, lruVictim } from '../../src/machine/tlb.ts';
import { skylake, zen3, type TlbPreset } from '../../src/machine/tlb-presets.ts';
import { Prng } from '../../src/util/prng.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';

function arraysOf(tlb: Tlb): TlbArray[] {
  return [...tlb.l1, ...tlb.l2, ...(tlb.walkCaches?.arrays ?? [])];
}

/** One step of a seeded trace: a lookup, and a fill (4 KiB, 2 MiB or global) when it missed. */
function step(tlb: Tlb, prng: Prng): void {
  const r = prng.int(100);
  const shift = r < 80 ? 12 : 21;
  const vaddr = prng.int(r < 50 ? 300 : 6000) * 2 ** shift;
  const pcid = 1 + prng.int(2);
  if (tlb.lookup(vaddr, pcid) === 0) tlb.fill(vaddr, pcid, 0x1000 * prng.int(1000), shift, r % 7 === 0 ? PERM_GLOBAL : PERM_WRITABLE, prng.int(2) === 0);
  if (r === 99) tlb.invlpg(vaddr, pcid);
}

function sameEntries(a: Tlb, b: Tlb, when: string): void {
  const x = arraysOf(a);
  const y = arraysOf(b);
  for (let k = 0; k < x.length; k++) {
    assert.deepEqual([...x[k]!.tags], [...y[k]!.tags], `${x[k]!.spec.name} ${when}`);
    assert.deepEqual(x[k]!.counters, y[k]!.counters, `${x[k]!.spec.name} counters ${when}`);
  }
}

for (const [name, preset] of [
  ['skylake', () => skylake(true)],
  ['zen3', () => zen3()],
] as [string, () => TlbPreset][]) {
  test(`${name}: renumbering the stamps (as at STAMP_LIMIT) changes no victim`, () => {
    const plain = new Tlb(preset().tlb);
    const renumbered = new Tlb(preset().tlb);
    const p1 = new Prng(7);
    const p2 = new Prng(7);
    for (let i = 0; i < 20_000; i++) {
      step(plain, p1);
      step(renumbered, p2);
      if (i % 97 === 0) for (const array of arraysOf(renumbered)) array.renumberStamps();
      if (i % 1000 === 0) sameEntries(plain, renumbered, `after step ${i}`);
    }
    sameEntries(plain, renumbered, 'at the end');
    for (const array of arraysOf(renumbered)) array.renumberStamps();
    renumbered.validate();
    for (const array of arraysOf(renumbered)) assert.ok(array.clock < array.spec.ways, `${array.spec.name}: clock ${array.clock} after renumbering`);
  });

  test(`${name}: a clock that reaches STAMP_LIMIT renumbers by itself, with the same victims`, () => {
    const plain = new Tlb(preset().tlb);
    const late = new Tlb(preset().tlb);
    const p1 = new Prng(11);
    const p2 = new Prng(11);
    for (let i = 0; i < 2000; i++) {
      step(plain, p1);
      step(late, p2);
    }
    // Moving a clock forward keeps every set's order (the next stamps are still the largest).
    for (const array of arraysOf(late)) array.clock = STAMP_LIMIT - 50;
    for (let i = 0; i < 5000; i++) {
      step(plain, p1);
      step(late, p2);
    }
    sameEntries(plain, late, 'after passing the limit');
    late.validate();
    const used = [late.l1[0]!, late.l2[0]!];
    assert.ok(used.every((a) => a.clock < STAMP_LIMIT - 50), 'the busy arrays renumbered');
  });
}

for (const [entries, ways] of [
  [64, 4],
  [1536, 12],
  [48, 48],
  [8, 1],
] as const) {
  test(`a ${entries}-entry ${ways}-way array: every fill replaces the way the stamp scan picks (LRU by the recency ring, through uses, drops, flushes and renumbering)`, () => {
    const array = new TlbArray({ name: `t${entries}x${ways}`, entries, ways, pageShifts: [12, 21] });
    const prng = new Prng(entries + ways);
    // Few enough pages per set that uses (hits) are common, which is what sends a ring's used head back.
    const pages = 3 * entries;
    let slowFills = 0;
    for (let step = 0; step < 40_000; step++) {
      const r = prng.int(1000);
      const vaddr = prng.int(pages) * 4096;
      const pcid = 1 + prng.int(2);
      if (r < 3) array.invalidateAddress(vaddr, pcid);
      else if (r < 4) array.invalidateWhere(pcid, prng.int(2) === 0);
      else if (r < 5) array.renumberStamps();
      else if (!array.probe(vaddr, pcid)) {
        const set = (vaddr / 4096) & array.setMask;
        const expected = lruVictim(array.stamps, set * ways, ways);
        const head = array.lruOrder[set * ways + array.lruHeads[set]!]! + set * ways;
        if (array.stamps[head] !== array.lruPlaced[head]) slowFills++;
        const index = array.insertAbsent(vaddr, pcid, 0x1000, 12, r % 9 === 0 ? PERM_GLOBAL : PERM_WRITABLE);
        assert.equal(index, expected, `step ${step}: the fill of set ${set} took entry ${index}, the stamp scan says ${expected}`);
      }
      if (step % 4000 === 0) array.validate();
    }
    array.validate();
    if (ways > 1) assert.ok(slowFills > 100, `${slowFills} fills met a used or marked head: the trace must exercise the ring's slow path`);
  });
}

function userPageCpu(smap: boolean): { cpu: Cpu; ram: Ram } {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  pt.map(0x1000, 0x200000, 1, { user: true, writable: true });
  pt.map(0x2000, 0x201000, 1, { user: false, writable: false });
  const cpu = new Cpu(ram, { preset: skylake(), walker: { smap } });
  cpu.setCr3(pt.cr3, 1);
  return { cpu, ram };
}

test('the shortcut checks rights in the current mode: SMAP refuses a supervisor read of a user page cached by a user read', () => {
  const { cpu } = userPageCpu(true);
  cpu.setUser(true);
  assert.equal(cpu.loadMany(Float64Array.of(0x1000, 0x1004)), 0);
  cpu.setUser(false);
  assert.throws(() => cpu.loadMany(Float64Array.of(0x1008)), PageFaultError);
  assert.throws(() => cpu.load32(0x100c), PageFaultError);
  // Without SMAP the supervisor may read it, through the same cached entry (no walk).
  const open = userPageCpu(false).cpu;
  open.load32(0x1000);
  open.setUser(false);
  const walks = open.stats().walks;
  open.loadMany(Float64Array.of(0x1008, 0x100c));
  assert.equal(open.stats().walks, walks);
  // A user access to a supervisor page cached by a supervisor read faults.
  open.load32(0x2000);
  open.setUser(true);
  assert.throws(() => open.loadMany(Float64Array.of(0x2004)), PageFaultError);
});

test('the shortcut serves a store only when the cached entry is writable and dirty', () => {
  const { cpu, ram } = userPageCpu(false);
  cpu.load32(0x1000); // cached clean: the first store must walk to set D
  const walks = cpu.stats().walks;
  cpu.store32(0x1004, 0xabcd);
  assert.equal(cpu.stats().walks, walks + 1);
  cpu.store32(0x1008, 0x1234);
  assert.equal(cpu.stats().walks, walks + 1, 'now dirty: served from the TLB');
  assert.equal(new Uint32Array(ram.buffer)[(0x200000 + 8) / 4], 0x1234);
  cpu.setUser(false);
  cpu.load32(0x2000);
  assert.throws(() => cpu.store32(0x2004, 1), PageFaultError, 'read-only even for the supervisor (CR0.WP)');
});

test('the walker with RAM ≤ 2 GiB: a next-table pointer at 2 GiB or above 4 GiB is outside RAM, a typed error; one inside walks', () => {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  pt.map(0x40_0000_0000, 0x200000, 1);
  const walker = new PageWalker(ram);
  assert.equal(walker.walk(pt.cr3, 1, 0x40_0000_0000, ACCESS_READ, true), WALK_OK);
  assert.equal(walker.frame, 0x200000);
  const pml4e = pt.cr3 + pteIndex(0x40_0000_0000, 4) * 8;
  const flags = PTE_PRESENT | PTE_WRITABLE | PTE_USER;
  for (const table of [0x8000_0000, 0xffff_f000, 0x1_0000_0000, 0x3_0000_0000]) {
    writePte(pt.words, pml4e, makePteLo(table, flags), makePteHi(table, 0));
    assert.throws(() => walker.walk(pt.cr3, 1, 0x40_0000_0000, ACCESS_READ, true), PhysicalAddressError, `table at 0x${table.toString(16)}`);
  }
});

test('loadMany inside a fault handler during loadMany: both sums right (the shortcut keeps no run state across a slow load)', () => {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  const u32 = new Uint32Array(ram.buffer);
  for (let p = 0; p < 4; p++) {
    pt.map(p * 4096, 0x200000 + p * 4096, 1);
    u32[(0x200000 + p * 4096) / 4] = 1000 * (p + 1);
  }
  u32[0x300000 / 4] = 7;
  const cpu = new Cpu(ram, { preset: skylake() });
  cpu.setCr3(pt.cr3, 1);
  let inner = -1;
  cpu.setFaultHandler((fault) => {
    inner = cpu.loadMany(Float64Array.of(0x2000, 0x3000, 0x2000));
    pt.map(fault.vaddr - (fault.vaddr % 4096), 0x300000, 1);
    return 'retry';
  });
  const outer = cpu.loadMany(Float64Array.of(0, 0x1000, 0, 0x1000, 0x9000, 0, 0x1000));
  assert.equal(inner, 3000 + 4000 + 3000);
  assert.equal(outer, 1000 + 2000 + 1000 + 2000 + 7 + 1000 + 2000);
  cpu.validate();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu } from '../../src/machine/cpu.ts';
import { PERM_GLOBAL, PERM_WRITABLE } from '../../src/machine/mmu.ts';
import { Tlb, TlbArray } from '../../src/machine/tlb.ts';
import { fullyAssociative, skylake, zen3, type TlbPreset } from '../../src/machine/tlb-presets.ts';
import { Prng } from '../../src/util/prng.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';
import { ArgumentError } from '../../src/util/errors.ts';

/** A CPU over `pages` 4 KiB pages at vaddr 0, all mapped to one shared frame (TLB behaviour depends
 *  on virtual pages only, and the walk still reads a real PTE per page). */
function cpuOver(preset: TlbPreset, pages: number, pageLevel: 1 | 2 = 1): Cpu {
  const ram = Ram.create({ sizeBytes: '8MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x400000);
  const size = pageLevel === 1 ? 4096 : 2 << 20;
  for (let p = 0; p < pages; p++) pt.map(p * size, pageLevel === 1 ? 0x400000 : 0x400000, pageLevel);
  const cpu = new Cpu(ram, { preset });
  cpu.setCr3(pt.cr3, 1);
  return cpu;
}

test('uniform random access over N pages with a fully associative LRU TLB of E entries misses at 1 − E/N (within 1 %)', () => {
  for (const [entries, pages] of [
    [64, 256],
    [64, 1024],
    [256, 512],
  ] as const) {
    const cpu = cpuOver(fullyAssociative(entries), pages);
    const prng = new Prng(entries * 7 + pages);
    for (let i = 0; i < 4 * entries; i++) cpu.load32(prng.int(pages) * 4096);
    const before = cpu.stats().tlb.counters;
    const n = 60_000;
    for (let i = 0; i < n; i++) cpu.load32(prng.int(pages) * 4096 + 4 * prng.int(1024));
    const after = cpu.stats().tlb.counters;
    const missRate = (after.l1Misses - before.l1Misses) / n;
    const expected = 1 - entries / pages;
    assert.ok(Math.abs(missRate - expected) < 0.01, `E=${entries} N=${pages}: miss rate ${missRate.toFixed(4)}, expected ${expected.toFixed(4)} ± 0.01`);
  }
});

test('sequential access misses once per page, for every preset and for 2 MiB pages', () => {
  for (const preset of [fullyAssociative(64), skylake(), zen3(), skylake(true)]) {
    const cpu = cpuOver(preset, 600);
    for (let v = 0; v < 600 * 4096; v += 64) cpu.load32(v);
    const s = cpu.stats();
    assert.equal(s.walks, 600, preset.name);
    assert.equal(s.tlb.counters.l1Misses, 600, preset.name);
    assert.equal(s.accesses, 600 * 64, preset.name);
    cpu.validate();
  }
  const huge = cpuOver(skylake(), 3, 2);
  for (let v = 0; v < 3 * (2 << 20); v += 4096) huge.load32(v);
  assert.equal(huge.stats().walks, 3);
});

/** Fills `tlb` by hand with the translations of 4 KiB page numbers `vpns` (a miss then a fill). */
function touch(tlb: Tlb, vpns: number[], shift = 12): void {
  for (const vpn of vpns) {
    const vaddr = vpn * 2 ** shift;
    if (tlb.lookup(vaddr, 1) === 0) tlb.fill(vaddr, 1, 0x1000 * (vpn % 100), shift, PERM_WRITABLE);
  }
}

function holds(array: TlbArray, vpn: number, shift = 12): boolean {
  return array.find(vpn, shift, 1) >= 0;
}

test('Skylake: L1 4K is 16 sets × 4 ways with LRU, L1 2M 8 × 4, STLB 128 sets × 12 ways (hand-computed traces)', () => {
  const tlb = new Tlb(skylake().tlb);
  const [l1k, l1m] = tlb.l1 as [TlbArray, TlbArray];
  const stlb = tlb.l2[0]!;
  assert.deepEqual([l1k.sets, l1k.ways, l1m.sets, l1m.ways, stlb.sets, stlb.ways], [16, 4, 8, 4, 128, 12]);
  // Pages 0, 16, 32, 48 share L1 set 0; 64 evicts the least recently used (0).
  touch(tlb, [0, 16, 32, 48]);
  touch(tlb, [0]); // 0 becomes most recent: LRU order is now 16, 32, 48, 0
  touch(tlb, [64]);
  assert.ok(!holds(l1k, 16) && holds(l1k, 0) && holds(l1k, 32) && holds(l1k, 64));
  // A different set is untouched: page 1 lives in set 1.
  touch(tlb, [1]);
  assert.ok(holds(l1k, 1) && holds(l1k, 48));
  // The STLB kept 16 (128 sets: 0, 16, 32, 48, 64 are in different sets 0, 16, 32, 48, 64).
  assert.ok(holds(stlb, 16));
  assert.equal(tlb.lookup(16 * 4096, 1), 2, 'an L1 miss served by the STLB');
  // STLB set 0: pages 0, 128, …, 12·128 — 13 pages in a 12-way set: the first one goes.
  const t2 = new Tlb(skylake().tlb);
  touch(t2, Array.from({ length: 13 }, (_, k) => k * 128));
  assert.ok(!holds(t2.l2[0]!, 0) && holds(t2.l2[0]!, 128) && holds(t2.l2[0]!, 12 * 128));
  // 2 MiB pages go to the 2M array (and the shared STLB): keys 0, 8, 16, 24 fill 2M set 0; 32 evicts 0.
  const t3 = new Tlb(skylake().tlb);
  touch(t3, [0, 8, 16, 24, 32], 21);
  const m = t3.l1[1]!;
  assert.ok(!holds(m, 0, 21) && holds(m, 8, 21) && holds(m, 32, 21));
  assert.ok(holds(t3.l2[0]!, 0, 21), 'the STLB holds 2 MiB translations too');
  assert.equal(t3.l1[0]!.validEntries(), 0, 'no 2 MiB translation in the 4K array');
  tlb.validate();
});

test('Zen 3: one fully associative L1 of 64 for all sizes; L2 modelled as 128 sets × 16 ways', () => {
  const tlb = new Tlb(zen3().tlb);
  const l1 = tlb.l1[0]!;
  assert.deepEqual([l1.sets, l1.ways, tlb.l2[0]!.sets, tlb.l2[0]!.ways], [1, 64, 128, 16]);
  touch(tlb, Array.from({ length: 64 }, (_, k) => k));
  touch(tlb, [0]);
  touch(tlb, [1000], 21); // a 2 MiB page in the same array evicts the LRU 4 KiB one (page 1)
  assert.ok(!holds(l1, 1) && holds(l1, 0) && holds(l1, 1000, 21));
  const t2 = new Tlb(zen3().tlb);
  touch(t2, Array.from({ length: 17 }, (_, k) => k * 128));
  assert.ok(!holds(t2.l2[0]!, 0) && holds(t2.l2[0]!, 128));
  // 1 GiB pages are cached in L1 but not in L2.
  touch(t2, [3], 30);
  assert.ok(holds(t2.l1[0]!, 3, 30) && !holds(t2.l2[0]!, 3, 30));
});

test('invalidation: invlpg drops one address of one PCID plus globals; flushPcid keeps globals and other PCIDs', () => {
  const tlb = new Tlb(zen3().tlb);
  tlb.fill(0x1000, 1, 0x5000, 12, PERM_WRITABLE);
  tlb.fill(0x1000, 2, 0x6000, 12, PERM_WRITABLE);
  tlb.fill(0x2000, 1, 0x7000, 12, PERM_WRITABLE | PERM_GLOBAL);
  assert.equal(tlb.lookup(0x2000, 9), 1, 'a global entry matches every PCID');
  tlb.invlpg(0x1000, 1);
  assert.equal(tlb.lookup(0x1000, 1), 0);
  assert.equal(tlb.lookup(0x1000, 2), 1);
  tlb.flushPcid(2);
  assert.equal(tlb.lookup(0x1000, 2), 0);
  assert.equal(tlb.lookup(0x2000, 2), 1);
  tlb.flushAll(true);
  assert.equal(tlb.lookup(0x2000, 2), 1);
  tlb.flushAll(false);
  assert.equal(tlb.lookup(0x2000, 2), 0);
  tlb.validate();
  assert.throws(() => new TlbArray({ name: 'bad', entries: 10, ways: 4, pageShifts: [12] }), ArgumentError);
});

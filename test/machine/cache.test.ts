import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { MemorySystem, MemType } from '../../src/machine/cache.ts';
import type { CachePreset } from '../../src/machine/cache-presets.ts';

function system(preset: 'skylake' | 'skylake-server' | 'zen3', cpus = 1): MemorySystem {
  return new MemorySystem(Ram.create({ sizeBytes: '4MiB' }), { preset, cpus });
}

// Hand-computed: lines k·stride for k = 0..8, then line 0 again. Every such line maps to one L1 set
// (64 sets of 8 ways: stride 4 KiB or 64 KiB), so the 10th access finds line 0 evicted by LRU.
// With a 64 KiB stride the lines also share one L2 set (1024 sets in every preset): Skylake's 4-way
// and Zen 3's 8-way L2 lose line 0, Skylake server's 16-way keeps it. L3 (8192 or 32768 sets) puts
// each line in its own set and keeps it.
const TRACES = [
  { preset: 'skylake', strideBytes: 4096, l1: [0, 10], l2: [1, 9], l3: [0, 9], cycles: 9 * 250 + 12 },
  { preset: 'skylake-server', strideBytes: 4096, l1: [0, 10], l2: [1, 9], l3: null, cycles: 9 * 250 + 14 },
  { preset: 'zen3', strideBytes: 4096, l1: [0, 10], l2: [1, 9], l3: [0, 9], cycles: 9 * 250 + 12 },
  { preset: 'skylake', strideBytes: 65536, l1: [0, 10], l2: [0, 10], l3: [1, 9], cycles: 9 * 250 + 42 },
  { preset: 'skylake-server', strideBytes: 65536, l1: [0, 10], l2: [1, 9], l3: null, cycles: 9 * 250 + 14 },
  { preset: 'zen3', strideBytes: 65536, l1: [0, 10], l2: [0, 10], l3: [1, 9], cycles: 9 * 250 + 46 },
] as const;

for (const t of TRACES) {
  test(`cache: ${t.preset}, 9 lines ${t.strideBytes} bytes apart then the first again: counts as hand-computed`, () => {
    const mem = system(t.preset);
    const cpu = mem.cpu(0);
    for (let k = 0; k <= 8; k++) cpu.load(k * t.strideBytes, 4);
    cpu.load(0, 4);
    const s = mem.stats();
    const [l1, l2] = s.cpus[0]?.levels ?? [];
    assert.deepEqual([l1?.hits, l1?.misses], t.l1);
    assert.deepEqual([l2?.hits, l2?.misses], t.l2);
    assert.deepEqual(s.shared === null ? null : [s.shared.hits, s.shared.misses], t.l3);
    assert.equal(cpu.cycles, t.cycles);
    mem.validate();
  });
}

test('cache: sequential 4-byte loads over 4 lines: 4 misses, 60 hits, 4·250 + 60·4 cycles', () => {
  for (const preset of ['skylake', 'skylake-server', 'zen3'] as const) {
    const mem = system(preset);
    const cpu = mem.cpu(0);
    for (let a = 0; a < 256; a += 4) cpu.load(a, 4);
    const l1 = mem.stats().cpus[0]?.levels[0];
    assert.deepEqual([l1?.hits, l1?.misses], [60, 4], preset);
    assert.equal(cpu.cycles, 4 * 250 + 60 * 4, preset);
  }
});

test('cache: a tiny 2-set 2-way L1 over a 4-set 2-way L2 follows LRU and writes dirty victims down (hand trace)', () => {
  const tiny: CachePreset = {
    name: 'tiny',
    private: [
      { name: 'L1D', sizeBytes: 256, ways: 2, lineBytes: 64, hitCycles: 1 },
      { name: 'L2', sizeBytes: 512, ways: 2, lineBytes: 64, hitCycles: 10 },
    ],
    shared: null,
    costs: { ramCycles: 100, wcStoreCycles: 1, busWriteCycles: 20, maintenanceCyclesPerLine: 2 },
    wcBuffers: 1,
    source: 'test',
  };
  const mem = new MemorySystem(Ram.create({ sizeBytes: '1MiB' }), { preset: tiny });
  const cpu = mem.cpu(0);
  // Lines 0, 2, 4 share L1 set 0; in L2, lines 0 and 4 share set 0, line 2 is in set 2.
  cpu.store(0, 4, 0x11111111); // L1 miss, L2 miss, RAM: 100
  cpu.load(128, 4); // line 2: miss, miss: 100
  cpu.load(256, 4); // line 4: L1 evicts line 0 (LRU, dirty) into L2; miss, miss: 100
  cpu.load(0, 4); // line 0: L1 miss (evicts line 2, clean), L2 hit (dirty copy): 10
  const [l1, l2] = mem.stats().cpus[0]?.levels ?? [];
  assert.deepEqual([l1?.hits, l1?.misses, l1?.evictions, l1?.writebacks], [0, 4, 2, 1]);
  assert.deepEqual([l2?.hits, l2?.misses], [1, 3]);
  assert.equal(cpu.cycles, 310);
  assert.equal(cpu.load(0, 4), 0x11111111);
  assert.equal(mem.ram.u32(0, 1)[0], 0, 'the store is still only in the caches');
  const clean = mem.cleanRange(0, 64);
  assert.deepEqual([clean.lines, clean.writebacks], [1, 1]);
  assert.equal(mem.ram.u32(0, 1)[0], 0x11111111);
  assert.equal(mem.cleanRange(0, 64).writebacks, 0, 'a clean line is not written twice');
  mem.validate();
});

test('cache: a hit returns the cached bytes, so a line the device overwrote in RAM reads stale until invalidated', () => {
  const mem = system('skylake');
  const cpu = mem.cpu(0);
  mem.ram.u32(4096, 1)[0] = 1;
  assert.equal(cpu.load(4096, 4), 1);
  mem.ram.u32(4096, 1)[0] = 2; // a non-coherent device writes RAM behind the cache
  assert.equal(cpu.load(4096, 4), 1, 'stale');
  const inv = mem.invalidateRange(4096, 4);
  assert.equal(inv.invalidated, 3, 'L1, L2 and L3 copies dropped');
  assert.equal(cpu.load(4096, 4), 2);
});

test('cache: invalidating a dirty line loses its bytes; flushing writes them back first', () => {
  const mem = system('zen3');
  const cpu = mem.cpu(0);
  cpu.store(64, 4, 7);
  mem.invalidateRange(64, 64);
  assert.equal(cpu.load(64, 4), 0);
  assert.equal(mem.stats().cpus[0]?.levels[0]?.dirtyDiscarded, 1);
  cpu.store(64, 4, 8);
  mem.flushRange(64, 64);
  assert.equal(mem.ram.u32(64, 1)[0], 8);
  assert.equal(mem.stats().cpus[0]?.levels[0]?.validLines, 0);
});

test('cache: unaligned and line-crossing accesses, bytes in and out', () => {
  const mem = system('skylake');
  const cpu = mem.cpu(0);
  cpu.store(62, 4, 0xaabbccdd);
  assert.equal(cpu.load(62, 4), 0xaabbccdd | 0, 'a 4-byte load is the signed word');
  assert.equal(cpu.load(64, 4) >>> 0, 0xaabb);
  assert.equal(cpu.load(63, 2), 0xbbcc);
  const src = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  cpu.writeBytes(1000, src);
  const dst = new Uint8Array(300);
  cpu.readBytes(1000, dst);
  assert.deepEqual(dst, src);
  assert.notDeepEqual(mem.ram.u8(1000, 300), src);
  mem.cleanRange(1000, 300);
  assert.deepEqual(mem.ram.u8(1000, 300), src);
  assert.throws(() => cpu.load(4 << 20, 4), /outside RAM/);
  assert.throws(() => cpu.load(0, 3 as 4), /expected 1, 2 or 4/);
});

test('cache: two CPUs stay coherent: a store drops the other copy, a miss fetches the other dirty copy', () => {
  const mem = system('skylake', 2);
  const [a, b] = [mem.cpu(0), mem.cpu(1)];
  a.load(0, 4);
  b.load(0, 4);
  a.store(0, 4, 5);
  mem.validate();
  assert.equal(b.load(0, 4), 5);
  b.store(0, 4, 6);
  assert.equal(a.load(0, 4), 6);
  mem.validate();
});

test('cache: uncached accesses bypass the caches at RAM latency; WC stores wait in a buffer until full or fenced', () => {
  const mem = system('skylake');
  const cpu = mem.cpu(0);
  cpu.store(0, 4, 9, MemType.Uncached);
  assert.equal(mem.ram.u32(0, 1)[0], 9);
  assert.equal(cpu.load(0, 4, MemType.Uncached), 9);
  assert.equal(cpu.cycles, 500);
  assert.equal(mem.stats().cpus[0]?.levels[0]?.validLines, 0);
  cpu.store(4096, 4, 3, MemType.WriteCombining);
  assert.equal(mem.ram.u32(4096, 1)[0], 0, 'still in the WC buffer');
  assert.equal(cpu.wcPendingLines, 1);
  cpu.fence();
  assert.equal(mem.ram.u32(4096, 1)[0], 3);
  for (let a = 8192; a < 8192 + 64; a += 4) cpu.store(a, 4, a, MemType.WriteCombining);
  assert.equal(mem.ram.u32(8192 + 60, 1)[0], 8192 + 60, 'a full WC buffer goes out by itself');
  const s = mem.stats().cpus[0];
  assert.deepEqual([s?.wcFlushes, s?.wcPartialFlushes], [2, 1]);
});

test('cache: a coherent device write drops cached copies but keeps the bytes of a partly covered dirty line', () => {
  const mem = system('skylake');
  const cpu = mem.cpu(0);
  cpu.store(0, 4, 0x01020304);
  cpu.store(60, 4, 0x0a0b0c0d);
  const r = mem.snoopForDeviceWrite(32, 64);
  assert.equal(r.lines, 2);
  mem.ram.u8(32, 64).fill(0xee);
  assert.equal(cpu.load(0, 4), 0x01020304, 'written back before the drop');
  assert.equal(cpu.load(60, 4), 0xeeeeeeee | 0);
});

test('cache: read/write, the port the CPU model calls (vm-machine cpu.ts), read unsigned words', () => {
  const mem = system('skylake');
  const port: { read(paddr: number, sizeBytes: 1 | 2 | 4): number; write(paddr: number, sizeBytes: 1 | 2 | 4, value: number): void } = mem.cpu(0);
  port.write(128, 4, 0xfedcba98);
  assert.equal(port.read(128, 4), 0xfedcba98);
  assert.equal(port.read(131, 1), 0xfe);
  assert.equal(mem.ram.u32(128, 1)[0], 0, 'written back only on eviction or clean');
});

test('cache: validate() finds a line dirty in one CPU and held by another, and a line held twice in a set', () => {
  const mem = system('skylake', 2);
  mem.cpu(0).store(0, 4, 1);
  mem.validate();
  const other = mem.cpu(1).privateLevels[0];
  assert.ok(other !== undefined);
  other.tags[0] = 0; // cpu 1's L1 now claims line 0 as well, behind the protocol's back
  assert.throws(() => mem.validate(), /dirty in cpu 0 L1D and also held by cpu 1/);
  other.tags[1] = 0;
  assert.throws(() => other.validate(), /held twice/);
});

test('cache: a WC buffer empties when another line needs it, when its line is loaded, and before any uncached access', () => {
  const mem = system('skylake'); // 10 WC buffers
  const cpu = mem.cpu(0);
  for (let k = 0; k < 10; k++) cpu.store(k * 64, 4, k + 1, MemType.WriteCombining);
  assert.equal(mem.ram.u32(0, 1)[0], 0);
  cpu.store(10 * 64, 4, 11, MemType.WriteCombining); // an 11th line: the oldest buffer goes out
  assert.equal(mem.ram.u32(0, 1)[0], 1);
  assert.equal(mem.ram.u32(64, 1)[0], 0);
  assert.equal(cpu.load(64, 4, MemType.WriteCombining), 2, 'a WC load of a buffered line sees the store');
  assert.equal(mem.ram.u32(64, 1)[0], 2);
  assert.equal(mem.ram.u32(128, 1)[0], 0);
  cpu.load(1 << 20, 4, MemType.Uncached);
  assert.equal(mem.ram.u32(128, 1)[0], 3, 'an uncached access drained the rest');
  assert.equal(cpu.wcPendingLines, 0);
});

test('cache: lines that share a way hint and a set still hit, miss and read their own bytes as LRU says (hand trace)', () => {
  // L1: 2 sets × 2 ways, so 8 hint entries: lines 0, 8 and 16 share set 0 and hint entry 0. A hint
  // naming another line's way must fall back to the search, and a dropped line must never hit.
  const tiny: CachePreset = {
    name: 'tiny',
    private: [{ name: 'L1D', sizeBytes: 256, ways: 2, lineBytes: 64, hitCycles: 1 }],
    shared: null,
    costs: { ramCycles: 100, wcStoreCycles: 1, busWriteCycles: 20, maintenanceCyclesPerLine: 2 },
    wcBuffers: 1,
    source: 'test',
  };
  const mem = new MemorySystem(Ram.create({ sizeBytes: '4MiB' }), { preset: tiny });
  const cpu = mem.cpu(0);
  const at = (line: number): number => line * 64;
  cpu.store(at(0), 4, 100); // miss
  cpu.store(at(8), 4, 108); // miss; the hint now names line 8's way
  assert.equal(cpu.load(at(0), 4), 100); // hit through the search
  cpu.store(at(16), 4, 116); // miss, evicts line 8 (least recent), written back
  assert.equal(cpu.load(at(8), 4), 108); // miss, evicts line 0, written back
  assert.equal(cpu.load(at(16), 4), 116); // hit
  assert.equal(cpu.load(at(0), 4), 100); // miss, evicts line 8 (clean: no write-back)
  mem.invalidateRange(at(16), 64); // line 16 dropped (dirty: its bytes are lost)
  assert.equal(cpu.load(at(16), 4), 0); // miss into the freed way (no eviction): RAM still holds zero
  const l1 = mem.stats().cpus[0]?.levels[0];
  assert.deepEqual([l1?.hits, l1?.misses, l1?.evictions, l1?.writebacks], [2, 6, 3, 2]);
  mem.validate();
});

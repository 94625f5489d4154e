import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { MemorySystem } from '../../src/machine/cache.ts';
import type { CachePreset, CachePresetName } from '../../src/machine/cache-presets.ts';
import { Prng } from '../../src/util/prng.ts';

// load() and store() of an aligned word that L1's way hint finds take a fast path that counts the
// load or store, the hit and its cycles through the ticks of L1's LRU clock (cache.ts,
// cache-level.ts). readBytes/writeBytes of the same word take the general path, which counts each
// one. The same seeded sequence through both must leave every count, every byte and every value
// read identical.

/** L1: 2 sets × 2 ways and 8 hint entries, so hints go stale and lines share sets all the time. */
const TINY: CachePreset = {
  name: 'tiny',
  private: [
    { name: 'L1D', sizeBytes: 256, ways: 2, lineBytes: 64, hitCycles: 1 },
    { name: 'L2', sizeBytes: 1024, ways: 2, lineBytes: 64, hitCycles: 10 },
  ],
  shared: { name: 'L3', sizeBytes: 4096, ways: 4, lineBytes: 64, hitCycles: 30 },
  costs: { ramCycles: 100, wcStoreCycles: 1, busWriteCycles: 20, maintenanceCyclesPerLine: 2 },
  wcBuffers: 1,
  source: 'test',
};

interface Run {
  mem: MemorySystem;
  values: number[];
  /** Word loads and stores issued, per CPU (each counts one access). */
  loads: number[];
  stores: number[];
}

function drive(preset: CachePresetName | CachePreset, cpus: number, workingSetBytes: number, wordsBy: 'port' | 'bytes'): Run {
  const mem = new MemorySystem(Ram.create({ sizeBytes: '1MiB' }), { preset, cpus });
  const prng = new Prng(11);
  const values: number[] = [];
  const loads = new Array<number>(cpus).fill(0);
  const stores = new Array<number>(cpus).fill(0);
  const word = new Uint8Array(4);
  const view = new DataView(word.buffer);
  for (let op = 0; op < 20_000; op++) {
    const c = prng.int(cpus);
    const cpu = mem.cpu(c);
    const paddr = prng.int(workingSetBytes / 4) * 4;
    const kind = prng.int(100);
    if (kind < 50) {
      loads[c] = (loads[c] as number) + 1;
      if (wordsBy === 'port') values.push(cpu.load(paddr, 4));
      else {
        cpu.readBytes(paddr, word);
        values.push(view.getInt32(0, true));
      }
    } else if (kind < 90) {
      stores[c] = (stores[c] as number) + 1;
      const value = prng.nextU32();
      if (wordsBy === 'port') cpu.store(paddr, 4, value);
      else {
        view.setUint32(0, value, true);
        cpu.writeBytes(paddr, word);
      }
    } else if (kind < 93) {
      values.push(cpu.load(paddr + 1, 1));
      loads[c] = (loads[c] as number) + 1;
    } else if (kind < 95) {
      cpu.walkRead(paddr & ~7);
    } else if (kind < 97) {
      values.push(cpu.flushRange(paddr, 64).writebacks);
    } else if (kind < 98) {
      values.push(cpu.invalidateRange(paddr, 4).invalidated);
    } else {
      values.push(mem.snoopForDeviceWrite(paddr, 8).invalidated);
    }
  }
  mem.validate();
  return { mem, values, loads, stores };
}

const CASES: { preset: CachePresetName | CachePreset; cpus: number; workingSetBytes: number }[] = [
  { preset: 'skylake', cpus: 1, workingSetBytes: 16 << 10 },
  { preset: 'skylake', cpus: 2, workingSetBytes: 64 << 10 },
  { preset: 'skylake-server', cpus: 1, workingSetBytes: 48 << 10 },
  { preset: 'zen3', cpus: 2, workingSetBytes: 40 << 10 },
  { preset: TINY, cpus: 1, workingSetBytes: 2048 },
  { preset: TINY, cpus: 2, workingSetBytes: 8192 },
];

for (const { preset, cpus, workingSetBytes } of CASES) {
  const name = typeof preset === 'string' ? preset : preset.name;
  test(`cache fast path: ${name}, ${cpus} CPU(s), ${workingSetBytes} B: word loads/stores through the port count and read as through readBytes/writeBytes`, () => {
    const fast = drive(preset, cpus, workingSetBytes, 'port');
    const general = drive(preset, cpus, workingSetBytes, 'bytes');
    assert.deepEqual(fast.values, general.values);
    assert.deepEqual(fast.mem.stats(), general.mem.stats());
    assert.deepEqual(fast.mem.ram.bytes, general.mem.ram.bytes);
    for (let c = 0; c < cpus; c++) {
      const cpu = fast.mem.cpu(c);
      assert.equal(cpu.loads, fast.loads[c], `cpu ${c} loads`);
      assert.equal(cpu.stores, fast.stores[c], `cpu ${c} stores`);
      const l1 = cpu.privateLevels[0];
      assert.ok(l1 !== undefined && l1.readTouchHits > 0 && l1.writeTouchHits > 0, 'the fast path ran for loads and stores');
      const generalL1 = general.mem.cpu(c).privateLevels[0];
      assert.deepEqual([generalL1?.readTouchHits, generalL1?.writeTouchHits], [0, 0], 'readBytes/writeBytes never take it');
    }
  });
}

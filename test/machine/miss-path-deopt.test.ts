// The miss path (src/machine/cpu.ts, makeMissRun) must stay optimized when a load first takes an
// ordinary path that the closure had not run when V8 compiled it. V8 compiles an operation with no
// type feedback as a deoptimization; after one, V8 may keep only on-stack-replaced code for the
// loop and enter it afresh on every call, 2–3.5× slower for the rest of the process
// (docs/benchmarks.md, "A deoptimization at the STLB's first eviction"). The case that bit: the
// STLB's first eviction comes about 1300 loads into a miss-heavy run, after V8 may have compiled
// the closure, and `if (…) evictions2++` deoptimized it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v8Trace } from '../helpers/inlining.ts';

test('cpu: the miss path, optimized before the STLB first evicts, stays optimized when it does', () => {
  const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  // 8192 pages (the STLB holds 1536). First every ordinary path but the STLB's eviction: 200 pages
  // twice in order (walks, L1 fills and evictions, STLB hits; 200 pages over 128 sets of 12 ways
  // fill none), L1 probe hits, L1 victims used since they were placed. Then one synchronous
  // compile of the closure, then batches of random loads over all pages (the STLB starts evicting
  // after a few hundred), the closure's state read after each.
  const script = `Promise.all([import(${url('../../src/machine/ram.ts')}), import(${url('../../src/machine/cpu.ts')}), import(${url('../../src/machine/tlb-presets.ts')}), import(${url('../helpers/page-tables.ts')}), import(${url('../../src/util/prng.ts')})]).then(([r, c, p, t, g]) => {
    const PAGES = 8192, DATA = 4 << 20;
    const ram = r.Ram.create({ sizeBytes: DATA + PAGES * 4096 });
    const pt = new t.PageTableBuilder(ram, 1 << 20, DATA);
    pt.mapRange(0, DATA, PAGES * 4096, 1);
    const cpu = new c.Cpu(ram, { preset: p.skylake() });
    cpu.setCr3(pt.cr3, 1);
    const missRun = cpu.missRun;
    const stlb = () => cpu.stats().tlb.arrays.find((a) => a.name.startsWith('STLB 4K'));
    const optimized = () => (%GetOptimizationStatus(missRun) & 16) !== 0;
    %PrepareFunctionForOptimization(missRun);
    const warm = Array.from({ length: 400 }, (_, i) => (i % 200) * 4096 + 8);
    // Pages 4096 apart share a shortcut slot (SHORTCUT_SLOTS) and an L1 set: alternated, each load
    // misses the shortcut and hits the L1 probe.
    for (let k = 0; k < 8; k++) warm.push(300 * 4096, (300 + 4096) * 4096 + 4);
    // More pages of that L1 set: its fills meet ways used since they were placed (lruTakeSlow).
    for (let k = 1; k < 8; k++) warm.push((300 + 16 * k) * 4096);
    cpu.loadMany(Float64Array.from(warm));
    %OptimizeFunctionOnNextCall(missRun);
    cpu.loadMany(Float64Array.from({ length: 10 }, (_, i) => (600 + i) * 4096));
    const before = { optimized: optimized(), evictions: stlb().evictions, l1Evictions: cpu.stats().tlb.arrays[0].evictions };
    const prng = new g.Prng(7);
    const after = [];
    for (let b = 0; b < 12; b++) {
      cpu.loadMany(Float64Array.from({ length: 300 }, () => prng.int(PAGES) * 4096 + 4 * prng.int(1024)));
      after.push({ optimized: optimized(), evictions: stlb().evictions });
    }
    console.log('RESULT ' + JSON.stringify({ before, after }));
  });`;
  const out = v8Trace([], ['-e', script]);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line !== undefined, `the child printed no result:\n${out}`);
  const { before, after } = JSON.parse(line.slice('RESULT '.length)) as {
    before: { optimized: boolean; evictions: number; l1Evictions: number };
    after: { optimized: boolean; evictions: number }[];
  };
  assert.ok(before.optimized, 'the closure was optimized before the random loads');
  assert.equal(before.evictions, 0, 'the STLB evicted before the compile');
  assert.ok(before.l1Evictions > 0, 'the L1 TLB evicted before the compile');
  assert.ok(after.some((a) => a.evictions > 0), 'the STLB never evicted');
  assert.deepEqual(after.map((a, b) => ({ batch: b, optimized: a.optimized })), after.map((_, b) => ({ batch: b, optimized: true })), 'the closure deoptimized');
});

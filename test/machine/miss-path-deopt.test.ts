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
import { missPathScript } from '../helpers/miss-path-script.ts';

test('cpu: the miss path, optimized before the STLB first evicts, stays optimized when it does', () => {
  // After the compile (missPathScript), batches of random loads over all pages: the STLB starts
  // evicting after a few hundred. The closure's state is read after each batch.
  const script = missPathScript(`
    const stlb = () => cpu.stats().tlb.arrays.find((a) => a.name.startsWith('STLB 4K'));
    const before = { optimized: optimized(), evictions: stlb().evictions, l1Evictions: cpu.stats().tlb.arrays[0].evictions };
    const prng = new g.Prng(7);
    const after = [];
    for (let b = 0; b < 12; b++) {
      cpu.loadMany(Float64Array.from({ length: 300 }, () => prng.int(PAGES) * 4096 + 4 * prng.int(1024)));
      after.push({ optimized: optimized(), evictions: stlb().evictions });
    }
    console.log('RESULT ' + JSON.stringify({ before, after }));`);
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

test('cpu: the miss path, compiled on pages whose A bits are set, deoptimizes at the first page the kernel has aged, sets its A bit, and is compiled again', () => {
  // The kernel ages pages by clearing their accessed bits (vmscan, through the reverse map). A
  // closure compiled while every walk found A set has never run its atomic ORs of A, so V8 made
  // them deoptimization exits: the first aged page deoptimizes it. This is the cost the miss path
  // keeps (docs/mmu.md, "Accessed bits"): a stop at such a walk, leaving the OR to the general
  // path, kept the ORs out of the loop but left the bench's closure compiled without its fills
  // (68 ns a miss against 41.5). What must hold: the loads set every aged page's A bit, and V8
  // compiles the closure again, with the ORs, so the process does not stay in the interpreter.
  const script = missPathScript(
    `
    const before = optimized();
    const ACCESSED = 0x20;
    const aged = Array.from({ length: 64 }, (_, k) => (2000 + 7 * k) * 4096);
    for (const vaddr of aged) {
      const { lo, hi } = pt.leaf(vaddr, 1);
      new Int32Array(ram.buffer).set([lo & ~ACCESSED, hi], pt.entryPaddr(vaddr, 1) / 4);
      cpu.invlpg(vaddr);
    }
    cpu.loadMany(Float64Array.from(aged, (v) => v + 8));
    const afterAged = optimized();
    const clearAfter = aged.filter((v) => (pt.leaf(v, 1).lo & ACCESSED) === 0).length;
    const prng = new g.Prng(3);
    let batches = 0;
    while (!optimized() && batches < 400) {
      cpu.loadMany(Float64Array.from({ length: 500 }, () => prng.int(PAGES) * 4096 + 4 * prng.int(1024)));
      batches++;
    }
    console.log('RESULT ' + JSON.stringify({ before, afterAged, clearAfter, batches, again: optimized() }));`,
    { accessed: true },
  );
  const out = v8Trace([], ['-e', script]);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line !== undefined, `the child printed no result:\n${out}`);
  const result = JSON.parse(line.slice('RESULT '.length)) as { before: boolean; afterAged: boolean; clearAfter: number; batches: number; again: boolean };
  assert.ok(result.before, 'the closure was optimized before the pages aged');
  assert.equal(result.clearAfter, 0, 'the loads set every aged page\'s A bit again');
  assert.ok(result.again, `V8 did not compile the miss path again after ${result.batches} batches: ${JSON.stringify(result)}`);
});

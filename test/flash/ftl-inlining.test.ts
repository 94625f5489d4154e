import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_NATURAL_TIER_UP, budgetedInlines, inliningTrace, inlinedInto, worstOrderCharge } from '../helpers/inlining.ts';

// The FTL's host write is sized to V8's inlining budget (920 bytes of bytecode per optimised
// function): with the program as programSpare16() (four spare words as arguments), write() also
// inlines the invalidation of the old copy and its bucket move. Before, stampSpare + programFrom
// and their callees took so much of the budget that invalidate() (with the bucketDown it carries)
// stayed a call on every host write (docs/benchmarks.md, "issue 16's write-path pass: fourth round").

test('ftl: write() compiles with the program, the invalidation and the bucket move inlined into it', () => {
  const steady = new URL('../../src/flash/steady-state.ts', import.meta.url).href;
  const workload = new URL('../../src/flash/workload.ts', import.meta.url).href;
  // Steady-state feedback first (a fill, then random overwrites with GC running), then one
  // synchronous compile of write() with on-stack compiles off: every "into write" decision in the
  // trace is that compile's.
  const script = `Promise.all([import(${JSON.stringify(steady)}), import(${JSON.stringify(workload)})]).then(([s, w]) => {
    const L = s.logicalPagesFor(1.1, 64, 64, {});
    const ftl = s.gcTestbed(64, 64, L, {});
    const write = Object.getPrototypeOf(ftl).write;
    %PrepareFunctionForOptimization(write);
    s.drive(ftl, new w.SequentialWorkload(L), L);
    s.drive(ftl, new w.UniformWorkload(L, 2), 4 * L);
    %OptimizeFunctionOnNextCall(write);
    s.drive(ftl, new w.UniformWorkload(L, 3), L);
  });`;
  // No compile but the one asked for (the drive is long enough for V8 to tier write() up on its
  // own, with less feedback), so that the budget below is that compile's.
  const log = inliningTrace(['-e', script], [NO_NATURAL_TIER_UP]);
  const inlined = (name: string) => inlinedInto(log, name, 'write');
  assert.ok(/into .*<SharedFunctionInfo write>\}/.test(log), 'write was optimized with calls inlined');
  assert.ok(inlined('programSpare16'), 'the program inlined into write');
  assert.ok(inlined('dropMapping'), 'dropMapping inlined into write');
  assert.ok(inlined('invalidate'), 'the invalidation inlined into write');
  assert.ok(inlined('bucketDown'), 'the bucket move inlined into write');
  // And in whatever order V8 considers them (test/helpers/inlining.ts, worstOrderCharge).
  const { charge, budget, total } = worstOrderCharge(budgetedInlines(log, 'write').map((c) => c.bytes));
  assert.ok(charge <= budget, `write()'s inlined callees: ${total} bytes of bytecode; considered last, the largest charges the budget ${charge} of ${budget}`);
});

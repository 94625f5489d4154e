import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetedInlines, inliningTrace, inlinedInto, worstOrderCharge } from '../helpers/inlining.ts';

// The order-0 fast paths (PageAllocator #installFastPaths) are sized to V8's inlining budget: a
// loop of allocPages(0) + freePages(pfn, 0) pairs compiles with both closures inlined into it. When
// their bytecode grew past the budget (a GFP_KERNEL branch before the constants became a const
// enum), V8 inlined only one of them and a pair cost 9.9 ns instead of 6.3 (docs/benchmarks.md,
// "Per-CPU page lists: one view of the arena"). They must also fit in any order: V8 takes the most
// frequent candidate first and charges each at 1.2× its size as it decides, and with #fastAlloc
// considered before #fastFree the free's closure was left a call in some processes, and the pair
// ran at 10–17 ns instead of 6.4–7 (docs/benchmarks.md, "Per-CPU page lists: the inlining budget
// in any order").

test('pcp: a loop of order-0 allocPages/freePages pairs compiles with both fast paths inlined into it', () => {
  const kernel = new URL('../../src/mm/kernel.ts', import.meta.url).href;
  // Feedback first, then one synchronous compile of the whole function, with on-stack compiles
  // off (test/helpers/inlining.ts): every "into pairLoop" decision in the trace is that compile's (or
  // a heuristic one's, made by the same rules).
  const script = `import(${JSON.stringify(kernel)}).then(({ Kernel }) => {
    const pa = Kernel.boot({ ramBytes: '64MiB', cpus: 1 }).pages;
    const pairLoop = (n) => { let x = 0; for (let i = 0; i < n; i++) { const pfn = pa.allocPages(0, 0); x ^= pfn; pa.freePages(pfn, 0); } return x; };
    %PrepareFunctionForOptimization(pairLoop);
    for (let round = 0; round < 3; round++) pairLoop(20000);
    %OptimizeFunctionOnNextCall(pairLoop);
    pairLoop(20000);
  });`;
  const log = inliningTrace(['-e', script]);
  const inlined = (name: string) => inlinedInto(log, name, 'pairLoop');
  assert.ok(/into .*<SharedFunctionInfo pairLoop>\}/.test(log), 'pairLoop was optimized with calls inlined');
  assert.ok(inlined('allocPages') && inlined('freePages'), 'allocPages and freePages inlined into the loop');
  assert.ok(inlined('#fastAlloc'), 'the allocation fast path inlined into the loop');
  assert.ok(inlined('#fastFree'), 'the free fast path inlined into the loop');
  const callees = budgetedInlines(log, 'pairLoop');
  assert.deepEqual(callees.map((c) => c.name).sort(), ['#fastAlloc', '#fastFree', 'allocPages', 'freePages'], 'the budgeted inlines into the loop');
  const { charge, budget, total } = worstOrderCharge(callees.map((c) => c.bytes));
  assert.ok(charge <= budget, `the pair's inlined callees: ${total} bytes of bytecode; considered last, the largest charges the budget ${charge} of ${budget}`);
});

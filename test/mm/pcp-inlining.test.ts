import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inliningTrace, inlinedInto } from '../helpers/inlining.ts';

// The order-0 fast paths (PageAllocator #installFastPaths) are sized to V8's inlining budget: a
// loop of allocPages(0) + freePages(pfn, 0) pairs compiles with both closures inlined into it. When
// their bytecode grew past the budget (a GFP_KERNEL branch before the constants became a const
// enum), V8 inlined only one of them and a pair cost 9.9 ns instead of 6.3 (docs/benchmarks.md,
// "Per-CPU page lists: one view of the arena").

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
});

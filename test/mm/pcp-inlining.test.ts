import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The order-0 fast paths (PageAllocator #installFastPaths) are sized to V8's inlining budget: a
// loop of allocPages(0) + freePages(pfn, 0) pairs compiles with both closures inlined into it. When
// their bytecode grew past the budget (a GFP_KERNEL branch before the constants became a const
// enum), V8 inlined only one of them and a pair cost 9.9 ns instead of 6.3 (docs/benchmarks.md,
// "Per-CPU page lists: one view of the arena").

test('pcp: a loop of order-0 allocPages/freePages pairs compiles with both fast paths inlined into it', () => {
  const kernel = new URL('../../src/mm/kernel.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(kernel)}).then(({ Kernel }) => {
    const pa = Kernel.boot({ ramBytes: '64MiB', cpus: 1 }).pages;
    const pairLoop = (n) => { let x = 0; for (let i = 0; i < n; i++) { const pfn = pa.allocPages(0, 0); x ^= pfn; pa.freePages(pfn, 0); } return x; };
    for (let round = 0; round < 20; round++) pairLoop(200000);
  });`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--trace-opt', '--trace-turbo-inlining', '--no-concurrent-recompilation', '--no-concurrent-osr', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.equal(child.status, 0, child.stderr);
  // The trace of one compilation ends with its "completed compiling" line (compiling on the main
  // thread, so that no other compilation's lines interleave); take pairLoop's last.
  const compilations = child.stdout.split(/^\[completed compiling .*$/m);
  const ends = [...child.stdout.matchAll(/^\[completed compiling .*$/gm)].map((m) => m[0]);
  let last = -1;
  ends.forEach((line, i) => {
    if (/<JSFunction pairLoop /.test(line)) last = i;
  });
  assert.ok(last >= 0, 'pairLoop was optimized');
  const trace = compilations[last] as string;
  const inlined = (name: string) => new RegExp(`^Inlining .*<SharedFunctionInfo ${name}>\\} into .*<SharedFunctionInfo pairLoop>\\}`, 'm').test(trace);
  assert.ok(inlined('allocPages') && inlined('freePages'), 'allocPages and freePages inlined into the loop');
  assert.ok(inlined('#fastAlloc'), 'the allocation fast path inlined into the loop');
  assert.ok(inlined('#fastFree'), 'the free fast path inlined into the loop');
});

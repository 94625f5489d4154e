import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The order-0 fast paths (PageAllocator #installFastPaths) are sized to V8's inlining budget: a
// loop of allocPages(0) + freePages(pfn, 0) pairs compiles with both closures inlined into it. When
// their bytecode grew past the budget (a GFP_KERNEL branch before the constants became a const
// enum), V8 inlined only one of them and a pair cost 9.9 ns instead of 6.3 (docs/benchmarks.md,
// "Per-CPU page lists: one view of the arena").

test('pcp: a loop of order-0 allocPages/freePages pairs compiles with both fast paths inlined into it', () => {
  const kernel = new URL('../../src/mm/kernel.ts', import.meta.url).href;
  // Feedback first, then one synchronous compile of the whole function, with on-stack compiles
  // off: every "into pairLoop" decision in the trace is that compile's (or a heuristic one's, made
  // by the same rules), and nothing is still compiling when the child exits.
  const script = `import(${JSON.stringify(kernel)}).then(({ Kernel }) => {
    const pa = Kernel.boot({ ramBytes: '64MiB', cpus: 1 }).pages;
    const pairLoop = (n) => { let x = 0; for (let i = 0; i < n; i++) { const pfn = pa.allocPages(0, 0); x ^= pfn; pa.freePages(pfn, 0); } return x; };
    %PrepareFunctionForOptimization(pairLoop);
    for (let round = 0; round < 3; round++) pairLoop(20000);
    %OptimizeFunctionOnNextCall(pairLoop);
    pairLoop(20000);
  });`;
  // One trace stream (--trace-turbo-inlining alone: with --trace-opt as well, the two streams'
  // lines interleaved mid-line now and then), written to a file, not a pipe, so that nothing
  // buffered is lost when the child exits.
  const dir = mkdtempSync(join(tmpdir(), 'kmem-pcp-inlining-'));
  const path = join(dir, 'trace.txt');
  const fd = openSync(path, 'w');
  let log: string;
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--allow-natives-syntax', '--no-use-osr', '--no-concurrent-recompilation', '--trace-turbo-inlining', '-e', script], {
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
      timeout: 240_000,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    assert.equal(child.status, 0, child.stderr);
    log = readFileSync(path, 'utf8');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  const inlined = (name: string) => new RegExp(`Inlining .*<SharedFunctionInfo ${name}>\\} into .*<SharedFunctionInfo pairLoop>\\}`).test(log);
  assert.ok(/into .*<SharedFunctionInfo pairLoop>\}/.test(log), 'pairLoop was optimized with calls inlined');
  assert.ok(inlined('allocPages') && inlined('freePages'), 'allocPages and freePages inlined into the loop');
  assert.ok(inlined('#fastAlloc'), 'the allocation fast path inlined into the loop');
  assert.ok(inlined('#fastFree'), 'the free fast path inlined into the loop');
});

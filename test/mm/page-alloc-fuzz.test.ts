import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzPageAllocator } from '../fuzz/page-alloc-fuzz.ts';

test('page allocator: 1 M seeded operations against the shadow model', () => {
  const report = fuzzPageAllocator({ seed: 0x5eed, ops: 1_000_000 });
  assert.equal(report.ops, 1_000_000);
  assert.ok(report.failures > 0, 'the run should reach exhaustion sometimes');
  assert.ok(report.misuses > 1000);
  assert.ok(report.drains > 100 && report.offlines > 100, JSON.stringify(report));
  // Another CPU's slot offlined mid-run, its per-CPU lists holding pages (issue 9).
  assert.ok(report.otherOfflines > 100 && report.otherPagesDrained > report.otherOfflines, JSON.stringify(report));
  // Tagged blocks, references and pins held across operations, and splits: every way a block stops
  // being plain and becomes plain again (PageFlag.SlowFree) meets the order-0 fast free.
  assert.ok(report.tagged > 10_000 && report.holds > 500 && report.refusedWhileHeld > 100 && report.splits > 100, JSON.stringify(report));
});

test('page allocator fuzz: without grouping by mobility, and under a page limit', () => {
  fuzzPageAllocator({ seed: 7, ops: 100_000, groupByMobility: false });
  const limited = fuzzPageAllocator({ seed: 8, ops: 100_000, pageLimit: 2000 });
  assert.ok(limited.peakPages <= 2000);
});

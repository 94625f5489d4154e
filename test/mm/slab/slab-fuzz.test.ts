import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzSlab } from '../../fuzz/slab-fuzz.ts';

test('slab caches and kmalloc: 1 M seeded operations against the shadow model', () => {
  const report = fuzzSlab({ seed: 0xca11, ops: 1_000_000 });
  assert.ok(report.misuses > 1000, String(report.misuses));
  assert.ok(report.reallocs > 1000);
  assert.ok(report.peakLive > 5000);
  assert.ok(report.offlines > 20, `CPU offlines mid-run: ${report.offlines}`);
  assert.ok(report.failures > 100, 'the run should exhaust memory sometimes');
});

test('slab fuzz with the Bonwick layout (on-slab headers, colouring)', () => {
  fuzzSlab({ seed: 42, ops: 150_000, layout: 'bonwick' });
});

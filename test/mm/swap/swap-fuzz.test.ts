import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzSwap } from '../../fuzz/swap-fuzz.ts';

test('swap: 2000 seeded operations (mmap/write/reclaim/fault/fork/munmap/mlock) against the shadow memory (more in npm run fuzz)', () => {
  const report = fuzzSwap({ seed: 0x5a9, ops: 2000, validateEvery: 250 });
  assert.equal(report.ops, 2000);
  assert.ok(report.pswpout > 300 && report.pswpin > 200, 'pages went out and came back');
  assert.ok(report.forks > 20, 'processes forked');
  assert.ok(report.directReclaims > 0, 'faults ran direct reclaim');
  assert.ok(report.segv > 100, 'unmapped pages faulted');
});

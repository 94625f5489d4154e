import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzVm } from '../../fuzz/vm-fuzz.ts';

test('virtual memory: 1 M seeded operations against the shadow address space (10 M in npm run fuzz)', () => {
  const report = fuzzVm({ seed: 0x5eed, ops: 1_000_000, validateEvery: 50_000 });
  assert.equal(report.ops, 1_000_000);
  assert.ok(report.faults > 10_000, 'demand faults happened');
  assert.ok(report.segv > 1000, 'refused accesses happened');
  assert.ok((report.errors['ENOMEM'] ?? 0) > 1000 && (report.errors['EEXIST'] ?? 0) > 100 && (report.errors['EFAULT'] ?? 0) > 10);
  assert.ok(report.peakVmas > 20);
  assert.ok(report.thpFaults > 50 && report.thpSplits > 100, 'huge pages were mapped and split');
  assert.ok(report.collapsed > 0, 'khugepaged collapsed some');
  assert.ok(report.migrated > 0, 'compaction migrated some');
  assert.ok(report.cpuAccesses > 100_000 && report.cpuWalks > 1000, 'the CPU made accesses, and walked for some (and its TLBs served the rest)');
});

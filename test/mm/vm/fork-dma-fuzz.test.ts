// The fork/write/pin/DMA-complete fuzz, 1 M operations in CI as issue 11 asks (about 5 s of CPU): no
// lost DMA for early-copy and defer-write, and the fuzz finds the corruption naive allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzForkDma } from '../../fuzz/fork-dma-fuzz.ts';

test('fork-dma fuzz: early-copy and defer-write lose no DMA; naive loses some, and the fuzz finds it', () => {
  const report = fuzzForkDma({ seed: 3, ops: 1_000_000, validateEvery: 5_000 });
  assert.ok(report.ops >= 1_000_000);
  assert.equal(report.perPolicy['early-copy'].lostDmas, 0);
  assert.equal(report.perPolicy['defer-write'].lostDmas, 0);
  assert.ok(report.perPolicy.naive.lostDmas > 0, 'the fuzz must find naive\'s lost DMAs');
  assert.ok(report.perPolicy.naive.forks > 10_000 && report.perPolicy.naive.dmas > 10_000);
});

// The bounded fork/write/pin/DMA-complete fuzz (npm run fuzz runs ≥ 1 M operations): no lost DMA for
// early-copy and defer-write, and the fuzz finds the corruption naive allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzForkDma } from '../../fuzz/fork-dma-fuzz.ts';

test('fork-dma fuzz: early-copy and defer-write lose no DMA; naive loses some, and the fuzz finds it', () => {
  const report = fuzzForkDma({ seed: 3, ops: 9_000, validateEvery: 500 });
  assert.equal(report.perPolicy['early-copy'].lostDmas, 0);
  assert.equal(report.perPolicy['defer-write'].lostDmas, 0);
  assert.ok(report.perPolicy.naive.lostDmas > 0, 'the fuzz must find naive\'s lost DMAs');
  assert.ok(report.perPolicy.naive.forks > 100 && report.perPolicy.naive.dmas > 100);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzDma } from '../../fuzz/dma-fuzz.ts';

test('dma fuzz: map/sync/unmap used correctly on coherent, non-coherent and swiotlb devices: no corruption', () => {
  const report = fuzzDma({ seed: 0xd3a, ops: 60_000 });
  assert.equal(report.corruptions, 0, JSON.stringify(report));
  assert.ok(report.bounced > 100 && report.deviceReads > 1000 && report.deviceWrites > 1000 && report.misuses > 100, JSON.stringify(report));
});

test('dma fuzz: skipping a share of the syncs, the search finds stale data (it can fail)', () => {
  const report = fuzzDma({ seed: 0xd3b, ops: 30_000, skipSync: 0.3 });
  assert.ok(report.skippedSyncs > 0);
  assert.ok(report.corruptions > 0, JSON.stringify(report));
});

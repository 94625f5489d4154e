import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlashLab, FlashPage } from '../../src/lab/views/flash-lab.ts';

test('flash lab: pages drawn valid, invalid and erased equal the store\'s and the chip\'s counts; GC picks greedy victims', () => {
  const lab = new FlashLab(1, 'greedy', 'hot/cold 80/20');
  lab.write(20_000);
  const map = lab.pageMap();
  const s = lab.stats();
  const count = (k: number, from = 0, to = map.length) => map.subarray(from, to).filter((p) => p === k).length;
  assert.equal(count(FlashPage.Valid), s.mappedPages);
  assert.equal(s.mappedPages, lab.logicalPages);
  assert.equal(count(FlashPage.Erased), lab.device.pageStates.filter((p) => p === 0).length);
  const ppb = lab.device.pagesPerBlock;
  for (let b = 0; b < lab.device.blocks; b++) assert.equal(count(FlashPage.Valid, b * ppb, (b + 1) * ppb), lab.ftl.table.valid[b], `block ${b}`);
  assert.ok(s.gc.victims > 100 && lab.victims.length > 0);
  assert.ok(lab.victims.every((v) => v.valid < ppb), 'a victim always frees something');
  assert.ok(s.writeAmplification > 1 && s.writeAmplification < 5, `WA ${s.writeAmplification}`);
  lab.validate();
});

test('flash lab: greedy beats FIFO on hot/cold writes', () => {
  const wa = (['greedy', 'fifo'] as const).map((policy) => {
    const lab = new FlashLab(2, policy, 'hot/cold 80/20');
    lab.write(20_000);
    return lab.stats().writeAmplification;
  });
  assert.ok((wa[0] as number) < (wa[1] as number), `greedy ${wa[0]}, fifo ${wa[1]}`);
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { GpuLab } from '../../src/lab/views/gpu-lab.ts';
import { openTestAccelerator, required } from '../helpers/gpu.ts';

const { accelerator, skip } = await openTestAccelerator();
after(() => accelerator?.destroy());

test('GPU lab: warp-batch reserves one contiguous run per warp with one atomic each; per-lane takes one atomic per lane', { skip }, async () => {
  const lab = await GpuLab.create(required(accelerator), 1);
  try {
    for (let round = 0; round < 2; round++) {
      const [perLane, batch] = await lab.pass();
      assert.ok(perLane !== undefined && batch !== undefined);
      for (const d of [perLane, batch]) {
        assert.equal(d.owners.filter((o) => o >= 0).length, d.stats.live, `${d.design}: objects attributed = live objects`);
        assert.equal(d.pass.served, d.pass.requested);
      }
      assert.equal(perLane.pass.atomics, perLane.activeLanes, 'per-lane: one atomic per lane on an empty arena');
      assert.equal(batch.pass.atomics, batch.activeGroups, 'warp-batch: one atomic per warp');
      assert.equal(GpuLab.runs(batch.owners), batch.pass.atomics, 'warp-batch: each atomic reserved one contiguous run');
      assert.ok(GpuLab.runs(perLane.owners) <= perLane.pass.atomics);
    }
  } finally {
    lab.destroy();
  }
});

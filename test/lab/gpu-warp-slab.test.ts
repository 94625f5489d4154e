import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxDispatchLanes } from '../../src/gpu/warp-allocator.ts';
import { ParamError } from '../../src/lab/params.ts';
import { runScenario } from '../../src/lab/run.ts';
import { gpuWarpSlab } from '../../src/lab/scenarios/gpu-warp-slab.ts';
import type { Table } from '../../src/lab/scenario.ts';
import { openTestAccelerator } from '../helpers/gpu.ts';

const probe = await openTestAccelerator();
/** One lane more than a dispatch of 8-lane workgroups holds on this device. */
const tooManyLanes = probe.accelerator === null ? 0 : maxDispatchLanes(probe.accelerator, 8) + 1;
probe.accelerator?.destroy();

function table(tables: readonly Table[], id: string): Table {
  const found = tables.find((t) => t.id === id);
  assert.ok(found !== undefined, `table ${id}`);
  return found;
}

test('gpu-warp-slab: the designs agree on what was served; warp-batch pays one atomic per warp; stores never beat the ideal', { skip: probe.skip }, async () => {
  const run = await runScenario(gpuWarpSlab, { lanes: '2048', arenaBytes: '128KiB', passes: '5' }, { seed: 4 });
  const { tables } = run.result;
  const adapter = table(tables, 'adapter').rows[0];
  // Subgroups where the adapter has them (lavapipe does), else the workgroup path.
  const groupLanes = adapter?.group as number;
  const size = (adapter?.subgroup as number | null) ?? groupLanes;
  assert.equal(groupLanes, adapter?.path === 'subgroup' ? size : 64);
  if (adapter?.path === 'subgroup') assert.equal(adapter.subgroupSource, 'measured');
  const stream = table(tables, 'stream').rows;
  assert.equal(stream.length, 3);
  for (const row of stream) assert.deepEqual({ ...row, design: '' }, { ...stream[0], design: '' });
  const first = stream[0] ?? {};
  assert.ok((first.oom as number) > 0, 'the churn exhausted the arena');
  assert.equal((first.served as number) + (first.oom as number), first.requested);
  const sweep = table(tables, 'sweep').rows;
  const active = [...new Set(sweep.map((r) => r.active as number))];
  assert.ok(active.includes(1) && active.includes(size), `sweep points ${active.join(',')} include 1 and ${size}`);
  for (const row of sweep) {
    const a = row.active as number;
    if (row.design === 'per-lane') assert.equal(row.atomicsPerAlloc, 1);
    // One atomic per aggregation group: a active lanes in each of its groupLanes / size warps.
    const expected = size / (a * groupLanes);
    if (row.design === 'warp-batch') assert.ok(Math.abs((row.atomicsPerAlloc as number) - expected) < 1e-12, `warp-batch, ${a} active: ${String(row.atomicsPerAlloc)}`);
    assert.ok((row.warpSectors as number) >= (row.warpIdeal as number) && (row.lane32Sectors as number) >= (row.lane32Ideal as number));
  }
  const full = (design: string) => sweep.find((r) => r.design === design && r.active === size);
  assert.ok((full('slab-bitmap')?.atomicsPerAlloc as number) < 0.5, 'slab-bitmap: about one atomicOr per warp');
  const measured = table(tables, 'measured');
  assert.equal(measured.scheduling, true);
  const timing = table(tables, 'timing');
  assert.equal(timing.timing, true);
  assert.ok(timing.title.includes(String(adapter?.adapter)), 'times are labelled with the adapter');
  assert.match(run.result.summary.join('\n'), /the 3 designs agree/);
});

test("gpu-warp-slab: more lanes than one dispatch holds on the device is a ParamError that names the device's limit", { skip: probe.skip }, async (t) => {
  if (tooManyLanes > 1 << 22) return t.skip(`this device holds ${tooManyLanes - 1} lanes of 8 in one dispatch: more than the parameter allows`);
  await assert.rejects(
    runScenario(gpuWarpSlab, { lanes: String(tooManyLanes), workgroupSize: '8' }, { seed: 1 }),
    (e: unknown) => e instanceof ParamError && e.message.includes(`(--lanes ${tooManyLanes}, --workgroup-size 8): maxLanes ${tooManyLanes}: expected an integer in [1, ${tooManyLanes - 1}]`) && e.message.includes(`on ${String(probe.accelerator?.adapterName)}`),
  );
});

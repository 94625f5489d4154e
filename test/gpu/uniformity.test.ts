// Every shader variant (three designs × two aggregation paths) compiles on Dawn with WGSL's
// subgroup_uniformity diagnostic on: no directive turns it off, and the compiler reports no
// uniformity finding (error, warning or info). So every subgroup operation sits in control flow Tint
// proves uniform, and nothing relies on lanes reconverging after divergent code. A control shows
// that the check can fail: the same program with an early return before the group operations (what
// the subgroup path did before) is reported; so is a loop that exits on a subgroup reduction (why
// slab-bitmap's loop needs a workgroup-uniform exit, and runs its first steps without asking).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceArenaLayout } from '../../src/gpu/arena-layout.ts';
import { WARP_DESIGNS } from '../../src/gpu/designs.ts';
import { DEFAULT_WORKGROUP_SIZE } from '../../src/gpu/warp-allocator.ts';
import { buildProgram } from '../../src/gpu/wgsl/program.ts';
import { SLAB_UNCHECKED_STEPS } from '../../src/gpu/wgsl/slab-bitmap.ts';
import type { AggregationPath } from '../../src/gpu/wgsl/group-ops.ts';
import { openTestAccelerator, required } from '../helpers/gpu.ts';

const { accelerator, skip } = await openTestAccelerator();
after(() => accelerator?.destroy());

const LAYOUT = new DeviceArenaLayout({ arenaBytes: 16 * 4096, objectBytes: 16, objectsPerSlab: 256, maxObjectsPerLane: 4 });
const DISABLING = /diagnostic\s*\(\s*off\s*,\s*subgroup_uniformity\s*\)|@diagnostic\s*\(\s*(off|info|warning)/;

/** The compiler's uniformity findings and errors for `code`, as "line:col: message". */
async function uniformityFindings(code: string): Promise<string[]> {
  const { device } = required(accelerator);
  device.pushErrorScope('validation'); // a module that fails to compile is an error of its own; keep it off the device
  const module = device.createShaderModule({ label: 'uniformity check', code });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  return info.messages
    .filter((m) => m.type === 'error' || /uniform/i.test(m.message))
    .map((m) => `${m.lineNum}:${m.linePos}: ${m.type}: ${m.message.split('\n')[0] ?? ''}`);
}

function paths(): AggregationPath[] {
  return required(accelerator).subgroups ? ['subgroup', 'workgroup'] : ['workgroup'];
}

test('every design on every path compiles with subgroup_uniformity on: no directive disables it, no uniformity finding', { skip }, async () => {
  const acc = required(accelerator);
  // The subgroup path is the point of the test: an adapter with subgroups must check it.
  if (acc.adapterSubgroupSize !== null) assert.ok(acc.subgroups, `${acc.adapterName} offers subgroups, so the subgroup path must be checked`);
  let checked = 0;
  for (const design of WARP_DESIGNS) {
    for (const path of paths()) {
      for (const workgroupSize of [DEFAULT_WORKGROUP_SIZE, 256]) {
        const code = buildProgram({ design, layout: LAYOUT, path, workgroupSize, slabProbes: 4 });
        assert.doesNotMatch(code, DISABLING, `${design} (${path} path): a directive disables a uniformity diagnostic`);
        assert.deepEqual(await uniformityFindings(code), [], `${design} (${path} path, workgroups of ${workgroupSize})`);
        checked++;
      }
    }
  }
  assert.equal(checked, WARP_DESIGNS.length * paths().length * 2);
});

test('control: an early return before the group operations is reported, and so is the directive that silenced it', { skip: skip || (accelerator?.subgroups === true ? false : 'no subgroups on this adapter') }, async () => {
  const code = buildProgram({ design: 'warp-batch', layout: LAYOUT, path: 'subgroup', workgroupSize: DEFAULT_WORKGROUP_SIZE, slabProbes: 4 });
  const call = '  allocate(lane, count);';
  assert.ok(code.includes(call));
  const earlyReturn = code.replace(call, `  if (count == 0u) { return; }\n${call}`);
  const findings = await uniformityFindings(earlyReturn);
  assert.ok(findings.some((f) => /subgroup uniform control flow/.test(f)), findings.join('\n'));
  // The old way out: the directive silences the finding, and the source check catches the directive.
  const silenced = earlyReturn.replace('enable subgroups;', 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);');
  assert.deepEqual(await uniformityFindings(silenced), []);
  assert.match(silenced, DISABLING);
});

test('control: Tint rejects a loop that exits on a subgroup reduction, so slab-bitmap needs a workgroup-uniform exit', { skip: skip || (accelerator?.subgroups === true ? false : 'no subgroups on this adapter') }, async () => {
  // The shape the subgroup_uniformity language extension might be expected to allow: every lane of a
  // subgroup sees the same subgroupAdd, but the analysis takes its result as no more uniform than
  // its argument (a lane's own data), so the exit and the subgroup operation after it are refused.
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32) {
  var need = li & 3u;
  for (var s = 0u; s < 8u; s++) {
    if (subgroupAdd(need) == 0u) { break; }
    need = need - select(0u, 1u, need > 0u);
    out[li] = subgroupExclusiveAdd(need);
  }
}`;
  const findings = await uniformityFindings(code);
  assert.ok(findings.some((f) => /subgroup uniform control flow/.test(f)), findings.join('\n'));
});

test('slab-bitmap on the subgroup path: the first allocation steps run in a loop without a barrier', () => {
  const code = buildProgram({ design: 'slab-bitmap', layout: LAYOUT, path: 'subgroup', workgroupSize: DEFAULT_WORKGROUP_SIZE, slabProbes: 4 });
  const step = /fn allocStep\([^)]*\) \{([\s\S]*?)\n\}/.exec(code);
  assert.ok(step !== null, 'allocStep is defined');
  for (const op of ['gAnyInWorkgroup', 'workgroupUniformLoad', 'workgroupBarrier', 'storageBarrier']) assert.ok(!(step[1] ?? '').includes(op), `allocStep calls no ${op}`);
  assert.match(code, /for \(var s = 0u; s < UNCHECKED_STEPS; s\+\+\) \{ allocStep\(lane, key, rank, lanes, &walk\); \}/);
  assert.ok(code.includes(`const UNCHECKED_STEPS: u32 = min(${SLAB_UNCHECKED_STEPS}u, MAX_STEPS);`));
  assert.ok(SLAB_UNCHECKED_STEPS >= 1);
});

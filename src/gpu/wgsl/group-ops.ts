/**
 * The cooperative group a warp allocator aggregates over, in WGSL, on two paths that offer the same
 * functions, so each design is written once:
 *
 *   subgroup   the hardware warp (WGSL `subgroups`): ballots, shuffles and scans in registers;
 *              lanes that have nothing to do really exit, and the rest run with them inactive.
 *   workgroup  the fallback where the adapter lacks `subgroups`: the group is the whole workgroup,
 *              and every operation is workgroup atomics between barriers. Barriers need every
 *              invocation, so an inactive lane stays and takes part with nothing to ask.
 *
 * Functions (every one must be called by all of the group's live lanes together, i.e. from
 * group-uniform control flow; on the workgroup path WGSL's uniformity analysis enforces it):
 *   gAdd(x)              sum of x over the group
 *   gExclusiveAdd(x)     sum of x over the lanes before this one (lane order on the subgroup path,
 *                        the order the workgroup atomic served them on the workgroup path)
 *   gElect()             true in exactly one lane, the one gBroadcastFirst reads
 *   gBroadcastFirst(x), gBroadcastFirst4(v)
 *   gFirstWith(p)        the group lane id (gLane) of the first lane where p holds, or NO_LANE
 *   gShuffle(x, id)      x as lane `id` holds it
 *   gLane                this lane's id in the group (private variable)
 */

export type AggregationPath = 'subgroup' | 'workgroup';

export interface GroupOps {
  /** Module-scope text that must come first (enable directives, diagnostics). */
  directives: string;
  /** The functions above. */
  functions: string;
  /** Extra builtin parameters of a compute entry point. */
  entryParams: string;
  /** Statements at the start of an entry point (after `lane` and `li` exist). */
  entryInit: string;
  /** The group's identity, as an expression an entry point records per lane. */
  keyExpr: string;
}

const SUBGROUP: GroupOps = {
  directives: `enable subgroups;
// Lanes exit early and loops run while a group-wide count is non-zero: subgroup operations in control
// flow that WGSL cannot prove uniform, though every live lane of the subgroup reaches them together.
diagnostic(off, subgroup_uniformity);`,
  functions: /* wgsl */ `
var<private> gLane: u32;

fn gAdd(x: u32) -> u32 { return subgroupAdd(x); }
fn gExclusiveAdd(x: u32) -> u32 { return subgroupExclusiveAdd(x); }
fn gElect() -> bool { return subgroupElect(); }
fn gBroadcastFirst(x: u32) -> u32 { return subgroupBroadcastFirst(x); }
fn gBroadcastFirst4(v: vec4u) -> vec4u { return subgroupBroadcastFirst(v); }
fn gShuffle(x: u32, id: u32) -> u32 { return subgroupShuffle(x, id); }

// SlabAlloc's __ballot + __ffs: the lowest lane whose predicate holds.
fn gFirstWith(p: bool) -> u32 {
  let b = subgroupBallot(p);
  if (b.x != 0u) { return firstTrailingBit(b.x); }
  if (b.y != 0u) { return 32u + firstTrailingBit(b.y); }
  if (b.z != 0u) { return 64u + firstTrailingBit(b.z); }
  if (b.w != 0u) { return 96u + firstTrailingBit(b.w); }
  return NO_LANE;
}
`,
  entryParams: ', @builtin(subgroup_invocation_id) sgLane: u32',
  entryInit: 'gLane = sgLane;',
  keyExpr: 'subgroupBroadcastFirst(lane)',
};

const WORKGROUP: GroupOps = {
  directives: '',
  functions: /* wgsl */ `
var<private> gLane: u32;
var<workgroup> wgAcc: atomic<u32>;
var<workgroup> wgOut: u32;
var<workgroup> wgOut4: vec4u;

// Each operation starts with a barrier, so no lane is still reading the previous one's result.
fn gAdd(x: u32) -> u32 {
  workgroupBarrier();
  if (gLane == 0u) { atomicStore(&wgAcc, 0u); }
  workgroupBarrier();
  atomicAdd(&wgAcc, x);
  workgroupBarrier();
  if (gLane == 0u) { wgOut = atomicLoad(&wgAcc); }
  return workgroupUniformLoad(&wgOut);
}

fn gExclusiveAdd(x: u32) -> u32 {
  workgroupBarrier();
  if (gLane == 0u) { atomicStore(&wgAcc, 0u); }
  workgroupBarrier();
  return atomicAdd(&wgAcc, x);
}

fn gElect() -> bool { return gLane == 0u; }

fn gBroadcastFirst(x: u32) -> u32 {
  workgroupBarrier();
  if (gLane == 0u) { wgOut = x; }
  return workgroupUniformLoad(&wgOut);
}

fn gBroadcastFirst4(v: vec4u) -> vec4u {
  workgroupBarrier();
  if (gLane == 0u) { wgOut4 = v; }
  return workgroupUniformLoad(&wgOut4);
}

fn gShuffle(x: u32, id: u32) -> u32 {
  workgroupBarrier();
  if (gLane == id) { wgOut = x; }
  return workgroupUniformLoad(&wgOut);
}

fn gFirstWith(p: bool) -> u32 {
  workgroupBarrier();
  if (gLane == 0u) { atomicStore(&wgAcc, NO_LANE); }
  workgroupBarrier();
  if (p) { atomicMin(&wgAcc, gLane); }
  workgroupBarrier();
  if (gLane == 0u) { wgOut = atomicLoad(&wgAcc); }
  return workgroupUniformLoad(&wgOut);
}
`,
  entryParams: '',
  entryInit: 'gLane = li;',
  keyExpr: 'lane - li',
};

export function groupOps(path: AggregationPath): GroupOps {
  return path === 'subgroup' ? SUBGROUP : WORKGROUP;
}

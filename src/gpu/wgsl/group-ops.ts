/**
 * The cooperative group a warp allocator aggregates over, in WGSL, on two paths that offer the same
 * functions, so each design is written once:
 *
 *   subgroup   the hardware warp (WGSL `subgroups`): ballots, shuffles and scans in registers;
 *   workgroup  the fallback where the adapter lacks `subgroups`: the group is the whole workgroup,
 *              and every operation is workgroup atomics between barriers.
 *
 * On both paths every invocation takes part: an inactive lane stays and asks for nothing, and every
 * group operation is called from control flow that WGSL's uniformity analysis proves uniform. The
 * analysis is per workgroup and takes the result of every subgroup operation as non-uniform (Dawn's
 * Tint rejects `loop { if (subgroupAdd(x) == 0u) { break; } … subgroupAdd(y) … }`), so a loop that
 * calls group operations exits on gAnyInWorkgroup, whose result comes from workgroupUniformLoad, and
 * a group that is done before the others runs the remaining steps with nothing to do. The
 * subgroup_uniformity diagnostic stays on (an error): nothing relies on lanes reconverging after
 * divergent code, which WGSL does not promise and independent thread scheduling does not give.
 *
 * Functions (every one must be called by all of the workgroup's invocations together, from uniform
 * control flow; Tint enforces it on both paths):
 *   gAdd(x)              sum of x over the group
 *   gExclusiveAdd(x)     sum of x over the lanes before this one (lane order on the subgroup path,
 *                        the order the workgroup atomic served them on the workgroup path)
 *   gElect()             true in exactly one lane, the one gBroadcastFirst reads
 *   gBroadcastFirst(x), gBroadcastFirst4(v)
 *   gFirstWith(p)        the group lane id (gLane) of the first lane where p holds, or NO_LANE
 *   gShuffle(x, id)      x as lane `id` holds it
 *   gAnyInWorkgroup(p, k) whether p holds in some invocation of the workgroup, at the caller's k-th
 *                        call (k counted uniformly): uniform, so a loop may exit on it. On the
 *                        subgroup path it is the one operation with workgroup barriers (one
 *                        workgroupUniformLoad)
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
  directives: 'enable subgroups;',
  functions: /* wgsl */ `
var<private> gLane: u32;
var<private> gLocal: u32;
var<workgroup> wgAny: array<atomic<u32>, 2>;

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

// The one operation that spans subgroups: a loop's exit must be workgroup-uniform to be provably
// subgroup-uniform, and only workgroupUniformLoad makes a value so. Calls alternate between two
// flags: call k (the caller counts its calls, uniformly) sets flag k % 2 and clears flag (k + 1) % 2,
// which call k - 1 read before its last barrier and call k + 1 sets only after this call's barriers:
// one workgroupUniformLoad per call.
fn gAnyInWorkgroup(p: bool, call: u32) -> bool {
  let flag = call % 2u;
  if (p) { atomicOr(&wgAny[flag], 1u); }
  if (gLocal == 0u) { atomicStore(&wgAny[1u - flag], 0u); }
  return workgroupUniformLoad(&wgAny[flag]) != 0u;
}
`,
  entryParams: ', @builtin(subgroup_invocation_id) sgLane: u32',
  entryInit: 'gLane = sgLane; gLocal = li;',
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

fn gAnyInWorkgroup(p: bool, call: u32) -> bool { return gAdd(select(0u, 1u, p)) != 0u; }
`,
  entryParams: '',
  entryInit: 'gLane = li;',
  keyExpr: 'lane - li',
};

export function groupOps(path: AggregationPath): GroupOps {
  return path === 'subgroup' ? SUBGROUP : WORKGROUP;
}

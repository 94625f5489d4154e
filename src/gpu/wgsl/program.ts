/**
 * A design's whole WGSL program: the arena's constants and bindings (arena-layout.ts describes
 * them), the group operations of the chosen path, the stamp hash, the helpers every design uses,
 * the design's allocate/release, and three entry points:
 *
 *   alloc_main    one invocation per lane: read the lane's request, let the design allocate;
 *   free_main     one invocation per lane: free the addresses in the lane's request;
 *   settle_main   one invocation, after each pass: pull overshooting counters back (see ring.ts),
 *                 and after a free pass forget that the arena was full (slab-bitmap.ts).
 *
 * Each lane records in its result row the objects it got (allocation), the atomics it issued on the
 * allocator's shared state and its group's key (both passes). "Atomics" are the read-modify-writes (atomicAdd, Or, And, Min),
 * counted where they are issued; atomic loads and stores are plain memory traffic and not counted.
 */
import { STATE_WORDS, StateWord, LANE_COUNT_MASK, LANE_INACTIVE, NO_OBJECT } from '../arena-layout.ts';
import type { DeviceArenaLayout } from '../arena-layout.ts';
import { DESIGNS } from '../designs.ts';
import type { WarpDesign } from '../designs.ts';
import { STAMP_WGSL } from '../stamp.ts';
import { groupOps } from './group-ops.ts';
import type { AggregationPath } from './group-ops.ts';

export interface ProgramShape {
  design: WarpDesign;
  layout: DeviceArenaLayout;
  path: AggregationPath;
  workgroupSize: number;
  /** Design 3: random probes among carved slabs before taking a new page. */
  slabProbes: number;
}

/** The binding kinds, in binding order, of every warp-allocator program. */
export const PROGRAM_BINDINGS = ['uniform', 'storage', 'storage', 'storage', 'read-only-storage', 'storage', 'read-only-storage', 'storage'] as const;
export const ENTRY_POINTS = ['alloc_main', 'free_main', 'settle_main'] as const;

const u32 = (n: number): string => `${n >>> 0}u`;

export function buildProgram(shape: ProgramShape): string {
  const { layout, workgroupSize } = shape;
  const g = groupOps(shape.path);
  const k = layout.maxObjectsPerLane;
  const values: Record<string, number> = {
    NO_OBJECT,
    NO_LANE: 0xffffffff,
    LANE_INACTIVE,
    LANE_COUNT_MASK,
    K: k,
    REQUEST_STRIDE: layout.requestStride,
    RESULT_STRIDE: layout.resultStride,
    OBJECT_WORDS: layout.objectWords,
    OBJECTS_PER_SLAB: layout.objectsPerSlab,
    SLAB_WORDS: layout.slabWords,
    BITMAP_WORDS: layout.bitmapWordsPerSlab,
    ARENA_WORDS: layout.arenaWords,
    POOL_PAGES: layout.pool.length,
    FRESH_CAPACITY: layout.capacityObjects,
    RING_MASK: layout.ringEntries - 1,
    SLAB_PROBES: shape.slabProbes,
    S_HEAD: StateWord.Head,
    S_TAIL: StateWord.Tail,
    S_FRESH: StateWord.Fresh,
    S_POOL_NEXT: StateWord.PoolNext,
    S_BAD_FREES: StateWord.BadFrees,
    S_LAST_BAD_FREE: StateWord.LastBadFree,
    S_FULL: StateWord.Full,
  };
  const constants = Object.entries(values)
    .map(([name, value]) => `const ${name}: u32 = ${u32(value)};`)
    .join('\n');
  // One invocation per lane: read the lane's request and record the key of the group it runs in. An
  // inactive lane (and one past the last lane) stays, asking for nothing: group operations must be
  // reached by every invocation (group-ops.ts), so none returns early.
  const entry = (name: string, body: string): string => `@compute @workgroup_size(${workgroupSize})
fn ${name}(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32${g.entryParams}) {
  ${g.entryInit}
  let lane = gid.x;
  let count = laneCount(lane);
  let key = ${g.keyExpr};
  if (lane < params.lanes) { results[lane * RESULT_STRIDE + K + 1u] = key; }
  ${body}
}`;
  return /* wgsl */ `${g.directives}

${constants}

// afterFree: 1 when settle_main follows a free pass.
struct Params { lanes: u32, salt: u32, afterFree: u32, unused: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> arena: array<u32>;
@group(0) @binding(2) var<storage, read_write> state: array<atomic<u32>, ${STATE_WORDS}>;
@group(0) @binding(3) var<storage, read_write> ring: array<u32>;
@group(0) @binding(4) var<storage, read> pool: array<u32>;
@group(0) @binding(5) var<storage, read_write> bitmaps: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read> requests: array<u32>;
@group(0) @binding(7) var<storage, read_write> results: array<u32>;
${STAMP_WGSL}${g.functions}
fn objectAddress(page: u32, slot: u32) -> u32 { return page * SLAB_WORDS + slot * OBJECT_WORDS; }

fn isObjectAddress(addr: u32) -> bool { return addr < ARENA_WORDS && (addr % SLAB_WORDS) % OBJECT_WORDS == 0u; }

fn freeAddress(lane: u32, j: u32) -> u32 { return requests[lane * REQUEST_STRIDE + 1u + j]; }

// A free the device refuses: counted, never applied. Every design refuses an address that is not an
// object's first word in the arena; slab-bitmap also an object whose bit was already clear.
fn refuseFree(addr: u32) {
  atomicAdd(&state[S_BAD_FREES], 1u);
  atomicStore(&state[S_LAST_BAD_FREE], addr);
}

// Hands object addr to the lane's j-th result slot and stamps every word of it.
fn grant(lane: u32, j: u32, addr: u32) {
  if (lane >= params.lanes) { return; }
  results[lane * RESULT_STRIDE + j] = addr;
  if (addr == NO_OBJECT) { return; }
  let tag = stampOf(lane, j);
  for (var w = 0u; w < OBJECT_WORDS; w++) { arena[addr + w] = tag; }
}

// Ends a lane's allocation: the slots it got nothing for read NO_OBJECT; records its atomics.
fn finishLane(lane: u32, got: u32, atomics: u32) {
  if (lane >= params.lanes) { return; }
  for (var j = got; j < K; j++) { results[lane * RESULT_STRIDE + j] = NO_OBJECT; }
  results[lane * RESULT_STRIDE + K] = atomics;
}

fn finishFree(lane: u32, atomics: u32) {
  if (lane < params.lanes) { results[lane * RESULT_STRIDE + K] = atomics; }
}

// The objects the lane asks for (to allocate, or addresses to free): 0 for an inactive lane.
fn laneCount(lane: u32) -> u32 {
  if (lane >= params.lanes) { return 0u; }
  let word = requests[lane * REQUEST_STRIDE];
  if ((word & LANE_INACTIVE) != 0u) { return 0u; }
  return min(word & LANE_COUNT_MASK, K);
}
${DESIGNS[shape.design].wgsl}
${entry('alloc_main', 'allocate(lane, count);')}
${entry('free_main', 'release(lane, count);')}

@compute @workgroup_size(1)
fn settle_main() {
  let tail = atomicLoad(&state[S_TAIL]);
  if (i32(atomicLoad(&state[S_HEAD]) - tail) > 0) { atomicStore(&state[S_HEAD], tail); }
  atomicMin(&state[S_FRESH], FRESH_CAPACITY);
  atomicMin(&state[S_POOL_NEXT], POOL_PAGES);
  if (params.afterFree == 1u) { atomicStore(&state[S_FULL], 0u); }
}
`;
}

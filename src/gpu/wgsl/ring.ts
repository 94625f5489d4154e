/**
 * Designs 1 and 2 in WGSL: objects come from a ring of freed objects first, then from a bump
 * pointer through fresh slabs taken from the page pool in order. They share every line except
 * who issues the atomics:
 *
 *   per-lane     each lane reserves its own objects: one atomicAdd on the ring head (when the ring
 *                holds anything) and one on the bump pointer (when the ring runs dry), per lane;
 *   warp-batch   the seed's design: the group sums its lanes' counts, one elected lane reserves the
 *                whole batch with those same atomics, broadcasts where it lies, and each lane takes
 *                the objects at its exclusive prefix (warp-aggregated atomics).
 *
 * A reservation may run past the ring's tail (the head overshoots) or past the pool's end (the bump
 * pointer overshoots); those objects come from the next source or are NO_OBJECT. The settle kernel
 * that follows every allocation pass pulls the head back to the tail and the bump pointer back to
 * the capacity, so an overshoot loses nothing. Within a pass the tail is constant (frees are their
 * own pass), so positions below it hold valid freed objects.
 */

export const RING_WGSL = /* wgsl */ `
// A reservation of n objects: ring positions [x, x + y) hold freed objects, the other n - y come
// from fresh object z onwards; w is the atomics issued to make it.
fn reserve(n: u32) -> vec4u {
  var r = vec4u(0u);
  if (n == 0u) { return r; }
  let tail = atomicLoad(&state[S_TAIL]);
  if (i32(tail - atomicLoad(&state[S_HEAD])) > 0) {
    r.x = atomicAdd(&state[S_HEAD], n);
    r.w += 1u;
    r.y = u32(clamp(i32(tail - r.x), 0, i32(n)));
  }
  let spill = n - r.y;
  if (spill > 0u) {
    r.z = atomicAdd(&state[S_FRESH], spill);
    r.w += 1u;
  }
  return r;
}

// The o-th object of reservation r, or NO_OBJECT when the pool had none left.
fn reservedObject(r: vec4u, o: u32) -> u32 {
  if (o < r.y) { return ring[(r.x + o) & RING_MASK]; }
  let f = r.z + (o - r.y);
  if (f >= FRESH_CAPACITY || f < r.z) { return NO_OBJECT; }
  return objectAddress(pool[f / OBJECTS_PER_SLAB], f % OBJECTS_PER_SLAB);
}

// How many of the lane's free addresses the device accepts: an object's first word in the arena. The
// others are refused (counted in state[BadFrees]) and take no ring position. The ring keeps no
// per-object state, so an object that is already free is accepted: only the host can refuse it.
fn acceptedFrees(lane: u32, count: u32) -> u32 {
  var accepted = 0u;
  for (var j = 0u; j < count; j++) {
    let addr = freeAddress(lane, j);
    if (isObjectAddress(addr)) { accepted += 1u; } else { refuseFree(addr); }
  }
  return accepted;
}

// Puts the lane's accepted free addresses at ring positions pos, pos + 1, …, in request order.
fn ringPutAccepted(pos: u32, lane: u32, count: u32) {
  var p = pos;
  for (var j = 0u; j < count; j++) {
    let addr = freeAddress(lane, j);
    if (isObjectAddress(addr)) {
      ring[p & RING_MASK] = addr;
      p += 1u;
    }
  }
}
`;

export const PER_LANE_WGSL = /* wgsl */ `
fn allocate(lane: u32, count: u32) {
  let r = reserve(count);
  for (var j = 0u; j < count; j++) { grant(lane, j, reservedObject(r, j)); }
  finishLane(lane, count, r.w);
}

fn release(lane: u32, count: u32) {
  let accepted = acceptedFrees(lane, count);
  var atomics = 0u;
  if (accepted > 0u) {
    let t = atomicAdd(&state[S_TAIL], accepted);
    atomics = 1u;
    ringPutAccepted(t, lane, count);
  }
  finishFree(lane, atomics);
}
`;

export const WARP_BATCH_WGSL = /* wgsl */ `
fn allocate(lane: u32, count: u32) {
  let total = gAdd(count);
  let offset = gExclusiveAdd(count);
  var mine = vec4u(0u);
  if (gElect() && total > 0u) { mine = reserve(total); }
  let r = gBroadcastFirst4(mine);
  for (var j = 0u; j < count; j++) { grant(lane, j, reservedObject(r, offset + j)); }
  finishLane(lane, count, mine.w);
}

fn release(lane: u32, count: u32) {
  let accepted = acceptedFrees(lane, count);
  let total = gAdd(accepted);
  let offset = gExclusiveAdd(accepted);
  var mine = 0u;
  var atomics = 0u;
  if (gElect() && total > 0u) {
    mine = atomicAdd(&state[S_TAIL], total);
    atomics = 1u;
  }
  let base = gBroadcastFirst(mine);
  ringPutAccepted(base + offset, lane, count);
  finishFree(lane, atomics);
}
`;

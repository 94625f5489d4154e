/**
 * Design 3 in WGSL, after SlabAlloc (Ashkiani, Farach-Colton, Owens, IPDPS 2018): every slab (page)
 * has a bitmap, one bit per object, set while the object is allocated. A group allocates together:
 *
 *   1. the elected lane picks a slab: the newest carved slab (while the arena fills, the one with
 *      room), then a few pseudo-random probes among the carved ones (SlabAlloc's hashed resident
 *      block), else one atomicAdd takes a new page from the pool, else, once the pool is spent, a
 *      sweep over every slab; the choice is broadcast;
 *   2. each lane reads one bitmap word of the slab (SlabAlloc holds the 32 words across the warp's
 *      lanes); a ballot finds the first lane whose word has a clear bit;
 *   3. that lane claims as many clear bits as the group still needs with one atomicOr, and the
 *      bits it really got (another group may have won some) are shuffled to every lane;
 *   4. lanes take those objects in exclusive-prefix order, so neighbouring lanes get neighbouring
 *      objects; repeat until the group is served or the sweep found nothing (NO_OBJECT).
 *
 * One atomic per round, rounds serve up to 32 objects, so a group typically pays one atomic where
 * the per-lane design pays one per lane. Freeing clears the bit with one atomicAnd; a bit that was
 * already clear is a double free, refused and counted. A sweep only gives up after seeing every word
 * of every slab full, and no bit is cleared within an allocation pass, so NO_OBJECT means the arena
 * really was full. The first group to finish such a sweep raises state[Full], and every later group
 * of the pass gives up at once instead of sweeping again; the settle kernel of the next free pass
 * lowers it.
 */

/** Allocation steps before the first workgroup barrier (see UNCHECKED_STEPS in the WGSL). */
export const SLAB_UNCHECKED_STEPS = 8;

export const SLAB_BITMAP_WGSL = /* wgsl */ `
const MODE_PROBE: u32 = 0u;
const MODE_GROW: u32 = 1u;
const MODE_SWEEP: u32 = 2u;
const FULL_WORD: u32 = 0xffffffffu;

// The elected lane's choice of the next slab: (pool ordinal or NO_OBJECT, next mode, next step,
// atomics issued).
fn pickSlab(key: u32, mode: u32, step: u32) -> vec4u {
  if (atomicLoad(&state[S_FULL]) != 0u) { return vec4u(NO_OBJECT, MODE_SWEEP, step, 0u); }
  let carved = min(atomicLoad(&state[S_POOL_NEXT]), POOL_PAGES);
  if (mode == MODE_PROBE && step < SLAB_PROBES && carved > 0u) {
    var ordinal = carved - 1u;
    if (step > 0u) { ordinal = mix32(key ^ (step * 0x9e3779b9u)) % carved; }
    return vec4u(ordinal, MODE_PROBE, step + 1u, 0u);
  }
  if (mode != MODE_SWEEP) {
    let taken = atomicAdd(&state[S_POOL_NEXT], 1u);
    if (taken < POOL_PAGES) { return vec4u(taken, MODE_GROW, 0u, 1u); }
    return vec4u(key % POOL_PAGES, MODE_SWEEP, 1u, 1u);
  }
  if (step < POOL_PAGES) { return vec4u((key + step) % POOL_PAGES, MODE_SWEEP, step + 1u, 0u); }
  atomicStore(&state[S_FULL], 1u);
  return vec4u(NO_OBJECT, MODE_SWEEP, step, 0u);
}

// The lowest min(n, clear bits) clear bits of word, as a mask.
fn lowestClearBits(word: u32, n: u32) -> u32 {
  var clear = ~word;
  var mask = 0u;
  for (var k = 0u; k < n && clear != 0u; k++) {
    let bit = clear & (0u - clear);
    mask |= bit;
    clear ^= bit;
  }
  return mask;
}

// The index of the n-th (from 0) set bit of bits.
fn nthSetBit(bits: u32, n: u32) -> u32 {
  var b = bits;
  for (var k = 0u; k < n; k++) { b &= b - 1u; }
  return firstTrailingBit(b);
}

// Steps of the allocation loop a pass can need: each step picks a slab (probes, pool pages and a
// sweep: at most SLAB_PROBES + 2 * POOL_PAGES + 2 picks), moves to the next chunk of the slab (at
// most BITMAP_WORDS per pick), or claims bits: the group's own or, when it lost a race, a rival's,
// and no bit is cleared within an allocation pass. Reaching the bound is a bug the host's check of
// the pass reports (a NO_OBJECT while objects were free).
const MAX_STEPS: u32 = (SLAB_PROBES + 2u * POOL_PAGES + 2u) * (BITMAP_WORDS + 1u) + FRESH_CAPACITY;

// A group's allocation in progress. Every field is the same in all lanes of a group but need, got
// and atomics (the lane's own); WGSL cannot prove that, hence the loop structure in allocate().
struct Walk {
  need: u32,       // objects this lane still wants
  got: u32,        // objects this lane has
  atomics: u32,    // atomics this lane issued
  remaining: u32,  // objects the group still wants
  working: bool,   // the group still wants some and has not given up (NO_OBJECT)
  ordinal: u32,    // the pool ordinal of the slab being scanned; NO_OBJECT: pick one
  chunk: u32,
  mode: u32,
  step: u32,
}

// One step of a group's allocation: pick a slab if the group has none, then scan one chunk of the
// slab's bitmap, claiming bits or moving to the next chunk. Every group operation is at the top
// level; a group that is done (or a lane of one) runs the step with nothing to do: no atomics, no
// bitmap reads.
fn allocStep(lane: u32, key: u32, rank: u32, lanes: u32, walk: ptr<function, Walk>) {
  let picking = (*walk).working && (*walk).ordinal == NO_OBJECT;
  let elected = gElect();
  var mine = vec4u(NO_OBJECT, (*walk).mode, (*walk).step, 0u);
  if (picking && elected) {
    mine = pickSlab(key, (*walk).mode, (*walk).step);
    (*walk).atomics += mine.w;
  }
  let pick = gBroadcastFirst4(mine);
  if (picking) {
    (*walk).ordinal = pick.x;
    (*walk).mode = pick.y;
    (*walk).step = pick.z;
    (*walk).chunk = 0u;
    (*walk).working = pick.x != NO_OBJECT;
  }
  var page = 0u;
  var w = 0u;
  var word = FULL_WORD;
  if ((*walk).working) {
    page = pool[(*walk).ordinal];
    w = (*walk).chunk * lanes + rank;
    if (w < BITMAP_WORDS) { word = atomicLoad(&bitmaps[page * BITMAP_WORDS + w]); }
  }
  let winner = gFirstWith(word != FULL_WORD);
  let source = select(winner, 0u, winner == NO_LANE);
  var gained = 0u;
  if (winner != NO_LANE && gLane == winner) {
    let want = lowestClearBits(word, (*walk).remaining);
    gained = want & ~atomicOr(&bitmaps[page * BITMAP_WORDS + w], want);
    (*walk).atomics += 1u;
  }
  let bits = gShuffle(gained, source);
  let bitsWord = gShuffle(w, source);
  let need = (*walk).need;
  let offset = gExclusiveAdd(need);
  if (winner != NO_LANE) {
    let n = countOneBits(bits);
    var o = offset;
    for (; o < n && o < offset + need; o++) {
      grant(lane, (*walk).got, objectAddress(page, bitsWord * 32u + nthSetBit(bits, o)));
      (*walk).got += 1u;
    }
    (*walk).need = need - (o - offset);
  } else if ((*walk).working) {
    (*walk).chunk += 1u;
    if ((*walk).chunk * lanes >= BITMAP_WORDS) { (*walk).ordinal = NO_OBJECT; }
  }
  (*walk).remaining = gAdd((*walk).need);
  (*walk).working = (*walk).working && (*walk).remaining != 0u;
}

// Steps every group takes before the workgroup first asks whether any group is still working. The
// loop must exit on a workgroup-uniform value (WGSL takes the result of a subgroup operation as no
// more uniform than its argument, here a lane's own data), which costs a workgroup barrier; a loop with a barrier in it is what makes
// lavapipe slow (it runs a workgroup's subgroups as coroutines and switches at every barrier), so
// the common case runs these steps first, in a loop with a constant bound and no barrier. A group
// that finishes sooner runs the rest with nothing to do: a few subgroup operations per step, no
// atomics, no memory traffic.
const UNCHECKED_STEPS: u32 = min(${SLAB_UNCHECKED_STEPS}u, MAX_STEPS);

// Two loops, every group operation at their top level (in allocStep). The first has a constant
// bound; the second runs only when some group of the workgroup is still working after it, and exits
// when none is (gAnyInWorkgroup: uniform, so the loop may exit on it).
fn allocate(lane: u32, count: u32) {
  let rank = gExclusiveAdd(1u);
  let lanes = gAdd(1u);
  let key = gBroadcastFirst(lane) ^ params.salt;
  let remaining = gAdd(count);
  var walk = Walk(count, 0u, 0u, remaining, remaining != 0u, NO_OBJECT, 0u, MODE_PROBE, 0u);
  for (var s = 0u; s < UNCHECKED_STEPS; s++) { allocStep(lane, key, rank, lanes, &walk); }
  if (gAnyInWorkgroup(walk.working, 0u)) {
    for (var s = UNCHECKED_STEPS; s < MAX_STEPS; s++) {
      if (!gAnyInWorkgroup(walk.working, s - UNCHECKED_STEPS + 1u)) { break; }
      allocStep(lane, key, rank, lanes, &walk);
    }
  }
  finishLane(lane, walk.got, walk.atomics);
}

fn release(lane: u32, count: u32) {
  var atomics = 0u;
  for (var j = 0u; j < count; j++) {
    let addr = freeAddress(lane, j);
    if (!isObjectAddress(addr)) {
      refuseFree(addr);
      continue;
    }
    let page = addr / SLAB_WORDS;
    let slot = (addr % SLAB_WORDS) / OBJECT_WORDS;
    let bit = 1u << (slot % 32u);
    let old = atomicAnd(&bitmaps[page * BITMAP_WORDS + slot / 32u], ~bit);
    atomics += 1u;
    if ((old & bit) == 0u) { refuseFree(addr); }
  }
  finishFree(lane, atomics);
}
`;

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

// One loop, every group operation at its top level: the group's state (working, ordinal, chunk,
// mode, step, remaining) is the same in all its lanes, but WGSL cannot prove that, so the loop exits
// only when no group of the workgroup is working, and a group that is done runs the steps left with
// nothing to do (no atomics, no bitmap reads).
fn allocate(lane: u32, count: u32) {
  var need = count;
  var got = 0u;
  var atomics = 0u;
  let rank = gExclusiveAdd(1u);
  let lanes = gAdd(1u);
  let key = gBroadcastFirst(lane) ^ params.salt;
  var remaining = gAdd(need);
  var working = remaining != 0u;
  var ordinal = NO_OBJECT;  // the pool ordinal of the slab being scanned; NO_OBJECT: pick one
  var chunk = 0u;
  var mode = MODE_PROBE;
  var step = 0u;
  for (var s = 0u; s < MAX_STEPS; s++) {
    if (!gAnyInWorkgroup(working, s)) { break; }
    let picking = working && ordinal == NO_OBJECT;
    let elected = gElect();
    var mine = vec4u(NO_OBJECT, mode, step, 0u);
    if (picking && elected) {
      mine = pickSlab(key, mode, step);
      atomics += mine.w;
    }
    let pick = gBroadcastFirst4(mine);
    if (picking) {
      ordinal = pick.x;
      mode = pick.y;
      step = pick.z;
      chunk = 0u;
      working = ordinal != NO_OBJECT;
    }
    var page = 0u;
    var w = 0u;
    var word = FULL_WORD;
    if (working) {
      page = pool[ordinal];
      w = chunk * lanes + rank;
      if (w < BITMAP_WORDS) { word = atomicLoad(&bitmaps[page * BITMAP_WORDS + w]); }
    }
    let winner = gFirstWith(word != FULL_WORD);
    let source = select(winner, 0u, winner == NO_LANE);
    var gained = 0u;
    if (winner != NO_LANE && gLane == winner) {
      let want = lowestClearBits(word, remaining);
      gained = want & ~atomicOr(&bitmaps[page * BITMAP_WORDS + w], want);
      atomics += 1u;
    }
    let bits = gShuffle(gained, source);
    let bitsWord = gShuffle(w, source);
    let offset = gExclusiveAdd(need);
    if (winner != NO_LANE) {
      let n = countOneBits(bits);
      var o = offset;
      for (; o < n && o < offset + need; o++) {
        grant(lane, got, objectAddress(page, bitsWord * 32u + nthSetBit(bits, o)));
        got += 1u;
      }
      need -= o - offset;
    } else if (working) {
      chunk += 1u;
      if (chunk * lanes >= BITMAP_WORDS) { ordinal = NO_OBJECT; }
    }
    remaining = gAdd(need);
    working = working && remaining != 0u;
  }
  finishLane(lane, got, atomics);
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

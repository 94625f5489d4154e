/**
 * Request streams for the warp allocators, drawn from a seeded PRNG so every design sees the same
 * stream. A stream is one request word per lane (gpu/warp-allocator.ts laneRequest): a count of
 * objects, or "inactive" (the lane exits before allocating, as a lane masked off by divergence).
 */
import { laneRequest } from '../../gpu/warp-allocator.ts';
import type { Prng } from '../../util/prng.ts';

/** Each lane inactive with probability `inactiveShare`, else asking for 0..maxPerLane objects. */
export function mixedRequests(prng: Prng, lanes: number, maxPerLane: number, inactiveShare: number): Uint32Array {
  const words = new Uint32Array(lanes);
  for (let lane = 0; lane < lanes; lane++) {
    words[lane] = prng.chance(inactiveShare) ? laneRequest(0, false) : laneRequest(prng.int(maxPerLane + 1));
  }
  return words;
}

/**
 * In every aligned run of `groupLanes` lanes, exactly `active` lanes (at random places) ask for one
 * object each; the rest are inactive. The x axis of "cost vs. active lanes per warp".
 */
export function activeLanesRequests(prng: Prng, lanes: number, groupLanes: number, active: number): Uint32Array {
  const words = new Uint32Array(lanes).fill(laneRequest(0, false));
  for (let first = 0; first < lanes; first += groupLanes) {
    const size = Math.min(groupLanes, lanes - first);
    const places = Array.from({ length: size }, (_, i) => i);
    for (const place of prng.sample(places, active)) words[first + place] = laneRequest(1);
  }
  return words;
}

/**
 * Frees `count` of the `live` addresses, picked at random, handed to lanes in runs of 1..maxPerLane
 * (some lanes empty, so inactive). The number freed depends only on `count`, never on which
 * addresses a design happened to hand out.
 */
export function freeRequests(prng: Prng, live: readonly number[], count: number, maxPerLane: number): number[][] {
  const chosen = prng.sample(live, count);
  const lanes: number[][] = [];
  for (let next = 0; next < chosen.length; ) {
    const take = prng.chance(0.2) ? 0 : 1 + prng.int(maxPerLane);
    lanes.push(chosen.slice(next, next + take));
    next += take;
  }
  return lanes;
}

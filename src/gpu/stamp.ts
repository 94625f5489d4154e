/**
 * Object stamps: after a lane gets an object it writes a tag over every word of it, and the host
 * checks the arena afterwards. Two lanes handed overlapping objects would overwrite each other's
 * tags; a lane that reported an object it never wrote leaves the wrong bytes. The tag is
 * murmur3's 32-bit finaliser of (salt, lane, slot), computed identically here and in WGSL.
 */
import { mix32 } from '../util/prng.ts';

/** The tag lane `lane` writes over its `slot`-th object of a pass salted with `salt`; never 0. */
export function stampOf(salt: number, lane: number, slot: number, maxObjectsPerLane: number): number {
  return (mix32((salt ^ (lane * maxObjectsPerLane + slot)) >>> 0) | 1) >>> 0;
}

/** mix32 (util/prng.ts) and stampOf in WGSL (K is the program's objects-per-lane constant). */
export const STAMP_WGSL = /* wgsl */ `
fn mix32(value: u32) -> u32 {
  var x = value;
  x = (x ^ (x >> 16u)) * 0x85ebca6bu;
  x = (x ^ (x >> 13u)) * 0xc2b2ae35u;
  return x ^ (x >> 16u);
}

fn stampOf(lane: u32, slot: u32) -> u32 {
  return mix32(params.salt ^ (lane * K + slot)) | 1u;
}
`;

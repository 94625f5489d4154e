/**
 * Test-and-test-and-set on one arena word with bounded exponential backoff: the primitive under the
 * Spinlock and the futex hash-bucket locks. The word holds 0 (free) or the owner's cpu + 1, so the
 * owner of a held word is always known and a word held by a CPU that went offline can be taken back.
 *
 * Waiting spins on a plain Atomics.load (the "test" before the test-and-set: no cache-line
 * ping-pong while the word is held), and after each failed attempt backs off for twice as many
 * loads, up to BACKOFF_MAX (Anderson 1990; Linux's queued spinlocks avoid the herd instead, with
 * an MCS queue). Every SPIN_CHECK loads the waiter looks at the clock and at the owner's CPU state.
 */
import { LockTimeoutError, LockUsageError } from './errors.ts';

const BACKOFF_MAX = 1024;
/** Loads between looks at the clock and at the owner's state. */
export const SPIN_CHECK = 4096;

export interface SpinOutcome {
  /** Loads spent waiting. */
  spins: number;
  /** Whether the word was taken back from an owner that had gone offline. */
  recoveredFrom: number;
}

/**
 * Takes the word for `me` (cpu + 1), spinning. `ownerOffline(owner)` says whether the CPU
 * `owner − 1` is offline (then the word is taken over); `describe()` names the lock for errors.
 */
export function spinAcquire(
  w: Int32Array,
  index: number,
  me: number,
  shared: boolean,
  limitMs: number,
  ownerOffline: (owner: number) => boolean,
  describe: () => string,
): SpinOutcome {
  let spins = 0;
  let backoff = 1;
  let recoveredFrom = 0;
  let deadline = 0;
  for (;;) {
    const owner = Atomics.load(w, index);
    if (owner === 0) {
      if (Atomics.compareExchange(w, index, 0, me) === 0) return { spins, recoveredFrom };
      for (let i = 0; i < backoff; i++) Atomics.load(w, index);
      spins += backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
      continue;
    }
    if (owner === me) throw new LockUsageError(`${describe()}: CPU ${me - 1} already holds it (a re-entrant acquire would deadlock)`);
    if (!shared) throw new LockUsageError(`${describe()}: held by CPU ${owner - 1} over a non-shared arena, where no other thread can release it`);
    spins++;
    if (spins % SPIN_CHECK === 0) {
      if (ownerOffline(owner) && Atomics.compareExchange(w, index, owner, me) === owner) {
        recoveredFrom = owner;
        return { spins, recoveredFrom };
      }
      const now = performance.now();
      if (deadline === 0) deadline = now + limitMs;
      else if (now > deadline) {
        throw new LockTimeoutError(`${describe()}: still held by CPU ${owner - 1} after ${limitMs} ms of spinning; expected the holder to release it (is CPU ${owner - 1} alive?)`);
      }
    }
  }
}

/** Tries once; true when the word is now `me`'s. */
export function spinTry(w: Int32Array, index: number, me: number): boolean {
  return Atomics.compareExchange(w, index, 0, me) === 0;
}

/** Releases the word held by `me`; throws (changing nothing) if `me` does not hold it. */
export function spinRelease(w: Int32Array, index: number, me: number, describe: () => string): void {
  const old = Atomics.compareExchange(w, index, me, 0);
  if (old !== me) {
    throw new LockUsageError(`${describe()}: released by CPU ${me - 1}, which does not hold it (${old === 0 ? 'it is free' : `CPU ${old - 1} holds it`})`);
  }
}

/**
 * A futex mutex over one arena word, usable from every worker of the sync domain: Drepper's
 * three-state mutex ("Futexes Are Tricky", 2011, the third mutex):
 *
 *   word 0 = unlocked, 1 = locked, 2 = locked and a waiter may be asleep
 *
 *   acquire   CAS 0→1 (fast path); else spin SPIN_TRIES loads re-trying; else exchange in 2 and,
 *             while the old value was not 0, sleep in the futex table on "word is 2"
 *   release   decrement; if the old value was 2 (someone may sleep), store 0 and wake one waiter
 *
 * The owner's cpu + 1 is recorded beside the word (as a robust futex's TID), so that a lock whose
 * holder's CPU went offline is taken back (SyncDomain.offlineCpu, or a sleeper that times out and
 * finds the owner offline) and a release by a CPU that does not hold it is refused.
 *
 * A sleeping waiter costs a waiter record (futex.ts): on its stack or from the slab cache, by the
 * lock's placement. acquireAsync() sleeps with Atomics.waitAsync, for a thread that may not block.
 */
import type { SyncDomain } from './domain.ts';
import { LockTimeoutError, LockUsageError } from './errors.ts';
import type { WaitResult } from './futex.ts';
import { LockStatsRecord } from './lock-stats.ts';
import { L_OWNER, L_PLACEMENT, L_WORD, PLACEMENTS } from './types.ts';
import type { WaiterPlacement } from './types.ts';

/** Loads spent re-trying before going to sleep (glibc's adaptive mutex spins up to 100). */
export const SPIN_TRIES = 100;
/** One sleep's bound: a sleeper wakes this often to look at its owner's CPU state. */
const SLEEP_SLICE_MS = 100;
/** A waiter gives up (LockTimeoutError naming the holder) after this long. */
export const MUTEX_WAIT_LIMIT_MS = 30_000;

let blockingAllowed: boolean | undefined;
/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function canBlock(w: Int32Array): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(w, 0, 0x7fffffff, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

export class Mutex {
  readonly placement: WaiterPlacement;
  private readonly w: Int32Array;
  private readonly word: number;
  private readonly owner: number;
  private readonly me: number;
  private readonly stats: LockStatsRecord;

  constructor(
    private readonly domain: SyncDomain,
    readonly index: number,
    readonly name: string,
  ) {
    this.w = domain.w;
    this.word = domain.lockWord(index, L_WORD);
    this.owner = domain.lockWord(index, L_OWNER);
    this.me = domain.cpu + 1;
    this.stats = LockStatsRecord.ofLockRecord(domain.f64, domain.lockWord(index, 0));
    this.placement = PLACEMENTS[domain.w[domain.lockWord(index, L_PLACEMENT)] as number] ?? 'stack';
  }

  acquire(): void {
    if (Atomics.compareExchange(this.w, this.word, 0, 1) === 0) {
      this.w[this.owner] = this.me;
      this.stats.acquired();
      return;
    }
    this.acquireSlow();
  }

  tryAcquire(): boolean {
    if (Atomics.compareExchange(this.w, this.word, 0, 1) !== 0) return false;
    this.w[this.owner] = this.me;
    this.stats.acquired();
    return true;
  }

  release(): void {
    const owner = this.w[this.owner] as number;
    if (owner !== this.me) {
      throw new LockUsageError(`mutex '${this.name}': released by CPU ${this.me - 1}, which does not hold it (${owner === 0 ? 'no CPU holds it' : `CPU ${owner - 1} holds it`})`);
    }
    this.w[this.owner] = 0;
    if (Atomics.sub(this.w, this.word, 1) !== 1) {
      Atomics.store(this.w, this.word, 0);
      this.domain.futex.wake(this.word, 1);
    }
  }

  isHeld(): boolean {
    return Atomics.load(this.w, this.word) !== 0;
  }

  /** The spin phase of a contended acquire: the loads it took, negative if it did not get the lock. */
  private spin(): number {
    for (let i = 0; i < SPIN_TRIES; i++) {
      if (Atomics.load(this.w, this.word) === 0 && Atomics.compareExchange(this.w, this.word, 0, 1) === 0) return i + 1;
    }
    return -SPIN_TRIES;
  }

  private checkContended(): void {
    const owner = Atomics.load(this.w, this.owner);
    if (owner === this.me) throw new LockUsageError(`mutex '${this.name}': CPU ${this.me - 1} already holds it (a re-entrant acquire would deadlock)`);
    if (!this.domain.shared) throw new LockUsageError(`mutex '${this.name}': held over a non-shared arena, where no other thread can release it`);
  }

  /** After a sleep slice: takes the lock back from an offline owner; throws past the limit. */
  private checkStuck(start: number): void {
    const owner = Atomics.load(this.w, this.owner);
    if (owner !== 0 && this.domain.isOffline(owner - 1)) {
      this.domain.recoverLock(this.index, owner - 1);
      return;
    }
    if (performance.now() - start > MUTEX_WAIT_LIMIT_MS) {
      const who = owner === 0 ? 'no recorded owner' : `CPU ${owner - 1} (${this.domain.isOffline(owner - 1) ? 'offline' : 'online'})`;
      throw new LockTimeoutError(`mutex '${this.name}': still held by ${who} after ${MUTEX_WAIT_LIMIT_MS} ms; expected the holder to release it`);
    }
  }

  private acquireSlow(): void {
    this.checkContended();
    if (!canBlock(this.w)) throw new LockUsageError(`mutex '${this.name}': this thread may not block; use acquireAsync()`);
    const steps = this.contend();
    for (let step = steps.next(); step.done !== true; ) {
      step = steps.next(this.domain.futex.wait(this.word, 2, this.index, this.placement, SLEEP_SLICE_MS));
    }
  }

  /** acquire() for a thread that may not block: spins briefly, then sleeps with Atomics.waitAsync. */
  async acquireAsync(): Promise<void> {
    if (this.tryAcquire()) return;
    this.checkContended();
    const steps = this.contend();
    for (let step = steps.next(); step.done !== true; ) {
      step = steps.next(await this.domain.futex.waitAsync(this.word, 2, this.index, this.placement, SLEEP_SLICE_MS));
    }
  }

  /**
   * The contended acquisition, written once for both callers: spin, then (Drepper's mutex 2) mark the
   * word contended and sleep until it was free. Each yield asks the caller for one futex sleep of
   * SLEEP_SLICE_MS on the word (blocking or awaited) and receives its result.
   */
  private *contend(): Generator<void, void, WaitResult> {
    const start = performance.now();
    let sleeps = 0;
    let sleepMs = 0;
    const spins = this.spin();
    if (spins < 0) {
      while (Atomics.exchange(this.w, this.word, 2) !== 0) {
        sleeps++;
        const before = performance.now();
        const result = yield;
        sleepMs += performance.now() - before;
        if (result !== 'woken') this.checkStuck(start);
      }
    }
    this.w[this.owner] = this.me;
    this.stats.contended(Math.abs(spins), sleeps, performance.now() - start, sleepMs);
  }
}

/**
 * Takes the mutex at record word `rec` back from `cpu` if it holds it: clears the owner, frees the
 * word and wakes one sleeper if there may be one. Returns the sleepers woken, or −1 if `cpu` did
 * not hold it.
 */
export function recoverMutex(domain: SyncDomain, rec: number, cpu: number): number {
  if (Atomics.compareExchange(domain.w, rec + L_OWNER, cpu + 1, 0) !== cpu + 1) return -1;
  const old = Atomics.exchange(domain.w, rec + L_WORD, 0);
  return old === 2 ? domain.futex.wake(rec + L_WORD, 1) : 0;
}

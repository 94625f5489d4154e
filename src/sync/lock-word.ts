/**
 * A lock in one 32-bit word of the arena, so that every worker attached to a shared arena takes the
 * same lock. The protocol is Drepper's three-state futex mutex ("Futexes Are Tricky", 2011, mutex 2),
 * with the holder's name in the word (as a kernel's lockdep or a robust futex records the owner):
 *
 *   0 = unlocked;  token << 1 = held by `token`;  token << 1 | 1 = held, someone may be sleeping
 *
 *   acquire: CAS 0 → token << 1 (fast path); else spin a little re-trying; else set the waiter bit
 *            and Atomics.wait while the word stays as it is
 *   release: exchange 0; if the waiter bit was set, wake one sleeper
 *
 * The token comes from the LockOwner the lock was made with (the kernel's CPU slots, cpu-slots.ts:
 * a CPU slot and its attach epoch); without one it is 1, an anonymous holder. A holder that the
 * owner reports dead (its CPU was offlined: a worker that exited holding the lock, or the process
 * of which this arena is a copy) loses the lock to the next acquirer, which counts it in
 * `recovered` and tells the owner (LockOwner.recovered), then runs the lock's `repair`, if it has
 * one, before anything else uses what the lock guards (the dead holder may have stopped half-way
 * through its critical section). A live holder is waited for; only the
 * holder itself finding its own token is a re-entrant acquire, which raises instead of hanging.
 *
 * Like Linux's spinlocks it spins first; unlike them it then sleeps, because a JavaScript worker
 * cannot disable preemption and a holder descheduled by the host would make spinners burn a core.
 * The sleeping costs no kernel memory here: Atomics.wait parks the thread on the word itself.
 *
 * Over a plain (non-shared) ArrayBuffer there is one thread, so the lock uses plain loads and
 * stores, no Atomics at all (no other thread can see the word).
 *
 * Statistics: a lock made with a LockStatsRecord (lock-stats.ts, arena-resident, the same record
 * the sync domain's locks keep) counts every acquisition there: the fast path adds one to
 * `acquisitions` (one float64 increment while holding the lock), the slow path adds the spins,
 * sleeps, wait and sleep time of a contended one. The zone locks have one ('zones.lockstat'), and
 * so do the slab locks ('slab.lockstat', mm/slab/types.ts).
 */
import { InvariantError, KmemError } from '../util/errors.ts';
import type { LockStatsRecord } from './lock-stats.ts';

/** Spins before sleeping: enough to ride out a short critical section on another core. */
const SPIN_LIMIT = 128;
/** One sleep's bound, after which the waiter re-checks the word. */
const WAIT_SLICE_MS = 50;
/** A lock held longer than this is taken to be lost (a holder that died holding it). */
const WAIT_LIMIT_MS = 30_000;
/** The holder name of a lock made without a LockOwner. */
const ANON = 1;

export class LockTimeoutError extends KmemError {
  override name = 'LockTimeoutError';
}

/**
 * A lock whose holder died holding it, of a structure kmem cannot rebuild (made with repair
 * 'refuse'): raised at once, the lock left as it is, rather than waited on until LockTimeoutError.
 */
export class LockHolderDiedError extends KmemError {
  override name = 'LockHolderDiedError';
}

/**
 * What a thread that finds a lock's holder dead does: a function rebuilds what the lock guards
 * (run holding the lock, after taking it over); 'refuse' raises LockHolderDiedError and takes
 * nothing; null takes the lock over as it is.
 */
export type LockRepair = (() => void) | 'refuse' | null;

/** A lock stayed held by a live holder inside withoutWaiting(): the work should be retried later. */
export class LockBusyError extends KmemError {
  override name = 'LockBusyError';
}

/** How long an acquisition inside withoutWaiting() waits for a live holder before it gives up. */
const NO_WAIT_LIMIT_MS = 20;
/** Nesting depth of withoutWaiting() on this thread (module state is per thread). */
let noWaitDepth = 0;

/**
 * Runs `fn` so that a lock a live holder keeps for more than NO_WAIT_LIMIT_MS raises LockBusyError
 * instead of being waited for. For work that can be retried and whose thread must not block: the
 * main thread offlining a dead worker's CPU from worker.on('exit') cannot wait for a lock that
 * another dead worker holds, since that worker's own 'exit' (which would free the lock) is queued
 * behind it on the same thread. A lock of a dead holder is still taken over at once.
 */
export function withoutWaiting<T>(fn: () => T): T {
  noWaitDepth++;
  try {
    return fn();
  } finally {
    noWaitDepth--;
  }
}

/** Who takes locks, and whether a holder is gone (implemented by the kernel's CPU slots). */
export interface LockOwner {
  /** This thread's holder name: an integer in [1, 2^30). */
  token(): number;
  /** Whether the holder named `token` is gone for good, so its locks may be taken over. */
  isDead(token: number): boolean;
  /** A holder's name for messages ("CPU 2 (epoch 7, online)"). */
  describe(token: number): string;
  /** Told when a lock of a dead holder was taken over. */
  recovered?(lockIndex: number, token: number): void;
}

const anonymous: LockOwner = {
  token: () => ANON,
  isDead: () => false,
  describe: () => 'an anonymous holder',
};

let waitAllowed: boolean | undefined;

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function canBlock(words: Int32Array, index: number): boolean {
  if (waitAllowed === undefined) {
    try {
      Atomics.wait(words, index, 0x7fffffff, 0);
      waitAllowed = true;
    } catch {
      waitAllowed = false;
    }
  }
  return waitAllowed;
}

export class LockWord {
  /** Acquisitions that found the lock held (host-side, per wrapper). */
  contended = 0;
  /** Acquisitions that took the lock over from a dead holder (host-side, per wrapper). */
  recovered = 0;
  private readonly shared: boolean;
  /** The current slow acquisition's spins and sleeps (host-side scratch, this thread's only). */
  private spins = 0;
  private sleeps = 0;
  private sleepMs = 0;

  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
    private readonly owner: LockOwner = anonymous,
    /** Where acquisitions are counted (arena-resident), or null for none. */
    readonly stats: LockStatsRecord | null = null,
    /**
     * What a thread that finds the holder dead does (LockRepair): the holder may have died
     * half-way through its critical section, so a function rebuilds whatever the lock guards to a
     * consistent state, run by the thread that took the lock over, holding it, before its own
     * critical section (the zone's free lists: page-alloc-repair.ts); 'refuse' raises instead.
     */
    private readonly repair: LockRepair = null,
  ) {
    this.shared = typeof SharedArrayBuffer !== 'undefined' && words.buffer instanceof SharedArrayBuffer;
  }

  /**
   * Takes the lock. `whileWaiting`, if given, runs between tries while the lock is contended (and
   * the sleeps are then at most 1 ms): what a CPU that waits must keep doing, e.g. answer TLB
   * shootdowns, as Linux's lock waiters keep taking interrupts.
   */
  acquire(whileWaiting?: () => void): void {
    if (!this.tryAcquire()) this.acquireSlow(this.owner.token() << 1, whileWaiting);
  }

  /**
   * Takes the lock only if it is free now (a trylock, as Linux's mmap_read_trylock): whether it did.
   * Never waits, never takes a dead holder's lock over.
   */
  tryAcquire(): boolean {
    const me = this.owner.token() << 1;
    if (this.shared) {
      if (Atomics.compareExchange(this.words, this.index, 0, me) !== 0) return false;
    } else {
      if (this.words[this.index] !== 0) return false;
      this.words[this.index] = me;
    }
    if (this.stats !== null) this.stats.acquired();
    return true;
  }

  release(): void {
    if (!this.shared) {
      const old = this.words[this.index] as number;
      if (old === 0) throw this.notHeld();
      this.words[this.index] = 0;
      return;
    }
    const old = Atomics.exchange(this.words, this.index, 0);
    if (old === 0) throw this.notHeld();
    if ((old & 1) !== 0) Atomics.notify(this.words, this.index, 1);
  }

  /** Whether some thread holds the lock now (for assertions and `validate()`). */
  isHeld(): boolean {
    return this.load() !== 0;
  }

  /** The holder's token, 0 when the lock is free. */
  holder(): number {
    return this.load() >>> 1;
  }

  private load(): number {
    return this.shared ? Atomics.load(this.words, this.index) : (this.words[this.index] as number);
  }

  private notHeld(): InvariantError {
    return new InvariantError(`lock word ${this.index}: release of a lock that is not held (state 0, expected a holder)`);
  }

  /** The word holds `seen`: take it over if its holder is dead, else raise if it is this thread. */
  private takeOverOrRefuse(seen: number, me: number): boolean {
    const holder = seen >>> 1;
    if (this.owner.isDead(holder)) {
      if (this.repair === 'refuse') {
        throw new LockHolderDiedError(
          `lock word ${this.index}: held by ${this.owner.describe(holder)}, which died inside its critical section; what the lock guards may be half changed and kmem cannot rebuild it (expected the holder to release it)`,
        );
      }
      const swapped = this.shared ? Atomics.compareExchange(this.words, this.index, seen, me | (seen & 1)) === seen : ((this.words[this.index] = me), true);
      if (!swapped) return false;
      this.recovered++;
      this.owner.recovered?.(this.index, holder);
      if (typeof this.repair === 'function') this.repair();
      return true;
    }
    // Anonymous holders share one name, so on a shared arena their equal names prove nothing.
    if (holder === me >>> 1 && (!this.shared || holder !== ANON)) {
      throw new InvariantError(`lock word ${this.index}: already held by this thread, ${this.owner.describe(holder)} (re-entrant acquire)`);
    }
    if (!this.shared) {
      throw new InvariantError(`lock word ${this.index}: held by ${this.owner.describe(holder)}, which is alive, over a non-shared arena where no other thread can release it`);
    }
    return false;
  }

  private acquireSlow(me: number, whileWaiting?: () => void): void {
    this.contended++;
    if (this.stats === null) {
      this.acquireContended(me, whileWaiting);
      return;
    }
    const start = performance.now();
    this.spins = 0;
    this.sleeps = 0;
    this.sleepMs = 0;
    this.acquireContended(me, whileWaiting);
    this.stats.contended(this.spins, this.sleeps, performance.now() - start, this.sleepMs);
  }

  private acquireContended(me: number, whileWaiting?: () => void): void {
    if (!this.shared) {
      if (!this.takeOverOrRefuse(this.words[this.index] as number, me)) throw new InvariantError(`lock word ${this.index}: cannot be taken`);
      return;
    }
    for (let spin = 0; spin < SPIN_LIMIT; spin++) {
      if (whileWaiting !== undefined && (spin & 63) === 0) whileWaiting();
      this.spins++;
      const seen = Atomics.load(this.words, this.index);
      if (seen === 0) {
        if (Atomics.compareExchange(this.words, this.index, 0, me) === 0) return;
      } else if (this.takeOverOrRefuse(seen, me)) {
        return;
      }
    }
    const block = canBlock(this.words, this.index);
    const noWait = noWaitDepth > 0;
    const deadline = Date.now() + (noWait ? NO_WAIT_LIMIT_MS : WAIT_LIMIT_MS);
    for (;;) {
      whileWaiting?.();
      const seen = Atomics.load(this.words, this.index);
      if (seen === 0) {
        // Taken with the waiter bit: another sleeper may still be parked (Drepper's mutex 2).
        if (Atomics.compareExchange(this.words, this.index, 0, me | 1) === 0) return;
        continue;
      }
      if (this.takeOverOrRefuse(seen, me)) return;
      if (Date.now() > deadline) {
        if (noWait) throw new LockBusyError(`lock word ${this.index}: held by ${this.owner.describe(seen >>> 1)} for over ${NO_WAIT_LIMIT_MS} ms; left for a later try`);
        throw new LockTimeoutError(`lock word ${this.index}: still held by ${this.owner.describe(seen >>> 1)} after ${WAIT_LIMIT_MS} ms; expected it to release it (offlineCpu() a worker that died)`);
      }
      if ((seen & 1) === 0 && Atomics.compareExchange(this.words, this.index, seen, seen | 1) !== seen) continue;
      if (block) {
        const before = performance.now();
        Atomics.wait(this.words, this.index, seen | 1, whileWaiting === undefined && !noWait ? WAIT_SLICE_MS : 1);
        this.sleeps++;
        this.sleepMs += performance.now() - before;
      }
    }
  }
}

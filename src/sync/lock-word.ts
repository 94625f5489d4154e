/**
 * A lock in one 32-bit word of the arena, so that every worker attached to a shared arena takes the
 * same lock. The protocol is Drepper's three-state futex mutex ("Futexes Are Tricky", 2011, mutex 2):
 *
 *   0 = unlocked, 1 = locked, 2 = locked and someone may be sleeping on the word
 *
 *   acquire: CAS 0→1 (fast path); else spin a little re-trying; else exchange in 2 and
 *            Atomics.wait while the word stays 2
 *   release: decrement; if the old value was 2, store 0 and wake one sleeper
 *
 * Like Linux's spinlocks it spins first; unlike them it then sleeps, because a JavaScript worker
 * cannot disable preemption and a holder descheduled by the host would make spinners burn a core.
 * The sleeping costs no kernel memory here: Atomics.wait parks the thread on the word itself.
 *
 * Over a plain (non-shared) ArrayBuffer there is one thread, so finding the lock held means the
 * holder is this very thread: that is a re-entrant acquire, and it raises instead of hanging.
 */
import { InvariantError, KmemError } from '../util/errors.ts';

/** Spins before sleeping: enough to ride out a short critical section on another core. */
const SPIN_LIMIT = 128;
/** One sleep's bound, after which the waiter re-checks the word. */
const WAIT_SLICE_MS = 50;
/** A lock held longer than this is taken to be lost (a holder that died holding it). */
const WAIT_LIMIT_MS = 30_000;

export class LockTimeoutError extends KmemError {
  override name = 'LockTimeoutError';
}

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
  private readonly shared: boolean;

  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {
    this.shared = typeof SharedArrayBuffer !== 'undefined' && words.buffer instanceof SharedArrayBuffer;
  }

  acquire(): void {
    if (Atomics.compareExchange(this.words, this.index, 0, 1) === 0) return;
    this.acquireSlow();
  }

  release(): void {
    const old = Atomics.sub(this.words, this.index, 1);
    if (old === 1) return;
    if (old !== 2) {
      Atomics.add(this.words, this.index, 1);
      throw new InvariantError(`lock word ${this.index}: release of a lock that is not held (state ${old}, expected 1 or 2)`);
    }
    Atomics.store(this.words, this.index, 0);
    Atomics.notify(this.words, this.index, 1);
  }

  /** Whether some thread holds the lock now (for assertions and `validate()`). */
  isHeld(): boolean {
    return Atomics.load(this.words, this.index) !== 0;
  }

  private acquireSlow(): void {
    this.contended++;
    if (!this.shared) {
      throw new InvariantError(`lock word ${this.index}: already held by this thread (re-entrant acquire over a non-shared arena)`);
    }
    for (let spin = 0; spin < SPIN_LIMIT; spin++) {
      if (Atomics.load(this.words, this.index) === 0 && Atomics.compareExchange(this.words, this.index, 0, 1) === 0) {
        return;
      }
    }
    const block = canBlock(this.words, this.index);
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (Atomics.exchange(this.words, this.index, 2) !== 0) {
      if (Date.now() > deadline) {
        throw new LockTimeoutError(`lock word ${this.index}: still held after ${WAIT_LIMIT_MS} ms; expected its holder to release it`);
      }
      if (block) Atomics.wait(this.words, this.index, 2, WAIT_SLICE_MS);
    }
  }
}

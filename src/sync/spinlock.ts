/**
 * A spinlock over one arena word, usable from every worker of the sync domain: test-and-test-and-set
 * with exponential backoff (spin-word.ts). The word holds the owner's cpu + 1, so a lock whose
 * holder's CPU went offline is taken back, by offlineCpu() or by a spinner that finds it so.
 *
 * A waiter costs no kernel memory and never sleeps: it burns its CPU until the lock is free. That
 * is right for critical sections shorter than a sleep and wake-up (microseconds); the lock-memory
 * scenario measures where it stops being right. Not re-entrant: an acquire by the holder throws.
 */
import type { SyncDomain } from './domain.ts';
import { LockStatsRecord } from './lock-stats.ts';
import { spinAcquire, spinRelease } from './spin-word.ts';
import { L_DEAD_OWNER, L_RECOVERIES, L_WORD } from './types.ts';

/** A spinner gives up (LockTimeoutError naming the holder) after this long. */
export const SPIN_LIMIT_MS = 30_000;

export class Spinlock {
  private readonly w: Int32Array;
  private readonly word: number;
  private readonly me: number;
  private readonly stats: LockStatsRecord;
  private readonly describe: () => string;

  constructor(
    private readonly domain: SyncDomain,
    readonly index: number,
    readonly name: string,
  ) {
    this.w = domain.w;
    this.word = domain.lockWord(index, L_WORD);
    this.me = domain.cpu + 1;
    this.stats = LockStatsRecord.ofLockRecord(domain.f64, domain.lockWord(index, 0));
    this.describe = () => `spinlock '${name}'`;
  }

  acquire(): void {
    if (Atomics.compareExchange(this.w, this.word, 0, this.me) === 0) {
      this.stats.acquired();
      return;
    }
    this.acquireSlow();
  }

  tryAcquire(): boolean {
    if (Atomics.compareExchange(this.w, this.word, 0, this.me) !== 0) return false;
    this.stats.acquired();
    return true;
  }

  release(): void {
    spinRelease(this.w, this.word, this.me, this.describe);
  }

  /** Whether any CPU holds it now. */
  isHeld(): boolean {
    return Atomics.load(this.w, this.word) !== 0;
  }

  private acquireSlow(): void {
    const start = performance.now();
    const outcome = spinAcquire(this.w, this.word, this.me, this.domain.shared, SPIN_LIMIT_MS, (owner) => this.domain.isOffline(owner - 1), this.describe);
    if (outcome.recoveredFrom !== 0) {
      Atomics.add(this.w, this.domain.lockWord(this.index, L_RECOVERIES), 1);
      Atomics.store(this.w, this.domain.lockWord(this.index, L_DEAD_OWNER), outcome.recoveredFrom);
    }
    this.stats.contended(outcome.spins, 0, performance.now() - start);
  }
}

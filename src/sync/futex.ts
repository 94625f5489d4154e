/**
 * The futex hash table: where a waiter that must sleep on a lock word records itself, and where a
 * releaser finds whom to wake. As Linux's kernel/futex/: a waiter takes its hash bucket's lock,
 * re-checks that the lock word still holds the value it means to sleep on (else it returns at
 * once: the release it would wait for has happened), appends its waiter record (futex_q) to the
 * bucket's FIFO list and sleeps; a waker takes the bucket lock, unlinks the first `n` records with
 * the same key, marks them woken, drops the lock and notifies each one. FIFO per bucket means the
 * longest sleeper on a lock is woken first.
 *
 * A record is the CPU's fixed slot (placement 'stack', Linux's futex_q on the waiter's kernel
 * stack) or an object allocated per wait from the slab cache 'futex_q' (placement 'slab'). Either
 * way the thread sleeps in Atomics.wait on the record's own state word, so one waiter can be woken
 * without waking the others (V8 keeps its own wait list per word; that host memory is not kmem's).
 *
 * Bucket locks are spin words (spin-word.ts) and leaves of the lock order (types.ts).
 */
import { InvariantError } from '../util/errors.ts';
import type { SyncDomain } from './domain.ts';
import { spinAcquire, spinRelease } from './spin-word.ts';
import { BUCKET_WORDS, B_COUNT, B_HEAD, B_LOCK, B_TAIL, L_SLEEPERS, L_SLEEPERS_MAX, QState, Q_CPU, Q_KEY, Q_LOCK, Q_NEXT, Q_STATE, Q_WORDS } from './types.ts';
import type { WaiterPlacement } from './types.ts';

export type WaitResult = 'woken' | 'changed' | 'timeout';

/** Bucket-lock spin limit: a bucket lock is held for a few list operations only. */
const BUCKET_LOCK_LIMIT_MS = 10_000;

interface AsyncWaitResult {
  async: boolean;
  value: 'ok' | 'not-equal' | 'timed-out' | Promise<'ok' | 'timed-out'>;
}
/** Atomics.waitAsync (ES2024; Node 16+), typed here because the project's lib is ES2022. */
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number, t?: number) => AsyncWaitResult }).waitAsync;

export class FutexTable {
  private readonly w: Int32Array;
  private readonly shift: number;
  private readonly me: number;

  constructor(private readonly domain: SyncDomain) {
    this.w = domain.w;
    this.shift = 32 - Math.log2(domain.nrBuckets);
    this.me = domain.cpu + 1;
  }

  /** Bucket word index for lock word `key` (a multiplicative hash: Knuth's golden-ratio constant). */
  bucketOf(key: number): number {
    const hash = this.shift === 32 ? 0 : Math.imul(key, 0x9e3779b1) >>> this.shift;
    return this.domain.buckets + hash * BUCKET_WORDS;
  }

  private lockBucket(bucket: number): void {
    spinAcquire(this.w, bucket + B_LOCK, this.me, this.domain.shared, BUCKET_LOCK_LIMIT_MS, (o) => this.domain.isOffline(o - 1), () => `futex bucket ${(bucket - this.domain.buckets) / BUCKET_WORDS}`);
  }

  private unlockBucket(bucket: number): void {
    spinRelease(this.w, bucket + B_LOCK, this.me, () => `futex bucket ${(bucket - this.domain.buckets) / BUCKET_WORDS}`);
  }

  /** A waiter record for this CPU: its own slot, or a new slab object. */
  private takeRecord(placement: WaiterPlacement): number {
    if (placement === 'stack') return this.domain.stackQ + this.domain.cpu * Q_WORDS;
    const paddr = this.domain.futexQCache.alloc();
    if (paddr === null) throw new InvariantError('futex_q: the slab cache returned null without GFP.NORETRY');
    return paddr / 4;
  }

  private putRecord(q: number, placement: WaiterPlacement): void {
    this.w[q + Q_STATE] = QState.Idle;
    if (placement === 'slab') this.domain.futexQCache.free(q * 4);
  }

  /**
   * Enqueues a record for `key` if the word still holds `expected`; returns the record's word
   * index, or −1 when the value changed (no sleep needed).
   */
  private enqueue(key: number, expected: number, lockIndex: number, placement: WaiterPlacement): number {
    const q = this.takeRecord(placement);
    const w = this.w;
    w[q + Q_KEY] = key;
    w[q + Q_NEXT] = 0;
    w[q + Q_CPU] = this.domain.cpu;
    w[q + Q_LOCK] = lockIndex;
    Atomics.store(w, q + Q_STATE, QState.Waiting);
    const bucket = this.bucketOf(key);
    this.lockBucket(bucket);
    if (Atomics.load(w, key) !== expected) {
      this.unlockBucket(bucket);
      this.putRecord(q, placement);
      return -1;
    }
    const tail = w[bucket + B_TAIL] as number;
    if (tail === 0) w[bucket + B_HEAD] = q;
    else w[tail + Q_NEXT] = q;
    w[bucket + B_TAIL] = q;
    w[bucket + B_COUNT] = (w[bucket + B_COUNT] as number) + 1;
    const sleepers = Atomics.add(w, this.domain.lockWord(lockIndex, L_SLEEPERS), 1) + 1;
    const maxWord = this.domain.lockWord(lockIndex, L_SLEEPERS_MAX);
    if (sleepers > (w[maxWord] as number)) w[maxWord] = sleepers;
    this.unlockBucket(bucket);
    return q;
  }

  /** Unlinks `q` from `bucket` (bucket lock held); false if it is not listed there. */
  private unlink(bucket: number, q: number): boolean {
    const w = this.w;
    let prev = 0;
    let cur = w[bucket + B_HEAD] as number;
    for (let n = 0; cur !== 0; n++) {
      if (n > (w[bucket + B_COUNT] as number)) throw new InvariantError(`futex bucket ${bucket}: list longer than its count (a cycle)`);
      if (cur === q) {
        const next = w[q + Q_NEXT] as number;
        if (prev === 0) w[bucket + B_HEAD] = next;
        else w[prev + Q_NEXT] = next;
        if (w[bucket + B_TAIL] === q) w[bucket + B_TAIL] = prev;
        w[bucket + B_COUNT] = (w[bucket + B_COUNT] as number) - 1;
        Atomics.sub(w, this.domain.lockWord(w[q + Q_LOCK] as number, L_SLEEPERS), 1);
        return true;
      }
      prev = cur;
      cur = w[cur + Q_NEXT] as number;
    }
    return false;
  }

  /** After a timed-out sleep: leaves the queue unless a waker got there first. */
  private finish(q: number, key: number, placement: WaiterPlacement, timedOut: boolean): WaitResult {
    if (timedOut && Atomics.load(this.w, q + Q_STATE) === QState.Waiting) {
      const bucket = this.bucketOf(key);
      this.lockBucket(bucket);
      const removed = Atomics.load(this.w, q + Q_STATE) === QState.Waiting && this.unlink(bucket, q);
      this.unlockBucket(bucket);
      if (removed) {
        this.putRecord(q, placement);
        return 'timeout';
      }
    }
    this.putRecord(q, placement);
    return 'woken';
  }

  /** Sleeps while word `key` holds `expected`, at most `timeoutMs`, until woken. */
  wait(key: number, expected: number, lockIndex: number, placement: WaiterPlacement, timeoutMs: number): WaitResult {
    const q = this.enqueue(key, expected, lockIndex, placement);
    if (q < 0) return 'changed';
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return this.finish(q, key, placement, true);
      Atomics.wait(this.w, q + Q_STATE, QState.Waiting, left);
      if (Atomics.load(this.w, q + Q_STATE) !== QState.Waiting) return this.finish(q, key, placement, false);
    }
  }

  /** As wait(), without blocking the thread: for a main thread that may not block. */
  async waitAsync(key: number, expected: number, lockIndex: number, placement: WaiterPlacement, timeoutMs: number): Promise<WaitResult> {
    const q = this.enqueue(key, expected, lockIndex, placement);
    if (q < 0) return 'changed';
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return this.finish(q, key, placement, true);
      const result = waitAsync(this.w, q + Q_STATE, QState.Waiting, left);
      if (result.async) await result.value;
      if (Atomics.load(this.w, q + Q_STATE) !== QState.Waiting) return this.finish(q, key, placement, false);
    }
  }

  /** Wakes up to `n` waiters on `key`, oldest first; returns how many. */
  wake(key: number, n: number): number {
    const w = this.w;
    const bucket = this.bucketOf(key);
    if (Atomics.load(w, bucket + B_COUNT) === 0 && Atomics.load(w, bucket + B_LOCK) === 0) return 0;
    const woken: number[] = [];
    this.lockBucket(bucket);
    let cur = w[bucket + B_HEAD] as number;
    for (let guard = w[bucket + B_COUNT] as number; cur !== 0 && woken.length < n && guard >= 0; guard--) {
      const next = w[cur + Q_NEXT] as number;
      if (w[cur + Q_KEY] === key) {
        this.unlink(bucket, cur);
        Atomics.store(w, cur + Q_STATE, QState.Woken);
        woken.push(cur);
      }
      cur = next;
    }
    this.unlockBucket(bucket);
    for (const q of woken) Atomics.notify(w, q + Q_STATE);
    return woken.length;
  }

  /** Records of `cpu` (gone) taken out of every bucket, and any bucket lock it held released. */
  removeCpu(cpu: number): number {
    const w = this.w;
    let removed = 0;
    for (let b = 0; b < this.domain.nrBuckets; b++) {
      const bucket = this.domain.buckets + b * BUCKET_WORDS;
      Atomics.compareExchange(w, bucket + B_LOCK, cpu + 1, 0);
      if (Atomics.load(w, bucket + B_COUNT) === 0) continue;
      this.lockBucket(bucket);
      let cur = w[bucket + B_HEAD] as number;
      while (cur !== 0) {
        const next = w[cur + Q_NEXT] as number;
        if (w[cur + Q_CPU] === cpu) {
          this.unlink(bucket, cur);
          const stack = cur === this.domain.stackQ + cpu * Q_WORDS;
          w[cur + Q_STATE] = QState.Idle;
          if (!stack) this.domain.futexQCache.free(cur * 4);
          removed++;
        }
        cur = next;
      }
      this.unlockBucket(bucket);
    }
    return removed;
  }

  /** Waiter records listed now, over all buckets. */
  get waiters(): number {
    let total = 0;
    for (let b = 0; b < this.domain.nrBuckets; b++) total += Atomics.load(this.w, this.domain.buckets + b * BUCKET_WORDS + B_COUNT);
    return total;
  }

  /** Every listed record is waiting, hashes to its bucket, and each bucket's count matches its list. */
  validate(): void {
    const w = this.w;
    const seen = new Set<number>();
    for (let b = 0; b < this.domain.nrBuckets; b++) {
      const bucket = this.domain.buckets + b * BUCKET_WORDS;
      let n = 0;
      let last = 0;
      for (let cur = w[bucket + B_HEAD] as number; cur !== 0; cur = w[cur + Q_NEXT] as number) {
        if (seen.has(cur)) throw new InvariantError(`futex bucket ${b}: record at word ${cur} listed twice`);
        seen.add(cur);
        if (w[cur + Q_STATE] !== QState.Waiting) throw new InvariantError(`futex bucket ${b}: record at word ${cur} is listed but in state ${w[cur + Q_STATE]}, expected waiting`);
        if (this.bucketOf(w[cur + Q_KEY] as number) !== bucket) throw new InvariantError(`futex bucket ${b}: record for key ${w[cur + Q_KEY]} hashes elsewhere`);
        last = cur;
        if (++n > this.domain.cpus * 64) throw new InvariantError(`futex bucket ${b}: list does not end`);
      }
      if (n !== w[bucket + B_COUNT]) throw new InvariantError(`futex bucket ${b}: ${n} records listed, count says ${w[bucket + B_COUNT]}`);
      if (w[bucket + B_TAIL] !== last) throw new InvariantError(`futex bucket ${b}: tail is word ${w[bucket + B_TAIL]}, the list ends at ${last}`);
    }
  }
}

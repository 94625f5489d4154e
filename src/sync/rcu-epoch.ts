/**
 * Epoch-based reclamation (Fraser 2004; crossbeam-epoch): a reader pins the global epoch for the
 * length of its read section — stores (epoch << 1) | 1 in its CPU line on entry and 0 on exit —
 * and the global epoch advances by one only when every pinned CPU has pinned the current one. An
 * object unlinked while the epoch was e is freed once the epoch reaches e + 2 (crossbeam-epoch's
 * rule): by then every reader that could have seen it has unpinned.
 *
 * The read side costs two stores and a load, but no reader has a duty to report: a CPU that is
 * not pinned never holds anything up. A reader pinned for long (stalled inside its section) stops
 * the epoch one step past its own.
 */
import type { SyncDomain } from './domain.ts';
import { RcuUsageError } from './errors.ts';
import type { RcuFlavour } from './rcu-flavour.ts';
import { CPU_EPOCH, S_EPOCH } from './types.ts';

export class EpochFlavour implements RcuFlavour {
  readonly name = 'epoch';
  nesting = 0;
  private readonly w: Int32Array;
  private readonly global: number;
  private readonly local: number;

  constructor(private readonly domain: SyncDomain) {
    this.w = domain.w;
    this.global = domain.base + S_EPOCH;
    this.local = domain.cpuWord(domain.cpu, CPU_EPOCH);
  }

  /**
   * Pin: one Atomics.store of the global epoch into this CPU's word, which must be seen by an
   * updater before this reader loads anything it might free (the store-load order only a
   * sequentially consistent store gives). The nesting depth is host-side (safe to lose: a worker
   * that dies is offlined, which zeroes its word) and changes by constant stores in the outermost
   * section, as in rcu-qsbr.ts, so back-to-back sections carry no dependency through it.
   */
  readLock(): void {
    if (this.nesting === 0) {
      this.nesting = 1;
      Atomics.store(this.w, this.local, (Atomics.load(this.w, this.global) << 1) | 1);
    } else {
      this.nesting++;
    }
  }

  /** Unpin: one Atomics.store of 0 (JavaScript has no release-only store, which would be enough here). */
  readUnlock(): void {
    const n = this.nesting;
    if (n === 1) {
      this.nesting = 0;
      Atomics.store(this.w, this.local, 0);
    } else if (n > 1) {
      this.nesting = n - 1;
    } else {
      throw new RcuUsageError(`rcu_epoch: rcuReadUnlock on CPU ${this.domain.cpu} without a matching rcuReadLock`);
    }
  }

  quiescentState(): void {
    if (this.nesting !== 0) throw new RcuUsageError(`rcu_epoch: quiescent state claimed on CPU ${this.domain.cpu} inside a read section (nesting ${this.nesting})`);
  }

  online(): void {
    Atomics.store(this.w, this.local, 0);
  }

  offline(): void {
    if (this.nesting !== 0) throw new RcuUsageError(`rcu_epoch: CPU ${this.domain.cpu} went offline inside a read section`);
    Atomics.store(this.w, this.local, 0);
  }

  get counter(): number {
    return Atomics.load(this.w, this.global);
  }

  startGp(): number {
    return Atomics.load(this.w, this.global) + 2;
  }

  /** Advances the epoch from `e` if no CPU is pinned at another; true if it is now past `e`. */
  private tryAdvance(e: number): boolean {
    for (let c = 0; c < this.domain.cpus; c++) {
      const v = Atomics.load(this.w, this.domain.cpuWord(c, CPU_EPOCH));
      if ((v & 1) !== 0 && v >>> 1 !== e) return false;
    }
    Atomics.compareExchange(this.w, this.global, e, e + 1);
    return true;
  }

  gpDone(cookie: number): boolean {
    for (let step = 0; step < 2; step++) {
      const e = Atomics.load(this.w, this.global);
      if (e >= cookie || !this.tryAdvance(e)) break;
    }
    return Atomics.load(this.w, this.global) >= cookie;
  }

  holders(cookie: number): number[] {
    const e = Atomics.load(this.w, this.global);
    if (e >= cookie) return [];
    const out: number[] = [];
    for (let c = 0; c < this.domain.cpus; c++) {
      const v = Atomics.load(this.w, this.domain.cpuWord(c, CPU_EPOCH));
      if ((v & 1) !== 0 && v >>> 1 !== e) out.push(c);
    }
    return out;
  }
}

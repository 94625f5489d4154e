/**
 * Epoch-based reclamation (Fraser 2004; crossbeam-epoch): a reader pins the global epoch for the
 * length of its read section — stores (epoch << 1) | 1 in its CPU line on entry and 0 on exit —
 * and the global epoch advances by one only when every pinned CPU has pinned the current one. An
 * object unlinked while the epoch was e is freed once the epoch reaches e + 2 (crossbeam-epoch's
 * rule): by then every reader that could have seen it has unpinned.
 *
 * The read side costs two Atomics operations (a store to pin, an exchange to unpin: see readLock
 * for why the pin needs no load of the global epoch), but no reader has a duty to report: a CPU
 * that is not pinned never holds anything up. A reader pinned for long (stalled inside its
 * section) stops the epoch one step past its own.
 */
import type { SyncDomain } from './domain.ts';
import { RcuUsageError } from './errors.ts';
import type { RcuFlavour } from './rcu-flavour.ts';
import { CPU_EPOCH, S_EPOCH } from './types.ts';

/** A CPU's epoch word (CPU_EPOCH): bit 0 pinned, bits 1…30 the epoch it is pinned at, bit 31 REFRESH. */
const PINNED = 1;
/**
 * Set in a pinned CPU's word by an updater that found it pinned at an older epoch (tryAdvance):
 * the reader's unpin sees it and reads the global epoch again before its next pin.
 */
const REFRESH = 1 << 31;
const EPOCH_BITS = 0x7ffffffe;
/** The global epoch stops here, after 2^30 − 2 advances: a CPU word holds 30 bits of it (advancing past it throws). */
export const EPOCH_MAX = EPOCH_BITS >>> 1;

/** The epoch a CPU word is pinned at, or -1 if it is not pinned. */
function pinnedEpoch(word: number): number {
  return (word & PINNED) === 0 ? -1 : (word & EPOCH_BITS) >>> 1;
}

export class EpochFlavour implements RcuFlavour {
  readonly name = 'epoch';
  nesting = 0;
  private readonly w: Int32Array;
  private readonly global: number;
  private readonly local: number;
  /** What an outermost pin stores: (this reader's copy of the global epoch << 1) | PINNED. */
  private pinWord = PINNED;

  constructor(private readonly domain: SyncDomain) {
    this.w = domain.w;
    this.global = domain.base + S_EPOCH;
    this.local = domain.cpuWord(domain.cpu, CPU_EPOCH);
  }

  /**
   * Pin: one Atomics.store of (e << 1) | PINNED into this CPU's word, where e is this reader's
   * copy of the global epoch G, read when the CPU went online and again whenever an updater asks
   * for it (the REFRESH bit, seen by the unpin). The store is sequentially consistent, so an
   * updater that scans the CPU words after it sees the pin before this reader loads anything it
   * might free.
   *
   * Why a stale copy is sound (every access below is an Atomics operation, so the executions are
   * sequentially consistent, ECMA-262 §29): e was read from G before the pin, and G only grows,
   * so e ≤ G at the pin. An object the section reaches was unlinked after the pin, and retired at
   * r = G read after its unlink, so e ≤ r. It is freed once G ≥ r + 2, which needs the advance
   * from r + 1; that advance loads G = r + 1 before it scans the CPU words, so its scan runs after
   * the unlink, hence after the pin, finds this CPU pinned at e ≠ r + 1 and refuses until the
   * section ends. A stale copy only makes the epoch wait for this reader to catch up, as a reader
   * pinned at an old epoch does in crossbeam-epoch; the updater that finds it so sets REFRESH.
   * What must not replace the copy is a plain (non-atomic) read of G at each pin: an unordered
   * read may return a value written after this reader's own later pin store (§29 permits such
   * causality violations for racy reads), and a pin at an epoch newer than its section blocks
   * nothing.
   *
   * The nesting depth is host-side (safe to lose: a worker that dies is offlined, which zeroes
   * its word) and changes by constant stores in the outermost section, as in rcu-qsbr.ts.
   */
  readLock(): void {
    if (this.nesting === 0) {
      this.nesting = 1;
      Atomics.store(this.w, this.local, this.pinWord);
    } else {
      this.nesting++;
    }
  }

  /**
   * Unpin: one Atomics.exchange of 0, which returns the word as the updaters left it: with
   * REFRESH set, this reader reads the global epoch again (an Atomics.load, once per advance that
   * found it behind). JavaScript has no release-only store, which would be enough for the unpin.
   */
  readUnlock(): void {
    const n = this.nesting;
    if (n === 1) {
      this.nesting = 0;
      if (Atomics.exchange(this.w, this.local, 0) < 0) this.refresh(); // REFRESH is the sign bit
    } else if (n > 1) {
      this.nesting = n - 1;
    } else {
      throw new RcuUsageError(`rcu_epoch: rcuReadUnlock on CPU ${this.domain.cpu} without a matching rcuReadLock`);
    }
  }

  /** Reads the global epoch into the word the next outermost pins store. */
  private refresh(): void {
    this.pinWord = ((Atomics.load(this.w, this.global) << 1) & EPOCH_BITS) | PINNED;
  }

  quiescentState(): void {
    if (this.nesting !== 0) throw new RcuUsageError(`rcu_epoch: quiescent state claimed on CPU ${this.domain.cpu} inside a read section (nesting ${this.nesting})`);
  }

  online(): void {
    Atomics.store(this.w, this.local, 0);
    this.refresh();
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

  /**
   * Advances the epoch from `e` if no CPU is pinned at another; true if it is now past `e`. Every
   * CPU found pinned behind is asked to refresh its copy of the epoch (REFRESH, by a
   * compareExchange, so that a word its reader changed meanwhile is left alone).
   */
  private tryAdvance(e: number): boolean {
    let behind = 0;
    for (let c = 0; c < this.domain.cpus; c++) {
      const word = this.domain.cpuWord(c, CPU_EPOCH);
      const v = Atomics.load(this.w, word);
      const pinned = pinnedEpoch(v);
      if (pinned === -1 || pinned === e) continue;
      behind++;
      if ((v & REFRESH) === 0) Atomics.compareExchange(this.w, word, v, v | REFRESH);
    }
    if (behind > 0) return false;
    if (e >= EPOCH_MAX) throw new RcuUsageError(`rcu_epoch: the global epoch is ${e}; expected below ${EPOCH_MAX}, the most a CPU word holds`);
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
      const pinned = pinnedEpoch(Atomics.load(this.w, this.domain.cpuWord(c, CPU_EPOCH)));
      if (pinned !== -1 && pinned !== e) out.push(c);
    }
    return out;
  }
}

/**
 * Quiescent-state-based RCU (liburcu's QSBR flavour, Desnoyers et al. 2012): a reader pays nothing
 * on its read side — rcuReadLock/rcuReadUnlock only count nesting in the worker, for checks — and
 * instead reports, between read sections, that it holds no reference (quiescentState(): copy the
 * global counter into its CPU line). A grace period is a bump of the global counter to a cookie;
 * it has ended when every CPU taking part has reported a counter ≥ the cookie, or is offline
 * (counter word 0: liburcu's rcu_thread_offline, an extended quiescent state).
 *
 * The cost moves to the reader's duty to report: a CPU online for QSBR that stops reporting (a
 * stalled reader, a busy loop without quiescentState()) holds up every grace period.
 */
import type { SyncDomain } from './domain.ts';
import { RcuUsageError } from './errors.ts';
import type { RcuFlavour } from './rcu-flavour.ts';
import { CPU_QSBR, CpuState, S_QSBR_CTR, S_QSBR_DONE } from './types.ts';

export class QsbrFlavour implements RcuFlavour {
  readonly name = 'qsbr';
  nesting = 0;
  private readonly w: Int32Array;
  private readonly ctr: number;
  private readonly done: number;
  private readonly local: number;

  constructor(private readonly domain: SyncDomain) {
    this.w = domain.w;
    this.ctr = domain.base + S_QSBR_CTR;
    this.done = domain.base + S_QSBR_DONE;
    this.local = domain.cpuWord(domain.cpu, CPU_QSBR);
  }

  /**
   * The read side writes no shared memory (liburcu's QSBR read side is empty): it keeps this
   * worker's nesting depth for the checks (host-side, safe to lose: see types.ts). The outermost
   * lock and unlock store the constants 1 and 0 instead of nesting ± 1, so that back-to-back read
   * sections carry no data dependency through the field (a load-add-store per call would chain each
   * section to the last one through a store-to-load forward); only nested sections count.
   */
  readLock(): void {
    if (this.nesting === 0) this.nesting = 1;
    else this.nesting++;
  }

  readUnlock(): void {
    const n = this.nesting;
    if (n === 1) this.nesting = 0;
    else if (n > 1) this.nesting = n - 1;
    else throw this.unbalanced();
  }

  private unbalanced(): RcuUsageError {
    return new RcuUsageError(`rcu_qsbr: rcuReadUnlock on CPU ${this.domain.cpu} without a matching rcuReadLock`);
  }

  quiescentState(): void {
    if (this.nesting !== 0) throw new RcuUsageError(`rcu_qsbr: quiescent state reported on CPU ${this.domain.cpu} inside a read section (nesting ${this.nesting})`);
    Atomics.store(this.w, this.local, Atomics.load(this.w, this.ctr));
  }

  online(): void {
    Atomics.store(this.w, this.local, Atomics.load(this.w, this.ctr));
  }

  offline(): void {
    if (this.nesting !== 0) throw new RcuUsageError(`rcu_qsbr: CPU ${this.domain.cpu} went offline inside a read section`);
    Atomics.store(this.w, this.local, 0);
  }

  get counter(): number {
    return Atomics.load(this.w, this.ctr);
  }

  startGp(): number {
    return Atomics.add(this.w, this.ctr, 1) + 1;
  }

  gpDone(cookie: number): boolean {
    if (Atomics.load(this.w, this.done) >= cookie) return true;
    const mine = Atomics.load(this.w, this.local);
    if (this.nesting === 0 && mine !== 0) Atomics.store(this.w, this.local, Atomics.load(this.w, this.ctr));
    if (this.holders(cookie).length > 0) return false;
    for (let old = Atomics.load(this.w, this.done); old < cookie; old = Atomics.load(this.w, this.done)) {
      if (Atomics.compareExchange(this.w, this.done, old, cookie) === old) break;
    }
    return true;
  }

  holders(cookie: number): number[] {
    const out: number[] = [];
    for (let c = 0; c < this.domain.cpus; c++) {
      const v = Atomics.load(this.w, this.domain.cpuWord(c, CPU_QSBR));
      if (v !== 0 && v < cookie && this.domain.cpuState(c) !== CpuState.Offline) out.push(c);
    }
    return out;
  }
}

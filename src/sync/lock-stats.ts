/**
 * Contention statistics of one lock, kept in its arena record as float64 (types.ts, LockStat), so
 * that every worker's acquisitions add up in one place. They are written by the acquirer while it
 * holds the lock, so a plain read-modify-write is exact; readers in other workers may see a count
 * one behind, never a torn one (float64 stores of an aligned slot are not split by V8 on x86-64 or
 * arm64, and a late reader only misses the newest event).
 */
import { L_STATS, LockStat } from './types.ts';

export class LockStatsRecord {
  /** float64 index of the first statistic. */
  readonly at: number;

  constructor(
    private readonly f64: Float64Array,
    lockWordIndex: number,
  ) {
    this.at = (lockWordIndex + L_STATS) / 2;
  }

  /** One uncontended acquisition (the fast path's only bookkeeping). */
  acquired(): void {
    this.f64[this.at + LockStat.acquisitions] = (this.f64[this.at + LockStat.acquisitions] as number) + 1;
  }

  /** One contended acquisition: `spins` loads, `sleeps` futex sleeps taking `sleepMs`, `waitMs` from first miss to owning it. */
  contended(spins: number, sleeps: number, waitMs: number, sleepMs = 0): void {
    const f = this.f64;
    const a = this.at;
    f[a + LockStat.acquisitions] = (f[a + LockStat.acquisitions] as number) + 1;
    f[a + LockStat.contended] = (f[a + LockStat.contended] as number) + 1;
    f[a + LockStat.spins] = (f[a + LockStat.spins] as number) + spins;
    f[a + LockStat.sleeps] = (f[a + LockStat.sleeps] as number) + sleeps;
    f[a + LockStat.waitMs] = (f[a + LockStat.waitMs] as number) + waitMs;
    f[a + LockStat.sleepMs] = (f[a + LockStat.sleepMs] as number) + sleepMs;
    if (waitMs > (f[a + LockStat.waitMsMax] as number)) f[a + LockStat.waitMsMax] = waitMs;
  }
}

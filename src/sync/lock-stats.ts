/**
 * Contention statistics of one lock, kept in the arena as LOCK_STAT_COUNT float64 slots (types.ts,
 * LockStat order), so that every worker's acquisitions add up in one place. The sync domain's locks
 * keep them in their lock record (at L_STATS); the kernel's own locks (zone and slab locks, whose
 * LockWords exist before any sync domain) in the boot-reserved regions 'zones.lockstat' and
 * 'slab.lockstat'. They are written by
 * the acquirer while it holds the lock, so a plain read-modify-write is exact; readers in other
 * workers may see a count one behind, never a torn one (float64 stores of an aligned slot are not
 * split by V8 on x86-64 or arm64, and a late reader only misses the newest event). The writes keep
 * the invariants below at every step (acquisitions before contended, waitMs before waitMsMax and
 * sleepMs), so validate() holds for a reader racing with the holder too.
 *
 * Invariants: every slot finite and ≥ 0; contended ≤ acquisitions; waitMsMax ≤ waitMs;
 * sleepMs ≤ waitMs; sleeps = 0 and spins = 0 when contended = 0.
 */
import { InvariantError } from '../util/errors.ts';
import { L_STATS, LOCK_STAT_COUNT, LockStat, type LockStatName } from './types.ts';

export type LockStatValues = Record<LockStatName, number>;

export class LockStatsRecord {
  constructor(
    private readonly f64: Float64Array,
    /** float64 index of the first statistic. */
    readonly at: number,
  ) {
    if (!Number.isInteger(at) || at < 0 || at + LOCK_STAT_COUNT > f64.length) {
      throw new InvariantError(`lock statistics at float64 ${at}: expected a whole record inside the ${f64.length}-slot view`);
    }
  }

  /** The record inside a sync-domain lock record that starts at 32-bit word `lockWordIndex`. */
  static ofLockRecord(f64: Float64Array, lockWordIndex: number): LockStatsRecord {
    return new LockStatsRecord(f64, (lockWordIndex + L_STATS) / 2);
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
    f[a + LockStat.sleepMs] = (f[a + LockStat.sleepMs] as number) + Math.min(sleepMs, waitMs);
    if (waitMs > (f[a + LockStat.waitMsMax] as number)) f[a + LockStat.waitMsMax] = waitMs;
  }

  values(): LockStatValues {
    const out = {} as LockStatValues;
    for (const [name, slot] of Object.entries(LockStat)) out[name as LockStatName] = this.f64[this.at + slot] as number;
    return out;
  }

  reset(): void {
    this.f64.fill(0, this.at, this.at + LOCK_STAT_COUNT);
  }

  /** Checks the invariants above; `name` is the lock's name for the message. */
  validate(name: string): void {
    const v = this.values();
    for (const [stat, value] of Object.entries(v)) {
      if (!Number.isFinite(value) || value < 0) throw new InvariantError(`lock '${name}': ${stat} = ${value}; expected a finite count ≥ 0`);
    }
    if (v.contended > v.acquisitions) throw new InvariantError(`lock '${name}': contended ${v.contended} > acquisitions ${v.acquisitions}; expected contended ≤ acquisitions`);
    if (v.waitMsMax > v.waitMs) throw new InvariantError(`lock '${name}': waitMsMax ${v.waitMsMax} > waitMs ${v.waitMs}; expected the longest wait within the total`);
    if (v.sleepMs > v.waitMs) throw new InvariantError(`lock '${name}': sleepMs ${v.sleepMs} > waitMs ${v.waitMs}; expected the time asleep within the time waiting`);
    if (v.contended === 0 && (v.spins !== 0 || v.sleeps !== 0)) throw new InvariantError(`lock '${name}': ${v.spins} spins and ${v.sleeps} sleeps with no contended acquisition; expected 0`);
  }
}

/** The lock_stat columns kmem keeps, in the order of Linux's /proc/lock_stat, then kmem's own two. */
const TEXT_COLUMNS = ['contentions', 'waittime-max', 'waittime-total', 'waittime-avg', 'acquisitions', 'spins', 'sleeps'] as const;

/**
 * Locks' statistics as text laid out like Linux's /proc/lock_stat (version 0.4,
 * Documentation/locking/lockstat.rst): one line per lock, its name right-aligned before a colon,
 * counts in 14-wide columns, times in microseconds with two decimals. Linux's columns kmem does not
 * keep (con-bounces, acq-bounces, waittime-min, the hold times) are left out; spins and sleeps are
 * kmem's own, last. Locks are listed as given.
 */
export function lockStatText(rows: readonly ({ name: string } & LockStatValues)[]): string {
  const width = 14;
  const nameWidth = Math.max(40, ...rows.map((r) => r.name.length + 1));
  const rule = '-'.repeat(nameWidth + (width + 1) * TEXT_COLUMNS.length);
  const us = (ms: number): string => (ms * 1000).toFixed(2).padStart(width);
  const count = (n: number): string => String(n).padStart(width);
  const lines = [
    'lock_stat version 0.4 (kmem: the columns it keeps, times in us)',
    rule,
    `${'class name'.padStart(nameWidth)} ${TEXT_COLUMNS.map((c) => c.padStart(width)).join(' ')}`,
    rule,
  ];
  for (const r of rows) {
    const avgMs = r.contended === 0 ? 0 : r.waitMs / r.contended;
    lines.push(`${`${r.name}:`.padStart(nameWidth)} ${[count(r.contended), us(r.waitMsMax), us(r.waitMs), us(avgMs), count(r.acquisitions), count(r.spins), count(r.sleeps)].join(' ')}`);
  }
  return lines.join('\n');
}

/**
 * Locks and RCU, uncontended, in ns per operation: lock+unlock of each lock against a bare
 * Atomics.compareExchange/store pair on the same kind of memory (the least a lock over shared
 * memory can do); the RCU read side (rcuReadLock+rcuReadUnlock) of both flavours against an empty
 * loop iteration, and epoch pin+unpin against one Atomics round trip (an Atomics.add), beside bare
 * floors (two Atomics.store; a store and a load back; the load and two stores of an older pin). The
 * self-timed group measures the wait/notify hand-off between two workers: ping-pong round trips ÷ 2,
 * through the futex table (enqueue a record, sleep on it, wake it) against bare Atomics.wait/notify.
 */
import { Kernel } from '../src/mm/kernel.ts';
import { SyncDomain } from '../src/sync/domain.ts';
import { LockStatsRecord } from '../src/sync/lock-stats.ts';
import { LockWord } from '../src/sync/lock-word.ts';
import { LOCK_STAT_COUNT } from '../src/sync/types.ts';
import { Rcu } from '../src/sync/rcu.ts';
import { runTsWorker } from '../test/helpers/worker.ts';
import type { BenchCase, BenchOptions, BenchResult } from './harness.ts';

export const SYNC_HANDOFF_GROUP = 'sync: wait/notify hand-off between two workers (ns per hand-off)';

function domain(): SyncDomain {
  return SyncDomain.create(Kernel.boot({ ramBytes: '4MiB', shared: true, cpus: 2 }));
}

function sharedWords(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(64));
}

export function syncCases(): BenchCase[] {
  const lockGroup = 'sync: uncontended lock+unlock';
  const readGroup = 'sync: RCU read side vs an empty loop iteration';
  const pinGroup = 'sync: epoch pin+unpin vs one Atomics round trip';
  const rcuLoop = (flavour: 'qsbr' | 'epoch') => () => {
    const rcu = new Rcu(domain(), flavour);
    return (n: number) => {
      let x = 0;
      for (let i = 0; i < n; i++) {
        rcu.readLock();
        x ^= i;
        rcu.readUnlock();
      }
      return x;
    };
  };
  return [
    {
      group: lockGroup,
      name: 'baseline: Atomics.compareExchange 0→1 + Atomics.store 0',
      baseline: true,
      unit: 'lock+unlock',
      make: () => {
        const w = sharedWords();
        return (n) => {
          let x = 0;
          for (let i = 0; i < n; i++) {
            x += Atomics.compareExchange(w, 3, 0, 1);
            Atomics.store(w, 3, 0);
          }
          return x;
        };
      },
    },
    ...(['spinlock', 'mutex'] as const).map((kind) => ({
      group: lockGroup,
      name: `kmem ${kind} (owner recorded, statistics in the arena)`,
      unit: 'lock+unlock',
      make: () => {
        const sync = domain();
        const lock = kind === 'spinlock' ? sync.spinlock('bench') : sync.mutex('bench');
        return (n: number) => {
          for (let i = 0; i < n; i++) {
            lock.acquire();
            lock.release();
          }
          return lock.isHeld();
        };
      },
    })),
    ...([false, true] as const).map((counted) => ({
      group: lockGroup,
      name: counted ? "the kernel's LockWord with arena statistics (zone and slab locks)" : "the kernel's LockWord without statistics (the VM's locks)",
      unit: 'lock+unlock',
      make: () => {
        const stats = counted ? new LockStatsRecord(new Float64Array(new SharedArrayBuffer(LOCK_STAT_COUNT * 8)), 0) : null;
        const lock = new LockWord(sharedWords(), 3, undefined, stats);
        return (n: number) => {
          for (let i = 0; i < n; i++) {
            lock.acquire();
            lock.release();
          }
          return lock.isHeld();
        };
      },
    })),
    {
      group: readGroup,
      name: 'baseline: empty loop iteration (x ^= i)',
      baseline: true,
      unit: 'read section',
      make: () => (n) => {
        let x = 0;
        for (let i = 0; i < n; i++) x ^= i;
        return x;
      },
    },
    { group: readGroup, name: 'QSBR rcuReadLock+rcuReadUnlock', unit: 'read section', make: rcuLoop('qsbr') },
    { group: readGroup, name: 'epoch rcuReadLock+rcuReadUnlock (pin+unpin)', unit: 'read section', make: rcuLoop('epoch') },
    {
      group: pinGroup,
      name: 'baseline: one Atomics.add on shared memory',
      baseline: true,
      unit: 'op',
      make: () => {
        const w = sharedWords();
        return (n) => {
          let x = 0;
          for (let i = 0; i < n; i++) x ^= Atomics.add(w, 5, 1);
          return x;
        };
      },
    },
    // Floors beside the pin, each bare on shared memory. V8 (Node 20) calls a builtin for every
    // Atomics operation (AtomicsLoad, AtomicsStore, AtomicsAdd…: none is inlined into optimised
    // code), and the call costs about the same whatever the operation, so a floor is about how many
    // Atomics calls a pin+unpin makes. rcu-epoch.ts argues why its pin needs no load of the global
    // epoch (it pins at a per-reader copy, refreshed every PINS_PER_EPOCH_REFRESH pins).
    ...(
      [
        ['floor: two Atomics.store, bare (the pin and the unpin)', (w: Int32Array, i: number) => { Atomics.store(w, 6, 3); Atomics.store(w, 6, 0); return i; }],
        ['a write and a read back: Atomics.store + Atomics.load, bare', (w: Int32Array, i: number) => { Atomics.store(w, 6, i); return Atomics.load(w, 6); }],
        ['floor of a pin that loads the global epoch: Atomics.load + two Atomics.store, bare', (w: Int32Array, i: number) => { Atomics.store(w, 6, (Atomics.load(w, 5) << 1) | 1); Atomics.store(w, 6, 0); return i; }],
      ] as const
    ).map(([name, op]) => ({
      group: pinGroup,
      name,
      unit: 'op',
      make: () => {
        const w = sharedWords();
        return (n: number) => {
          let x = 0;
          for (let i = 0; i < n; i++) x ^= op(w, i);
          return x;
        };
      },
    })),
    { group: pinGroup, name: 'epoch pin+unpin', unit: 'op', make: rcuLoop('epoch') },
  ];
}

interface PingReport {
  elapsedMs: number;
  rounds: number;
}

/** Ping-pong between two workers: each hand-off wakes the other side. */
export async function syncHandoffResults(options: BenchOptions): Promise<BenchResult[]> {
  const rounds = options.smoke ? 200 : 20_000;
  const url = new URL('./workers/sync-pingpong-worker.ts', import.meta.url);
  const rows: [string, number][] = [];
  for (const mode of ['atomics', 'futex'] as const) {
    const kernel = Kernel.boot({ ramBytes: '4MiB', shared: true, cpus: 3 });
    const sync = SyncDomain.create(kernel);
    const turn = kernel.kzalloc(64) as number;
    const reports = await Promise.all(
      [0, 1].map((side) => runTsWorker<PingReport>(url, { mode, side, rounds, buffer: kernel.buffer, syncPaddr: sync.paddr, turnPaddr: turn })),
    );
    const elapsedMs = Math.max(...reports.map((r) => r.elapsedMs));
    rows.push([mode === 'atomics' ? 'baseline: bare Atomics.wait/notify on one word' : 'kmem futex table: wait (record enqueued) / wake (FIFO)', (elapsedMs * 1e6) / (2 * rounds)]);
  }
  const base = rows[0]?.[1] ?? NaN;
  return rows.map(([name, nsPerOp]) => ({ group: SYNC_HANDOFF_GROUP, name, unit: 'hand-off', nsPerOp, relative: nsPerOp / base, iterations: 2 * rounds }));
}
